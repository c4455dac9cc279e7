#!/usr/bin/env python3
"""bench/load/load.py: a bounded load test of one `aox serve` on loopback (issue 5).

Drives P processes (default 1,000, test-counter@1.0) with concurrent schedule and
compute requests from C client processes of T threads each (keep-alive connections),
for D seconds, and reports:

  - throughput (requests/s by kind) and p50/p99/max latency per kind;
  - answers by status: 2xx, deliberate 503 (backpressure, with Retry-After), and
    anything else (errors: the run fails if there are any);
  - the node's RSS over time (sampled from /proc every 0.5 s), to show it is bounded;
  - the node's worker and eviction counters from /metrics (lines matching aox_worker
    or evict), when present.

  load.py AOX_BINARY [--procs P] [--clients C] [--threads T] [--seconds D]
                     [--memory-budget SIZE] [--workers N] [--no-sync]

Everything runs on 127.0.0.1 with a temporary data directory, removed at the end.
Standard library only.
"""
import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    """(VmRSS, RssAnon, RssFile) in KiB. RssFile is mostly LMDB's memory-mapped data
    file (grows with the data written); RssAnon is the heap: states, queues, buffers."""
    out = {"VmRSS:": 0, "RssAnon:": 0, "RssFile:": 0}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                k = line.split(":")[0] + ":"
                if k in out:
                    out[k] = int(line.split()[1])
    except OSError:
        pass
    return out["VmRSS:"], out["RssAnon:"], out["RssFile:"]


def pct(xs, q):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


class Conn:
    def __init__(self, port):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def req(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        for attempt in range(2):
            try:
                self.c.request(method, path, body=data)
                r = self.c.getresponse()
                payload = r.read()
                if (r.getheader("connection") or "").lower() == "close":
                    self.c.close()
                return r.status, r.getheader("retry-after"), payload
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.c.close()
                if attempt:
                    raise
        raise RuntimeError("unreachable")


def spawn_range(port, lo, hi, out):
    c = Conn(port)
    for i in range(lo, hi):
        st, _ra, body = c.req("POST", "/spawn", {"type": "Process",
                                                  "execution-device": "test-counter@1.0",
                                                  "name": "load-%d" % i, "pages": 4})
        if st != 200:
            raise RuntimeError("spawn %d -> %d %r" % (i, st, body[:200]))
        out[i] = json.loads(body)["process"]


def client_proc(port, pids, seconds, threads, seed, q):
    """One client process: T threads until the deadline; sends its figures on q."""
    lat = {"schedule": [], "compute": []}
    status = {}
    lock = threading.Lock()
    deadline = time.time() + seconds

    def run(tid):
        rng = random.Random(seed * 1000 + tid)
        c = Conn(port)
        n = 0
        my_lat = {"schedule": [], "compute": []}
        my_status = {}
        while time.time() < deadline:
            pid = rng.choice(pids)
            n += 1
            msg = {"value": 1, "client": seed, "thread": tid, "n": n}
            t0 = time.perf_counter()
            st, ra, body = c.req("POST", "/%s/schedule" % pid, msg)
            my_lat["schedule"].append(time.perf_counter() - t0)
            my_status[("schedule", st)] = my_status.get(("schedule", st), 0) + 1
            if st == 503:
                time.sleep(min(float(ra or 1), 1.0) * 0.05)   # back off a little
                continue
            if st != 200 or rng.random() < 0.5:
                continue
            slot = json.loads(body)["slot"]
            t0 = time.perf_counter()
            st, ra, body = c.req("GET", "/%s/compute?slot=%d" % (pid, slot))
            my_lat["compute"].append(time.perf_counter() - t0)
            my_status[("compute", st)] = my_status.get(("compute", st), 0) + 1
            if st == 503:
                time.sleep(0.05)
        with lock:
            for k in lat:
                lat[k].extend(my_lat[k])
            for k, v in my_status.items():
                status[k] = status.get(k, 0) + v

    ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put((lat, status))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("aox")
    ap.add_argument("--procs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--memory-budget", default="4MiB")
    ap.add_argument("--workers", default="0")
    ap.add_argument("--no-sync", action="store_true")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="aox-load-")
    port = free_port()
    log = open(os.path.join(tmp, "node.log"), "wb")
    cmd = [os.path.abspath(a.aox), "serve", "--data", os.path.join(tmp, "data"),
           "--port", str(port), "--clock-fixed-ms", "1700000000000", "--log-level", "warn",
           "--memory-budget", a.memory_budget, "--workers", a.workers,
           "--worker-idle", "10s", "--http-max-connections", "512"]
    if a.no_sync:
        cmd.append("--store-no-sync")
    node = subprocess.Popen(cmd, stdout=log, stderr=log)
    rss = []
    stop = threading.Event()
    failed = False
    try:
        for _ in range(200):
            try:
                if Conn(port).req("GET", "/healthz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("node did not start")

        def sampler():
            t0 = time.time()
            while not stop.is_set():
                rss.append((time.time() - t0, rss_kib(node.pid)))
                stop.wait(0.5)
        st = threading.Thread(target=sampler)
        st.start()

        t0 = time.time()
        pids = [None] * a.procs
        per = (a.procs + 7) // 8
        sp = [threading.Thread(target=spawn_range, args=(port, i, min(a.procs, i + per), pids))
              for i in range(0, a.procs, per)]
        for t in sp:
            t.start()
        for t in sp:
            t.join()
        t_spawn = time.time() - t0
        print("load: spawned %d processes in %.1f s (%.0f/s, 8 connections)"
              % (a.procs, t_spawn, a.procs / t_spawn), flush=True)

        q = mp.Queue()
        shares = [pids[c::a.clients] for c in range(a.clients)]
        t0 = time.time()
        ps = [mp.Process(target=client_proc, args=(port, shares[c], a.seconds, a.threads,
                                                   c + 1, q)) for c in range(a.clients)]
        for p in ps:
            p.start()
        lat = {"schedule": [], "compute": []}
        status = {}
        for _ in ps:
            l, s = q.get()
            for k in lat:
                lat[k].extend(l[k])
            for k, v in s.items():
                status[k] = status.get(k, 0) + v
        for p in ps:
            p.join()
        elapsed = time.time() - t0
        stop.set()
        st.join()

        print("load: %d clients x %d threads, %.1f s, %d processes, memory budget %s%s"
              % (a.clients, a.threads, elapsed, a.procs, a.memory_budget,
                 ", no fsync" if a.no_sync else ", durable"))
        for k in ("schedule", "compute"):
            xs = lat[k]
            print("  %-8s %7d requests  %8.1f/s   p50 %7.2f ms   p99 %7.2f ms   max %7.1f ms"
                  % (k, len(xs), len(xs) / elapsed, pct(xs, 0.5) * 1e3, pct(xs, 0.99) * 1e3,
                     (max(xs) if xs else 0) * 1e3))
        ok = sum(v for (k, s), v in status.items() if 200 <= s < 300)
        busy = sum(v for (k, s), v in status.items() if s == 503)
        errs = {("%s %d" % (k, s)): v for (k, s), v in status.items()
                if not (200 <= s < 300) and s != 503}
        print("  answers: %d ok, %d deliberate 503, errors: %s" % (ok, busy, errs or "none"))
        if errs:
            failed = True
        if rss:
            step = max(1, len(rss) // 12)
            print("  node RSS (MiB, total/anon) over time: " +
                  " ".join("%.0fs:%.1f/%.1f" % (t, v[0] / 1024, v[1] / 1024)
                           for t, v in rss[::step]))
            for name, i in (("total", 0), ("anon (heap)", 1), ("file (LMDB map)", 2)):
                vals = [v[i] for _t, v in rss]
                print("  node RSS %-16s start %6.1f MiB   max %6.1f MiB   end %6.1f MiB"
                      % (name, vals[0] / 1024, max(vals) / 1024, vals[-1] / 1024))
        try:
            _s, _r, body = Conn(port).req("GET", "/metrics")
            lines = [ln for ln in body.decode().splitlines()
                     if not ln.startswith("#") and ("worker" in ln or "evict" in ln or
                                                    "live_states" in ln or "group" in ln)]
            if lines:
                print("  node counters:\n    " + "\n    ".join(lines[:24]))
        except OSError:
            pass
    finally:
        stop.set()
        node.send_signal(signal.SIGTERM)
        try:
            node.wait(timeout=30)
        except subprocess.TimeoutExpired:
            node.kill()
        log.close()
        if failed:
            with open(os.path.join(tmp, "node.log"), "rb") as f:
                print(f.read()[-2000:].decode(errors="replace"), file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
