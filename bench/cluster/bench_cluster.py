#!/usr/bin/env python3
"""Cluster benchmark: schedule+compute throughput of a 3-node cluster on one Redis vs
one node on the same Redis (and one LMDB node), and the take-over time after kill -9
of a process's owner. Usage: bench_cluster.py AOX [MESSAGES_PER_PROCESS] [LEASE_TTL]"""
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import e2e_core as core  # noqa: E402
import e2e_cluster as ec  # noqa: E402

NPROC = 6


class Conn:
    def __init__(self, nodes):
        self.c = [http.client.HTTPConnection("127.0.0.1", n.port, timeout=60) for n in nodes]

    def call(self, i, method, path, body=None):
        c = self.c[i % len(self.c)]
        c.request(method, path, body=json.dumps(body) if body is not None else None)
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("%s %s -> %d %r" % (method, path, r.status, data[:200]))
        return json.loads(data)


def run_load(nodes, tag, nmsg):
    pids = []
    c0 = Conn(nodes)
    for k in range(NPROC):
        pids.append(c0.call(k, "POST", "/spawn", {"execution-device": "test-counter@1.0",
                                                  "name": "%s-%d" % (tag, k)})["process"])

    def worker(k):
        c = Conn(nodes)
        for j in range(nmsg):
            c.call(k + j, "POST", "/%s/schedule" % pids[k], {"value": j, "seq": j})
        c.call(k, "GET", "/%s/compute/%d" % (pids[k], nmsg))
    t0 = time.time()
    ts = [threading.Thread(target=worker, args=(k,)) for k in range(NPROC)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.time() - t0
    return NPROC * nmsg / dt


def main():
    core.AOX = os.path.abspath(sys.argv[1])
    nmsg = int(sys.argv[2]) if len(sys.argv) > 2 else 200
    ttl = sys.argv[3] if len(sys.argv) > 3 else "1s"
    tmp = tempfile.mkdtemp(prefix="aox-bench-cluster-")
    try:
        if len(sys.argv) > 4:              # a given store, e.g. a Redis Cluster
            redis, store = None, sys.argv[4]
        else:
            redis, rport = ec.start_redis(tmp)
            store = "redis://127.0.0.1:%d" % rport
        common = ["--store", store, "--lease-ttl", ttl, "--log-level", "warn"]
        lm = core.Node(os.path.join(tmp, "lmdb")).start()
        print("one node, LMDB:          %8.0f schedules/s (%d processes x %d, + compute)"
              % (run_load([lm], "lmdb", nmsg), NPROC, nmsg))
        lm.stop()
        one = core.Node(os.path.join(tmp, "one"), common).start()
        print("one node, Redis:         %8.0f schedules/s" % run_load([one], "one", nmsg))
        one.stop()
        nodes = [core.Node(os.path.join(tmp, "n%d" % i), common).start() for i in range(3)]
        print("3 nodes, Redis, rotating:%8.0f schedules/s  (2/3 of requests forwarded)"
              % run_load(nodes, "three", nmsg))
        # take-over: the owner of a fresh process is killed; time until another node
        # schedules on it
        c = Conn(nodes)
        pid = c.call(0, "POST", "/spawn", {"execution-device": "test-counter@1.0",
                                           "name": "takeover"})["process"]
        c.call(0, "POST", "/%s/schedule" % pid, {"value": 1})
        nodes[0].stop(sig=9)
        t0 = time.time()
        c2 = Conn(nodes[1:])
        c2.call(0, "POST", "/%s/schedule" % pid, {"value": 2})
        print("take-over after kill -9: %8.2f s (lease TTL %s)" % (time.time() - t0, ttl))
        for n in nodes[1:]:
            n.stop()
        if redis:
            redis.kill()
            redis.wait()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
