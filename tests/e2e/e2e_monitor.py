#!/usr/bin/env python3
"""Monitoring of a live node (docs/parts/monitoring.md), black-box over HTTP:

  e2e_monitor.py AOX_BINARY

After a known workload (spawn test-counter, N schedules of which one runs out of fuel,
compute to N, recompute one slot from the cache, force a snapshot) every metric the
monitoring layer names is in /metrics with the value the workload implies; GET
/<pid>/status reports the process; /healthz and /readyz answer; the log level changes
at run time; `aox top --once` prints the process; SIGUSR1 snapshots and keeps serving.
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_core as core  # noqa: E402  (Node, check, failures)

N = 12          # schedules after spawn
SNAP_EVERY = 5  # so the compute to N writes snapshots at 5 and 10


def metrics(node):
    st, _h, body = node.req("GET", "/metrics")
    core.check(st == 200, "/metrics status %d" % st)
    text = body.decode()
    vals = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, _, v = line.rpartition(" ")
        vals[name] = float(v)
    return text, vals


def want(vals, name, pred, what):
    v = vals.get(name)
    core.check(v is not None and pred(v), "%s = %r (%s)" % (name, v, what))


def main():
    core.AOX = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="aox-e2e-mon-")
    node = core.Node(os.path.join(tmp, "d"), ["--snapshot-every", str(SNAP_EVERY)]).start()
    try:
        sp = node.json("POST", "/spawn", {"type": "Process",
                                          "execution-device": "test-counter@1.0",
                                          "name": "mon"})
        pid = sp["process"]
        for i in range(1, N + 1):
            body = {"action": "out-of-fuel"} if i == 7 else {"value": i}
            node.json("POST", "/%s/schedule" % pid, body)
        res = node.json("GET", "/%s/compute?slot=%d" % (pid, N))
        core.check(res.get("slot") == N, "compute result slot %r" % res.get("slot"))
        node.json("GET", "/%s/compute?slot=3" % pid)          # a cache hit

        text, m = metrics(node)
        for fam in ("aox_slot_stage_seconds", "aox_fuel_used_total", "aox_limit_hits_total",
                    "aox_cache_hits_total", "aox_cache_misses_total", "aox_memory_bytes",
                    "aox_snapshot_page_bytes_total", "aox_snapshots_total",
                    "aox_queue_depth", "aox_workers_live", "aox_http_requests_total",
                    "aox_live_states", "aox_processes_busy"):
            core.check("# TYPE %s " % fam in text, "family %s missing" % fam)
        want(m, "aox_assignments_total", lambda v: v == N + 1, "spawn + N schedules")
        want(m, "aox_slots_computed_total", lambda v: v == N, "N slots computed")
        # histogram counts = slots computed (execute, encode); load ran once (init)
        want(m, 'aox_slot_stage_seconds_count{stage="execute"}', lambda v: v == N, "N")
        want(m, 'aox_slot_stage_seconds_count{stage="encode"}', lambda v: v == N, "N")
        want(m, 'aox_slot_stage_seconds_bucket{stage="execute",le="+Inf"}',
             lambda v: v == N, "+Inf bucket = count")
        want(m, 'aox_slot_stage_seconds_count{stage="load"}', lambda v: v == 1, "one init")
        want(m, 'aox_slot_stage_seconds_count{stage="snapshot"}', lambda v: v == N // SNAP_EVERY,
             "snapshots at multiples of K")
        want(m, 'aox_slot_stage_seconds_count{stage="store"}', lambda v: v >= 1, ">= 1 commit")
        want(m, 'aox_slot_stage_seconds_sum{stage="execute"}', lambda v: 0 <= v < 60, "time")
        want(m, "aox_snapshots_total", lambda v: v == N // SNAP_EVERY, "K-snapshots")
        want(m, "aox_snapshot_page_bytes_total", lambda v: v >= 0, "bytes")
        want(m, "aox_fuel_used_total", lambda v: v == N - 1, "gas 1 per successful slot")
        want(m, 'aox_limit_hits_total{limit="fuel"}', lambda v: v == 1, "one out-of-fuel")
        want(m, "aox_guest_errors_total", lambda v: v == 1, "one guest error")
        want(m, "aox_cache_hits_total", lambda v: v >= 1, "the recompute of slot 3")
        want(m, "aox_cache_misses_total", lambda v: v >= 1, "the compute to N")
        want(m, 'aox_memory_bytes{category="rss"}', lambda v: v > 1 << 20, "RSS > 1 MiB")
        want(m, 'aox_memory_bytes{category="live_states"}', lambda v: v > 0, "a live state")
        want(m, "aox_live_states", lambda v: v == 1, "one live state")
        want(m, 'aox_queue_depth{queue="compute"}', lambda v: v == 0, "idle queues")
        want(m, 'aox_queue_bound{queue="compute"}', lambda v: v >= 1, "a bound")
        want(m, 'aox_http_requests_total{route="schedule",status="2xx"}', lambda v: v == N,
             "N schedule requests")

        st = node.json("GET", "/%s/status" % pid)
        core.check(st.get("current") == N and st.get("computed") == N, "status slots %r" % st)
        core.check(st.get("live") is True and st.get("at-slot") == N, "status live %r" % st)
        core.check(st.get("busy") is False and st.get("blocked-on") == "idle", "idle %r" % st)
        core.check(st.get("slots-computed") == N, "status slots-computed %r" % st)
        core.check(st.get("memory-bytes", 0) > 0, "status memory %r" % st)
        le = st.get("last-error") or {}
        core.check(le.get("code") == "out_of_fuel" and le.get("slot") == 7 and
                   le.get("kind") == "guest", "status last-error %r" % le)
        node.json("GET", "/%s/status" % ("A" * 43), want=404)

        pl = node.json("GET", "/~meta@1.0/processes?sort=busy")
        core.check(pl.get("total") == 1 and pl["processes"][0]["process"] == pid,
                   "process list %r" % pl)
        node.json("GET", "/~meta@1.0/processes?sort=nonsense", want=400)

        # force a snapshot of the live state (at N, ahead of the snapshot at 10)
        snap = node.json("POST", "/~meta@1.0/snapshot", {})
        core.check(snap.get("written") == 1, "forced snapshot %r" % snap)
        _t, m2 = metrics(node)
        want(m2, "aox_snapshots_total", lambda v: v == N // SNAP_EVERY + 1, "forced one")
        snap = node.json("POST", "/~meta@1.0/snapshot", {})
        core.check(snap.get("written") == 0, "nothing ahead now %r" % snap)

        core.check(node.json("GET", "/healthz").get("ok") is True, "healthz")
        core.check(node.json("GET", "/readyz").get("ready") is True, "readyz")
        core.check(node.json("POST", "/~meta@1.0/log-level", {"level": "debug"})
                   .get("level") == "debug", "log level set")
        node.json("POST", "/~meta@1.0/log-level", {"level": "warn"})

        env = dict(os.environ, AOX_NODE="http://127.0.0.1:%d" % node.port)
        top = subprocess.run([core.AOX, "top", "--once"], env=env, capture_output=True,
                             text=True, timeout=30)
        core.check(top.returncode == 0, "aox top rc %d: %s" % (top.returncode, top.stderr))
        core.check("PROCESS" in top.stdout and pid in top.stdout, "top shows pid:\n" +
                   top.stdout)
        core.check(re.search(r"slots computed %d\b" % N, top.stdout) is not None,
                   "top totals:\n" + top.stdout)
        row = [l for l in top.stdout.splitlines() if l.startswith(pid)]
        core.check(len(row) == 1 and row[0].split()[1] == "idle" and
                   row[0].split()[2] == str(N) and "out_of_fuel" in row[0], "top row %r" % row)
        bad = subprocess.run([core.AOX, "top", "--sort=x"], env=env, capture_output=True,
                             text=True, timeout=30)
        core.check(bad.returncode == 2, "aox top bad option rc %d" % bad.returncode)

        # SIGUSR1: snapshot all, keep serving
        node.json("POST", "/%s/schedule" % pid, {"value": 100})
        node.json("GET", "/%s/compute?slot=%d" % (pid, N + 1))
        node.proc.send_signal(signal.SIGUSR1)
        deadline = time.time() + 10
        while time.time() < deadline:
            _t, m3 = metrics(node)
            if m3.get("aox_snapshots_total") == N // SNAP_EVERY + 2:
                break
            time.sleep(0.05)
        want(m3, "aox_snapshots_total", lambda v: v == N // SNAP_EVERY + 2, "SIGUSR1 snapshot")
    finally:
        node.stop()
        core.cleanup(tmp)
    return core.verdict("ok")


if __name__ == "__main__":
    sys.exit(main())
