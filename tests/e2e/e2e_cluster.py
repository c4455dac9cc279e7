#!/usr/bin/env python3
"""Issue 6 end-to-end tests: delegated compute between nodes on loopback, node
processes (/~name/), node identity, cluster mode. Usage: e2e_cluster.py AOX
delegate|names|cluster|busy, or e2e_cluster.py AOX rcluster STORE-URI (a Redis Cluster,
through tests/store/redis_cluster_run.sh)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import http.client

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_core as core  # noqa: E402
from e2e_core import Node, check, free_port  # noqa: E402

DELEGATED = {"execution-device": "delegated@1.0", "delegate-device": "test-counter@1.0"}


def url(n):
    return "http://127.0.0.1:%d" % n.port


def spawn_and_schedule(d, definition, values):
    pid = d.json("POST", "/spawn", definition)["process"]
    for v in values:
        d.json("POST", "/%s/schedule" % pid, {"value": v})
    return pid


def scenario_delegate(tmp):
    p = lambda name, extra=(): Node(os.path.join(tmp, name), extra).start()  # noqa: E731
    p1, p2 = p("p1"), p("p2")
    os.environ["AOX_TEST_HOOKS"] = "1"
    liar = p("liar", ["--test-forge-results", "lie"])
    tamper = p("tamper", ["--test-forge-results", "tamper"])
    del os.environ["AOX_TEST_HOOKS"]

    # the forge hook is refused without AOX_TEST_HOOKS=1
    try:
        p("refused", ["--test-forge-results", "lie"])
        check(False, "--test-forge-results without AOX_TEST_HOOKS=1 must not start")
    except RuntimeError:
        pass

    # identity: every node has an address in /~meta@1.0/info
    info = p1.json("GET", "/~meta@1.0/info")
    check(re.fullmatch(r"[A-Za-z0-9_-]{43}", info.get("address", "")) is not None,
          "info carries the node address")
    check(info["address"] != p2.json("GET", "/~meta@1.0/info")["address"],
          "two nodes, two addresses")

    # verify=2 on two honest peers: agreement, the result is the device's result
    d1 = p("d1", ["--peers", "%s,%s" % (url(p1), url(p2))])
    pid = spawn_and_schedule(d1, dict(DELEGATED, verify=2), [1, 2, 3, 4, 5])
    r = d1.json("GET", "/%s/compute/5" % pid)
    check(r.get("output", {}).get("counter") == 15 and r["output"].get("seen") == 5,
          "delegated verify=2 computes the counter: %r" % r)
    check(re.fullmatch(r"[A-Za-z0-9_-]{43}", r.get("state-digest", "")) is not None,
          "delegated result carries the peers' state digest")
    # a booting delegate-device (test-counter `boot: 1`): slot 0 computes the definition
    # on the peers (verified like any slot), so the outputs match a local run from
    # slot 0 on (its value 7 counted once)
    boot = {"boot": 1, "value": 7}
    bpid = spawn_and_schedule(d1, dict(DELEGATED, verify=2, **boot), [1, 2, 3])
    lpid = spawn_and_schedule(p1, dict({"execution-device": "test-counter@1.0"}, **boot),
                              [1, 2, 3])
    for slot in range(4):
        got = d1.json("GET", "/%s/compute/%d" % (bpid, slot)).get("output") or {}
        want = p1.json("GET", "/%s/compute/%d" % (lpid, slot))["output"]
        check(got == want, "booting delegated slot %d: %r, local %r" % (slot, got, want))
    check(want["counter"] == 13 and want["seen"] == 4, "the local run booted: %r" % want)
    dlie = p("dboot-liar", ["--peers", "%s,%s" % (url(p1), url(liar))])
    lie_pid = spawn_and_schedule(dlie, dict(DELEGATED, verify=2, **boot), [1])
    st, _h, b = dlie.req("GET", "/%s/compute/0" % lie_pid)
    check(st == 502 and b"delegated slot 0: peers disagree" in b,
          "a lying peer is caught at the boot: %d %r" % (st, b[:300]))
    dlie.stop()
    # peers restarted (their imported assignments are in memory only): resent, same answer
    p1.stop()
    restart_in_place(p1)
    for v in (6, 7):
        d1.json("POST", "/%s/schedule" % pid, {"value": v})
    r7 = d1.json("GET", "/%s/compute/7" % pid)
    check(r7.get("output", {}).get("counter") == 28, "after a peer restart, slot 7: %r" % r7)
    # dry runs: verify=2 peers run the message on the current state and keep nothing
    dry = {"Tags": [{"name": "Value", "value": "100"}], "Data": ""}
    for _ in range(2):
        st, _h, b = d1.req("POST", "/dry-run?process-id=%s" % pid, dry)
        got = json.loads(b)
        check(st == 200 and got.get("Output", {}).get("counter") == 128
              and got["Output"].get("slot") == 8,
              "delegated dry run on the state at slot 7: %d %r" % (st, b[:300]))
    check(d1.json("GET", "/%s/slot" % pid) == {"current": 7}, "a dry run schedules nothing")
    d1.json("POST", "/%s/schedule" % pid, {"value": 8})
    r8 = d1.json("GET", "/%s/compute/8" % pid)
    check(r8.get("output", {}).get("counter") == 36,
          "the peers kept nothing of the dry runs: %r" % r8)

    # a local reference: the same messages on test-counter directly give the same
    # counters (the fold differs: it starts from the pid)
    ref = spawn_and_schedule(p2, {"execution-device": "test-counter@1.0"}, [1, 2, 3, 4, 5])
    rr = p2.json("GET", "/%s/compute/5" % ref)
    check(rr["output"]["counter"] == r["output"]["counter"], "same counter as a local run")

    # a lying peer (valid signature over a wrong result) is caught by verify=2
    d2 = p("d2", ["--peers", "%s,%s" % (url(p2), url(liar))])
    pid2 = spawn_and_schedule(d2, dict(DELEGATED, verify=2), [1, 2])
    st, _h, body = d2.req("GET", "/%s/compute/2" % pid2)
    check(st == 502 and b"disagree" in body and url(liar).encode() in body
          and url(p2).encode() in body,
          "verify=2 with a lying peer fails naming both peers: %d %r" % (st, body[:400]))
    st, _h, body = d2.req("GET", "/%s/compute/2" % pid2)
    check(st == 502, "a failed delegated slot is not cached (asked again: %d)" % st)
    # a dry run is checked like a slot: the liar's answer is a disagreement
    fresh = d2.json("POST", "/spawn", dict(DELEGATED, verify=2, note="dry"))["process"]
    st, _h, body = d2.req("POST", "/dry-run?process-id=%s" % fresh, dry)
    check(b"disagree" in body and url(liar).encode() in body,
          "dry run with a lying peer: %d %r" % (st, body[:300]))

    # a tampered answer fails its signature; with verify=1 the next peer answers
    d3 = p("d3", ["--peers", url(tamper)])
    pid3 = spawn_and_schedule(d3, dict(DELEGATED), [1])
    st, _h, body = d3.req("GET", "/%s/compute/1" % pid3)
    check(st == 502 and b"signature" in body and url(tamper).encode() in body,
          "a tampered answer is rejected: %d %r" % (st, body[:300]))
    d4 = p("d4", ["--peers", "%s,%s" % (url(tamper), url(p2))])
    pid4 = spawn_and_schedule(d4, dict(DELEGATED), [4, 5])
    r = d4.json("GET", "/%s/compute/2" % pid4)
    check(r.get("output", {}).get("counter") == 9, "tampering peer skipped: %r" % r)

    # a dead peer: retried on the other; alone, a clear error naming it
    dead = "http://127.0.0.1:%d" % free_port()
    d5 = p("d5", ["--peers", "%s,%s" % (dead, url(p2)), "--delegate-timeout", "2s"])
    pid5 = spawn_and_schedule(d5, dict(DELEGATED), [2, 3])
    r = d5.json("GET", "/%s/compute/2" % pid5)
    check(r.get("output", {}).get("counter") == 5, "dead peer: retried on the other: %r" % r)
    d6 = p("d6", ["--peers", dead, "--delegate-timeout", "2s"])
    pid6 = spawn_and_schedule(d6, dict(DELEGATED), [2])
    st, _h, body = d6.req("GET", "/%s/compute/1" % pid6)
    check(st == 502 and b"0 of 1 peers answered" in body and dead.encode() in body,
          "no peer answers: clear error: %d %r" % (st, body[:300]))
    # verify=2 with one live peer: not enough answers
    pid7 = spawn_and_schedule(d5, dict(DELEGATED, verify=2), [1])
    st, _h, body = d5.req("GET", "/%s/compute/1" % pid7)
    check(st == 502 and b"1 of 2 peers answered" in body, "verify=2, one live peer: %r" % body[:300])

    # the peer table is bounded: --delegate-peer-max 8 assignments
    pb = p("pb", ["--delegate-peer-max", "8"])
    db = p("db", ["--peers", url(pb)])
    pa = spawn_and_schedule(db, dict(DELEGATED, note="a"), [1, 2, 3, 4, 5])
    check(db.json("GET", "/%s/compute/5" % pa)["output"]["counter"] == 15, "a on pb")
    check(peer_stats(pb) == (1, 5, 0), "pb holds a: %r" % (peer_stats(pb),))
    pbb = spawn_and_schedule(db, dict(DELEGATED, note="b"), [10, 20, 30, 40, 50])
    check(db.json("GET", "/%s/compute/5" % pbb)["output"]["counter"] == 150, "b on pb")
    check(peer_stats(pb) == (1, 5, 1), "10 > 8: a (least recently used) dropped: %r"
          % (peer_stats(pb),))
    db.json("POST", "/%s/schedule" % pa, {"value": 6})
    r = db.json("GET", "/%s/compute/6" % pa)
    check(r["output"]["counter"] == 21, "a again after its eviction (resent): %r" % r)
    check(peer_stats(pb) == (1, 6, 2), "then b dropped: %r" % (peer_stats(pb),))
    pc = spawn_and_schedule(db, dict(DELEGATED, note="c"), list(range(1, 10)))
    st, _h, body = db.req("GET", "/%s/compute/9" % pc)
    check(st == 502 and b"needs more than 8" in body and b"delegate-peer-max" in body,
          "one process over the cap: a clear error: %d %r" % (st, body[:300]))
    r = db.json("GET", "/%s/compute/8" % pc)
    check(r["output"]["counter"] == 36, "slots under the cap still compute: %r" % r)
    procs, held, _ev = peer_stats(pb)
    check(held <= 8 and procs == 1, "the table stays bounded: %r" % (peer_stats(pb),))

    for n in (p1, p2, liar, tamper, d1, d2, d3, d4, d5, d6, pb, db):
        n.stop()


def peer_stats(n):
    """(processes, assignments, evictions) of n's delegation peer table (/metrics)."""
    st, _h, body = n.req("GET", "/metrics")
    vals = {}
    for line in body.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].startswith("aox_delegate_peer_"):
            vals[parts[0]] = int(float(parts[1]))
    return (vals.get("aox_delegate_peer_processes", -1),
            vals.get("aox_delegate_peer_assignments", -1),
            vals.get("aox_delegate_peer_evictions_total", -1))


def restart_in_place(n):
    """Starts n again on its port (its peers' URLs stay valid)."""
    n.log = open(n.data + ".log", "ab")
    n.proc = subprocess.Popen([core.AOX, "serve", "--data", n.data, "--port", str(n.port),
                               "--log-level", "warn"] + n.extra, stdout=n.log, stderr=n.log)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                n.conn = http.client.HTTPConnection("127.0.0.1", n.port, timeout=60)
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("node did not restart")


def scenario_names(tmp):
    conf = os.path.join(tmp, "aox.conf")
    with open(conf, "w") as f:
        f.write("[processes.counter]\nexecution-device = test-counter@1.0\npages = 2\n"
                "[processes.json]\ndefinition = {\"execution-device\": \"test-counter@1.0\","
                " \"note\": \"from json\"}\n"
                "[processes.remote]\nexecution-device = test-counter@1.0\n")
    data = os.path.join(tmp, "n")
    peer = Node(os.path.join(tmp, "peer")).start()
    n = Node(data, ["--config", conf, "--log-level", "info", "--sign-results",
                    "--peers", url(peer), "--delegate", "remote"]).start()

    # --delegate: a named process computed by the peers
    rpid = n.json("GET", "/~name/remote")["process"]
    rd = n.json("GET", "/%s" % rpid)
    check(rd.get("execution-device") == "delegated@1.0"
          and rd.get("delegate-device") == "test-counter@1.0", "--delegate wraps: %r" % rd)
    n.json("POST", "/~name/remote/schedule", {"value": 5})
    check(n.json("GET", "/~name/remote/compute/1").get("output", {}).get("counter") == 5,
          "delegated node process computes on the peer")

    # 8 concurrent first uses: one spawn, one process
    results = []

    def first_use():
        c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=30)
        c.request("GET", "/~name/counter/slot")
        r = c.getresponse()
        results.append((r.status, r.read()))
        c.close()
    ts = [threading.Thread(target=first_use) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(all(s == 200 and json.loads(b) == {"current": 0} for s, b in results),
          "8 concurrent first uses all answered: %r" % results[:2])
    pid = n.json("GET", "/~name/counter")["process"]
    with open(data + ".log", "rb") as f:
        spawns = f.read().count(b'"node-process-spawn"')
    check(spawns == 2, "first use spawned exactly once (%d spawns: remote + counter)" % spawns)
    sched = n.json("GET", "/%s/schedule" % pid)
    check(len(sched["assignments"]) == 1, "one process, one slot 0")

    # the definition is the configured one, named and signed by the node
    d = n.json("GET", "/%s" % pid)
    check(d.get("node-process") == "counter" and d.get("pages") == 2
          and len(d.get("node-signature", "")) == 86, "named, signed definition: %r" % d)
    check(n.json("GET", "/~name/json/%s" % "slot") == {"current": 0}, "definition = JSON")

    # same sub-routes as /<pid>/...
    a = n.json("POST", "/~name/counter/schedule", {"value": 7})
    check(a.get("slot") == 1, "schedule through the name")
    r = n.json("GET", "/~name/counter/compute/1")
    check(r["output"]["counter"] == 7, "compute through the name")
    check(len(r.get("node-signature", "")) == 86, "--sign-results signs results")
    check(n.json("GET", "/%s/compute/1" % pid)["output"] == r["output"], "same as /<pid>/")
    st, _h, _b = n.req("GET", "/~name/nosuch/slot")
    check(st == 404, "unknown name: 404")

    # run-time registration needs the operator token
    newdef = {"definition": {"execution-device": "test-counter@1.0", "note": "api"}}
    st, _h, _b = n.req("POST", "/~name/other", dict(newdef, token="x" * 43))
    check(st == 403, "wrong operator token: 403 (%d)" % st)
    tokfile = os.path.join(data, "operator-token")
    check(os.stat(tokfile).st_mode & 0o077 == 0, "operator token is 0600")
    token = open(tokfile).read()
    other = n.json("POST", "/~name/other", dict(newdef, token=token))["process"]
    check(n.json("GET", "/~name/other/slot") == {"current": 0}, "registered name answers")
    # changing a configured name at run time
    jpid = n.json("GET", "/~name/json")["process"]
    moved = n.json("POST", "/~name/json", dict(newdef, token=token))["process"]
    check(moved not in (other, jpid), "a name's process carries its name (node-process)")
    check(n.json("GET", "/~name/json")["process"] == moved, "the name moved")

    # restart: names survive, nothing is spawned again
    n.stop()
    open(data + ".log", "wb").close()
    n = Node(data, ["--config", conf, "--log-level", "info"]).start()
    check(n.json("GET", "/~name/counter")["process"] == pid, "name survives a restart")
    check(n.json("GET", "/~name/counter/slot") == {"current": 1}, "and its slots")
    check(n.json("GET", "/~name/other")["process"] == other, "run-time name survives")
    check(n.json("GET", "/~name/json")["process"] == moved, "run-time change wins over config")
    with open(data + ".log", "rb") as f:
        check(f.read().count(b'"node-process-spawn"') == 0, "no spawn after restart")
    n.stop()
    peer.stop()


def start_redis(tmp):
    import socket
    for _ in range(5):
        port = free_port()
        proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                 "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                                 "--dir", tmp], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 5
        while time.time() < deadline and proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc, port
            except OSError:
                time.sleep(0.05)
        proc.kill()
        proc.wait()
    raise RuntimeError("redis-server did not start")


class Client:
    """Sends a request to the nodes in turn until one answers (a killed node, a
    forwarding failure during a take-over)."""

    def __init__(self, nodes):
        self.nodes = nodes

    def call(self, method, path, body=None, start=0, timeout=20):
        deadline = time.time() + timeout
        i = start
        last = None
        while time.time() < deadline:
            n = self.nodes[i % len(self.nodes)]
            i += 1
            if n.proc.poll() is not None:
                continue
            try:
                c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=10)
                c.request(method, path, body=json.dumps(body) if body is not None else None)
                r = c.getresponse()
                data = r.read()
                c.close()
                if r.status < 500:
                    return r.status, json.loads(data) if data else None
                last = (r.status, data[:200])
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        raise RuntimeError("no node answered %s %s: %r" % (method, path, last))


class Ans104:
    """Signs ANS-104 data items (type 1: RSA-4096 PSS over the deep hash), the bytes
    the legacy `POST /` route takes (as arbundles writes them)."""

    def __init__(self):
        from cryptography.hazmat.primitives.asymmetric import rsa
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=4096)
        self.owner = self.key.public_key().public_numbers().n.to_bytes(512, "big")

    @staticmethod
    def _deep_hash(parts):
        import hashlib
        h = lambda b: hashlib.sha384(b).digest()  # noqa: E731
        acc = h(b"list%d" % len(parts))
        for p in parts:
            acc = h(acc + h(h(b"blob%d" % len(p)) + h(p)))
        return acc

    @staticmethod
    def _avro_long(n):
        n = (n << 1) ^ (n >> 63)
        out = b""
        while True:
            if n < 0x80:
                return out + bytes([n])
            out += bytes([(n & 0x7F) | 0x80])
            n >>= 7

    def item(self, tags, data=b"", target=None):
        """(raw bytes, id) of an item; target is a process ID (base64url) or None."""
        import base64
        import hashlib
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding
        tb = b""
        if tags:
            tb = self._avro_long(len(tags))
            for k, v in tags:
                for x in (k.encode(), v.encode()):
                    tb += self._avro_long(len(x)) + x
            tb += b"\x00"
        tgt = base64.urlsafe_b64decode(target + "=") if target else b""
        sig = self.key.sign(self._deep_hash([b"dataitem", b"1", b"1", self.owner, tgt, b"",
                                             tb, data]),
                            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                            hashes.SHA256())
        raw = (b"\x01\x00" + sig + self.owner + (b"\x01" + tgt if tgt else b"\x00") + b"\x00"
               + len(tags).to_bytes(8, "little") + len(tb).to_bytes(8, "little") + tb + data)
        iid = base64.urlsafe_b64encode(hashlib.sha256(sig).digest()).rstrip(b"=").decode()
        return raw, iid


def loaded(n):
    """The processes n has loaded (GET /~meta@1.0/processes)."""
    return {p["process"] for p in n.json("GET", "/~meta@1.0/processes?sort=pid")["processes"]}


def legacy_forwarding(owner, other):
    """The legacy ao routes asked of `other` for processes owned by `owner` are served
    by the owner: `other` never loads them (and could not write their assignments: the
    fence would refuse it)."""
    signer = Ans104()
    p = owner.json("POST", "/spawn", {"execution-device": "test-counter@1.0", "name": "leg-p"})
    q = owner.json("POST", "/spawn", {"execution-device": "test-counter@1.0", "name": "leg-q"})
    p, q = p["process"], q["process"]
    raw1, m1 = signer.item([("Type", "Message"), ("Value", "5")], b"one", target=p)
    st, _h, b = other.req("POST", "/", raw1, {"Content-Type": "application/octet-stream"})
    got = json.loads(b)
    check(st == 200 and got.get("process") == p and got.get("slot") == 1 and got["id"] == m1,
          "legacy POST / message item through a non-owner: %d %r" % (st, b[:300]))
    raw2, m2 = signer.item([("Type", "Message"), ("Value", "7")], b"two", target=q)
    st, _h, b = other.req("POST", "/", raw2, {"Content-Type": "application/octet-stream"})
    check(st == 200 and json.loads(b).get("slot") == 1, "item on q: %d %r" % (st, b[:300]))
    st, _h, b = other.req("POST", "/?process-id=%s&assign=%s" % (p, m2))
    got = json.loads(b)
    check(st == 200 and got.get("slot") == 2 and got.get("message") == m2,
          "legacy ?assign= through a non-owner: %d %r" % (st, b[:300]))
    reads = [("GET", "/result/%s?process-id=%s" % (m1, p), None),
             ("GET", "/result/%s?process-id=%s" % (m2, p), None),
             ("GET", "/results/%s?sort=DESC&limit=5" % p, None),
             ("POST", "/dry-run?process-id=%s" % p,
              {"Tags": [{"name": "Value", "value": "100"}], "Data": "x"}),
             ("GET", "/state/%s" % p, None)]
    for method, path, body in reads:
        st, h, b = other.req(method, path, body)
        st2, h2, b2 = owner.req(method, path, body)
        check(st == st2 and b == b2 and h.get("content-type") == h2.get("content-type"),
              "%s %s: the non-owner's answer is the owner's: %d %r vs %d %r"
              % (method, path, st, b[:200], st2, b2[:200]))
    r = json.loads(other.req("GET", "/result/%s?process-id=%s" % (m2, p))[2])
    check("Output" in r and "Error" not in r, "cu result of the assigned message: %r" % r)
    check(not ({p, q} & loaded(other)), "the non-owner never loaded the processes")
    check({p, q} <= loaded(owner), "the owner did")
    with open(other.data + ".log", "rb") as f:
        log = f.read()
    check(not any(b"lease-acquired" in ln and p.encode() in ln for ln in log.splitlines()),
          "the non-owner never took the lease of p")


def scenario_cluster(tmp, store=None):
    redis = None
    if store is None:
        redis, rport = start_redis(tmp)
        store = "redis://127.0.0.1:%d" % rport
    conf = os.path.join(tmp, "cluster.conf")
    with open(conf, "w") as f:
        f.write("[processes.shared]\nexecution-device = test-counter@1.0\n")
    nodes = [Node(os.path.join(tmp, "c%d" % i),
                  ["--store", store, "--lease-ttl", "1s", "--log-level", "info",
                   "--config", conf]).start()
             for i in range(3)]
    cl = Client(nodes)
    nproc, nmsg = 6, 24
    defs = [{"execution-device": "test-counter@1.0", "name": "cluster-%d" % i}
            for i in range(nproc)]
    pids = []
    for i, d in enumerate(defs):            # spawned on node i % 3: it takes the lease
        st, sp = cl.call("POST", "/spawn", d, start=i)
        check(st == 200, "spawn %d" % i)
        pids.append(sp["process"])
    # processes spread over the nodes, and any node answers for any process
    for n in nodes:
        for pid in pids:
            st, _h, b = n.req("GET", "/%s/slot" % pid)
            check(st == 200 and json.loads(b) == {"current": 0}, "any node answers: %r" % b)
    for i, n in enumerate(nodes):
        with open(n.data + ".log", "rb") as f:
            got = f.read().count(b'"lease-acquired"')
        check(got == 2, "node %d owns 2 processes (%d)" % (i, got))

    acked = {pid: [] for pid in pids}
    kill_at = threading.Event()

    def load(k):
        pid = pids[k]
        for j in range(nmsg):
            if k == 0 and j == nmsg // 3:
                kill_at.set()
            st, a = cl.call("POST", "/%s/schedule" % pid, {"value": j + 1, "seq": j}, start=k + j)
            check(st == 200, "schedule %d/%d: %r" % (k, j, a))
            acked[pid].append((a["slot"], a["message-id"]))
    ts = [threading.Thread(target=load, args=(k,)) for k in range(nproc)]
    for t in ts:
        t.start()
    kill_at.wait(30)
    nodes[2].stop(sig=9)                     # owner of processes 2 and 5
    check(all(len(acked[p]) < nmsg for p in (pids[2], pids[5])),
          "the kill happened during the load run")
    for t in ts:
        t.join()
    survivors = nodes[:2]
    # reference: one node, the same messages in the same order
    ref = Node(os.path.join(tmp, "ref")).start()
    for k, d in enumerate(defs):
        pid = ref.json("POST", "/spawn", d)["process"]
        check(pid == pids[k], "same pid on the reference")
        for j in range(nmsg):
            ref.json("POST", "/%s/schedule" % pid, {"value": j + 1, "seq": j})
    for k, pid in enumerate(pids):
        sched = Client(survivors).call("GET", "/%s/schedule?from=0&to=%d" % (pid, nmsg))[1]
        slots = {a["slot"]: a["message-id"] for a in sched["assignments"]}
        check(all(slots.get(s) == m for s, m in acked[pid]),
              "process %d: every acknowledged assignment kept" % k)
        check(sorted(slots) == list(range(nmsg + 1)), "process %d: dense slots" % k)
        st, got = Client(survivors).call("GET", "/%s/compute/%d" % (pid, nmsg))
        want = ref.json("GET", "/%s/compute/%d" % (pid, nmsg))
        check(st == 200 and got == want, "process %d: same result as one node: %r vs %r"
              % (k, got, want))
    taken = 0
    for n in survivors:
        with open(n.data + ".log", "rb") as f:
            taken += f.read().count(b'"lease-acquired"')
    check(taken == nproc, "the survivors took over the killed node's processes (%d leases)"
          % taken)
    # a node process on the cluster: concurrent first uses on both survivors give one
    # name, one process, served by its owner whichever node is asked
    got = []

    def first_use(n):
        c = http.client.HTTPConnection("127.0.0.1", n.port, timeout=30)
        c.request("GET", "/~name/shared/slot")
        r = c.getresponse()
        got.append((r.status, r.read()))
        c.close()
    ts = [threading.Thread(target=first_use, args=(n,)) for n in survivors for _ in range(3)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    check(all(st == 200 and json.loads(b) == {"current": 0} for st, b in got),
          "cluster first uses of a node process: %r" % got[:3])
    spids = {n.json("GET", "/~name/shared")["process"] for n in survivors}
    check(len(spids) == 1, "one process for the name on every node")
    a = survivors[0].json("POST", "/~name/shared/schedule", {"value": 3})
    b = survivors[1].json("POST", "/~name/shared/schedule", {"value": 4})
    check(a.get("slot") == 1 and b.get("slot") == 2, "schedules through the name on two nodes")
    r = survivors[1].json("GET", "/~name/shared/compute/2")
    check(r.get("output", {}).get("counter") == 7, "compute through the name: %r" % r)
    legacy_forwarding(survivors[0], survivors[1])
    for n in survivors + [ref]:
        n.stop()
    if redis:
        redis.kill()
        redis.wait()


def scenario_busy(tmp):
    """A forwarded request whose owner is busy (full per-process queue) gets the
    owner's 503 at once, with its JSON body and Retry-After; forwarded answers keep
    X-Aox-Compute."""
    redis, rport = start_redis(tmp)
    store = "redis://127.0.0.1:%d" % rport
    try:
        owner = Node(os.path.join(tmp, "owner"),
                     ["--store", store, "--lease-ttl", "1s", "--workers", "1",
                      "--worker-queue", "1"]).start()
        other = Node(os.path.join(tmp, "other"), ["--store", store, "--lease-ttl", "1s"]).start()
        # spawned on the owner (it takes the lease); slot 1 spins until the wall limit
        pid = spawn_and_schedule(owner, {"execution-device": "test-counter@1.0",
                                         "wall-limit": 3000, "name": "busy"}, [])
        owner.json("POST", "/%s/schedule" % pid, {"action": "spin"})
        owner.json("POST", "/%s/schedule" % pid, {"value": 5})
        # slot 0 through the other node: the owner's X-Aox-Compute comes along
        st, h, b = other.req("GET", "/%s/compute?slot=0" % pid)
        check(st == 200 and json.loads(b)["slot"] == 0, "forwarded compute: %d %r" % (st, b))
        check(h.get("x-aox-compute", "").startswith("cached=0; from=init"),
              "X-Aox-Compute forwarded: %r" % h.get("x-aox-compute"))
        # one request runs (spinning), one waits in the owner's queue of 1 ...
        done = []

        def ask(slot):
            c = http.client.HTTPConnection("127.0.0.1", owner.port, timeout=20)
            c.request("GET", "/%s/compute?slot=%d" % (pid, slot))
            done.append(c.getresponse().status)
            c.close()
        ts = [threading.Thread(target=ask, args=(1,))]
        ts[0].start()
        time.sleep(0.4)
        ts.append(threading.Thread(target=ask, args=(2,)))
        ts[1].start()
        time.sleep(0.4)
        # ... so the owner answers a third one 503: passed on at once, not retried
        t0 = time.time()
        st, h, b = other.req("GET", "/%s/compute?slot=2" % pid)
        took = time.time() - t0
        body = json.loads(b) if b else {}
        check(st == 503, "busy owner: 503 forwarded (got %d %r)" % (st, b[:200]))
        check(body.get("error", {}).get("code") == "busy" and "owner" not in body["error"],
              "the owner's JSON body: %r" % body)
        check(h.get("retry-after", "").isdigit(), "Retry-After forwarded: %r" % h)
        check(took < 2.5, "passed on without waiting for the lease deadline (%.2f s)" % took)
        for t in ts:
            t.join()
        check(len(done) == 2, "the owner's own requests answered: %r" % done)
        # the owner is free again: a cached answer, forwarded with its header
        st, h, b = other.req("GET", "/%s/compute?slot=0" % pid)
        check(st == 200 and h.get("x-aox-compute", "").startswith("cached=1"),
              "after: %d %r %r" % (st, h, b))
        # a forwarded request reaching a node that does not own the process: 503
        # naming the owner (the marker forwarding nodes retry on)
        st, h, b = other.req("GET", "/%s/slot?aox-fwd=1" % pid)
        err = json.loads(b).get("error", {})
        check(st == 503 and err.get("owner") == url(owner), "not the owner: %d %r" % (st, b))
    finally:
        redis.kill()
        redis.wait()


def main():
    core.AOX = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="aox-e2e-cluster-")
    try:
        if sys.argv[2] == "rcluster":   # on a Redis Cluster: redis_cluster_run.sh gives the URI
            scenario_cluster(tmp, sys.argv[3])
        else:
            {"delegate": scenario_delegate, "names": scenario_names,
             "cluster": scenario_cluster, "busy": scenario_busy}[sys.argv[2]](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if core.failures:
        print("%d failure(s)" % len(core.failures), file=sys.stderr)
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
