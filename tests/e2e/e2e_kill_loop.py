#!/usr/bin/env python3
"""Kill loop (issue 5, point 4): `kill -9` an `aox serve` at random points of a load
run of schedule + compute, at least 20 times, restarting it on the same data
directory each time; then check that

  - every acknowledged assignment is in the final store, unchanged (slot, hash-chain,
    message-id, timestamp);
  - every result the node served during the run, and every result of the final
    store, equals the result of an uninterrupted reference run (same messages in the
    same order, fixed clock);
  - the node found its snapshots after restarts (some compute started from one).

  e2e_kill_loop.py AOX_BINARY [KILLS]

The kill points come from a seeded RNG (AOX_KILL_SEED, default 20261124; printed) so
a failing run can be replayed. Clients: one thread per process group, each process
with at most one schedule in flight, so message k of a process is slot k+1 in both
runs; an unacknowledged schedule is retried after the restart (scheduling is
idempotent by message ID).
"""
import http.client
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_core  # noqa: E402
from e2e_core import Node, check  # noqa: E402

NPROCS = 8
NCLIENTS = 4
SNAP_EVERY = "5"


def defn(i):
    return {"type": "Process", "execution-device": "test-counter@1.0", "name": "kill-%d" % i,
            "pages": 4}


def message(i, k):
    return {"value": k + 1, "seq": k, "proc": i, "note": "p%d m%d" % (i, k)}


class Target:
    """Where the node currently listens; clients wait here across restarts."""

    def __init__(self):
        self.cv = threading.Condition()
        self.port = None
        self.gen = 0

    def set(self, port):
        with self.cv:
            self.port = port
            self.gen += 1
            self.cv.notify_all()

    def down(self):
        with self.cv:
            self.port = None

    def wait(self, stop):
        with self.cv:
            while self.port is None and not stop.is_set():
                self.cv.wait(0.1)
            return self.port


def call(port, method, path, body=None, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        c.request(method, path, body=data)
        r = c.getresponse()
        payload = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, payload
    finally:
        c.close()


def client(target, stop, pids, idx_list, acks, served, errors, lock, rng_seed):
    rng = random.Random(rng_seed)
    next_k = {i: 0 for i in idx_list}
    while True:
        if stop.is_set():
            return
        i = rng.choice(idx_list)
        k = next_k[i]
        port = target.wait(stop)
        if port is None:
            return
        try:
            st, _h, body = call(port, "POST", "/%s/schedule" % pids[i], message(i, k))
        except OSError:
            time.sleep(0.02)
            continue                       # node died: retry the same message
        if st == 503:
            time.sleep(0.05)
            continue
        if st != 200:
            with lock:
                errors.append("schedule p%d m%d -> %d %r" % (i, k, st, body[:200]))
            time.sleep(0.05)
            continue
        asg = json.loads(body)
        with lock:
            acks[(i, k)] = asg
        next_k[i] = k + 1
        if k % 3 == 2:
            try:
                st, h, body = call(port, "GET", "/%s/compute?slot=%d" % (pids[i], asg["slot"]))
            except OSError:
                continue
            if st == 200:
                with lock:
                    served.append((i, asg["slot"], body, h.get("x-aox-compute", "")))
            elif st not in (503, 504):
                with lock:
                    errors.append("compute p%d slot %d -> %d %r" % (i, asg["slot"], st,
                                                                    body[:200]))


def all_results(node, pid, last):
    out = {}
    for s in range(0, last + 1):
        st, _h, body = node.req("GET", "/%s/compute?slot=%d" % (pid, s))
        check(st == 200, "compute %s slot %d -> %d" % (pid[:8], s, st))
        out[s] = body
    return out


def schedule_of(node, pid):
    got, frm = {}, 0
    while True:
        page = node.json("GET", "/%s/schedule?from=%d" % (pid, frm))
        for a in page["assignments"]:
            got[a["slot"]] = a
        if not page["more"]:
            return got
        frm = page["next"]


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    e2e_core.AOX = os.path.abspath(sys.argv[1])
    kills_wanted = int(sys.argv[2]) if len(sys.argv) == 3 else 20
    seed = int(os.environ.get("AOX_KILL_SEED", "20261124"))
    print("kill loop: seed %d, %d kills, %d processes, %d clients" %
          (seed, kills_wanted, NPROCS, NCLIENTS), flush=True)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="aox-kill-")
    t0 = time.time()
    try:
        data = os.path.join(tmp, "run")
        extra = ["--snapshot-every", SNAP_EVERY, "--worker-idle", "300ms"]
        node = Node(data, extra).start()
        pids = [node.json("POST", "/spawn", defn(i))["process"] for i in range(NPROCS)]
        target, stop, lock = Target(), threading.Event(), threading.Lock()
        acks, served, errors = {}, [], []
        target.set(node.port)
        threads = []
        for c in range(NCLIENTS):
            idx = [i for i in range(NPROCS) if i % NCLIENTS == c]
            t = threading.Thread(target=client, args=(target, stop, pids, idx, acks, served,
                                                      errors, lock, seed * 100 + c))
            t.start()
            threads.append(t)

        kills = 0
        while kills < kills_wanted:
            time.sleep(rng.uniform(0.05, 0.6))          # a random point of the load
            node.stop(sig=signal.SIGKILL)
            target.down()
            kills += 1
            node = Node(data, extra).start()
            target.set(node.port)
        time.sleep(0.3)                                  # some load after the last kill
        stop.set()
        for t in threads:
            t.join()
        node.stop(sig=signal.SIGKILL)
        t_load = time.time() - t0
        node = Node(data, extra).start()
        check(not errors, "no error answers during the kill loop: %r" % errors[:5])

        # counts per process: acknowledged messages are dense from seq 0
        count = {i: 0 for i in range(NPROCS)}
        for (i, k) in acks:
            count[i] = max(count[i], k + 1)
        for i in range(NPROCS):
            check(all((i, k) in acks for k in range(count[i])),
                  "process %d: acknowledged messages are dense" % i)
        print("kill loop: %d kills, %d acknowledged assignments, %d results served, "
              "%.1f s" % (kills, len(acks), len(served), t_load), flush=True)
        check(len(acks) >= 40, "the load made progress across kills (%d acks)" % len(acks))

        # reference: the same messages, same order, no kills (no fsync needed)
        ref = Node(os.path.join(tmp, "ref"), ["--snapshot-every", SNAP_EVERY,
                                              "--store-no-sync"]).start()
        ref_pids = [ref.json("POST", "/spawn", defn(i))["process"] for i in range(NPROCS)]
        check(ref_pids == pids, "same process IDs")
        for i in range(NPROCS):
            for k in range(count[i]):
                ref.json("POST", "/%s/schedule" % pids[i], message(i, k))

        from_snapshot = 0
        for i in range(NPROCS):
            pid = pids[i]
            cur = node.json("GET", "/%s/slot" % pid)["current"]
            check(cur == count[i], "process %d: current slot %d == %d acknowledged"
                  % (i, cur, count[i]))
            got = schedule_of(node, pid)
            want = schedule_of(ref, pid)
            for k in range(count[i]):
                a = acks[(i, k)]
                check(got.get(a["slot"]) == a, "acknowledged assignment p%d m%d (slot %d) "
                      "survives unchanged" % (i, k, a["slot"]))
                check(want.get(a["slot"]) == a, "p%d slot %d equals the reference run's"
                      % (i, a["slot"]))
            mine = all_results(node, pid, cur)
            theirs = all_results(ref, pid, cur)
            diff = [s for s in mine if mine[s] != theirs.get(s)]
            check(not diff, "process %d: results equal the reference (differ at %r)"
                  % (i, diff[:5]))
            for (j, slot, body, _how) in served:
                if j == i:
                    check(body == theirs.get(slot), "result of p%d slot %d served during "
                          "the loop equals the reference" % (i, slot))
        for (_i, _s, _b, how) in served:
            if "from=snapshot" in how:
                from_snapshot += 1
        check(from_snapshot > 0, "after restarts, computing started from a snapshot "
              "(%d times)" % from_snapshot)
        ref.stop()
        node.stop()
        print("kill loop: compared %d results with the reference, %d served results; "
              "total %.1f s" % (sum(count.values()) + NPROCS, len(served), time.time() - t0))
    finally:
        e2e_core.cleanup(tmp, "seed was %d (AOX_KILL_SEED)" % seed)
    return e2e_core.verdict("kill loop: ok")


if __name__ == "__main__":
    sys.exit(main())
