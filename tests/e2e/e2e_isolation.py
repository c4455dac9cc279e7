#!/usr/bin/env python3
"""--isolation=process|thread (docs/parts/isolation.md), black-box over HTTP:

  e2e_isolation.py AOX_BINARY

  1. identical results: the same workload (test-counter, and lua@5.3 when the node
     offers it) gives byte-identical results in both modes (fixed clock);
  2. process mode, worker killed (SIGKILL from the test): the next compute finds the
     worker dead, is retried at once from the last snapshot in a new worker (200,
     from=snapshot, aox_worker_crash_retries_total + 1, status last-error
     worker_crashed) and matches the thread-mode result; the node keeps serving;
  3. process mode, test-only `crash` action (abort() in the worker every time): after
     3 attempts a 500 `worker_crashed` naming the slot and the deaths in a row (3,
     then 6 on the next request), nothing cached, the slot before and other
     processes still served; in thread mode the action is a guest error;
  4. process mode, `forbidden-syscall` (socket()): the seccomp filter kills
     the worker (5xx) — or, in AddressSanitizer builds where the filter is off (the
     node's info says so), the action reports the open as a guest error;
  5. prefork pool (--prefork, default 2): the zygote keeps 2 idle spares
     (aox_isolation_spare_workers), replaces spares killed from outside, and a new
     device state takes a spare (workers_started_total{from="spare"} + 1, no fork on
     request, the serving worker is one of the zygote's children from before the
     request) while a replacement is forked; with --prefork 0 no spares exist and the
     worker is forked on request (from="fork").
"""
import json
import os
import signal
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_core as core  # noqa: E402

K = 4  # snapshot every K slots

LUA_SRC = """
count = count or 0
function handle(msg)
  count = count + (tonumber(msg.value) or 1)
  return { output = count }
end
"""


def children(pid):
    """Direct children of pid (from /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if int(fields[1]) == pid:
            out.append(int(d))
    return out


def metric(node, series):
    """The value of one /metrics series (e.g. 'aox_x{a="b"}'), or None."""
    st, _h, body = node.req("GET", "/metrics")
    core.check(st == 200, "/metrics -> %d" % st)
    for line in body.decode().splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    return None


def wait_metric(node, series, want, secs=10.0):
    v = None
    end = time.time() + secs
    while time.time() < end:
        v = metric(node, series)
        if v == want:
            return v
        time.sleep(0.05)
    return v


def zygote_children(node):
    out = set()
    for z in children(node.proc.pid):
        out |= set(children(z))
    return out


SPARES = "aox_isolation_spare_workers"
FROM_SPARE = 'aox_isolation_workers_started_total{from="spare"}'
FROM_FORK = 'aox_isolation_workers_started_total{from="fork"}'


def workload(node, defn, msgs):
    pid = node.json("POST", "/spawn", defn)["process"]
    for m in msgs:
        node.json("POST", "/%s/schedule" % pid, m)
    outs = []
    for s in range(1, len(msgs) + 1):
        st, _h, body = node.req("GET", "/%s/compute?slot=%d" % (pid, s))
        core.check(st == 200, "compute %d -> %d %r" % (s, st, body[:200]))
        outs.append(body)
    return pid, outs


def main():
    core.AOX = sys.argv[1]
    tmp = tempfile.mkdtemp(prefix="aox-e2e-iso-")
    nodes = []
    try:
        thr = core.Node(os.path.join(tmp, "t"), ["--snapshot-every", str(K),
                                                 "--isolation", "thread"]).start()
        nodes.append(thr)
        prc = core.Node(os.path.join(tmp, "p"), ["--snapshot-every", str(K),
                                                 "--isolation", "process"]).start()
        nodes.append(prc)
        info = prc.json("GET", "/~meta@1.0/info")
        iso = info.get("isolation") or {}
        core.check(iso.get("mode") == "process", "info isolation %r" % iso)
        core.check(thr.json("GET", "/~meta@1.0/info").get("isolation", {}).get("mode") ==
                   "thread", "thread mode in info")

        # 1. identical results
        tc = {"type": "Process", "execution-device": "test-counter@1.0", "name": "iso",
              "pages": 4}
        msgs = [{"value": i} for i in range(1, 11)] + [{"action": "trap"}, {"value": 5, "seq": 99}]
        _p1, r_thr = workload(thr, tc, msgs)
        pid_p, r_prc = workload(prc, tc, msgs)
        core.check(r_thr == r_prc, "test-counter results differ between modes")
        devices = info.get("devices") or []
        if "lua@5.3" in devices:
            mid = prc.json("POST", "/modules", LUA_SRC)["id"]
            core.check(thr.json("POST", "/modules", LUA_SRC)["id"] == mid, "module id")
            ld = {"type": "Process", "execution-device": "lua@5.3", "module": mid}
            lm = [{"value": i} for i in range(1, 8)]
            _a, lt = workload(thr, ld, lm)
            _b, lp = workload(prc, ld, lm)
            core.check(lt == lp, "lua@5.3 results differ between modes")

        # 2. SIGKILL the worker of pid_p, then carry on
        workers_before = []
        for z in children(prc.proc.pid):
            workers_before += children(z)
        core.check(len(workers_before) >= 1, "no worker processes under the zygote")
        for w in workers_before:
            os.kill(w, signal.SIGKILL)
        time.sleep(0.2)
        # the killed spares are noticed and replaced without any request
        core.check(wait_metric(prc, SPARES, 2) == 2, "spares replaced after the kill")
        core.check(not (zygote_children(prc) & set(workers_before)),
                   "killed workers are gone from the zygote's children")
        more = [{"value": 100}, {"value": 200}]
        for m in more:
            prc.json("POST", "/%s/schedule" % pid_p, m)
            thr.json("POST", "/%s/schedule" % _p1, m)
        n = len(msgs)
        r0 = metric(prc, "aox_worker_crash_retries_total")
        want = thr.json("GET", "/%s/compute?slot=%d" % (_p1, n + 1))
        st, h, body = prc.req("GET", "/%s/compute?slot=%d" % (pid_p, n + 1))
        core.check(st == 200, "compute after SIGKILL -> %d %r (want a retry)" % (st, body[:200]))
        core.check(st == 200 and json.loads(body) == want, "retried result differs")
        core.check("from=snapshot" in h.get("x-aox-compute", ""),
                   "retried from a snapshot: %r" % h.get("x-aox-compute"))
        core.check(metric(prc, "aox_worker_crash_retries_total") == r0 + 1,
                   "one crash retry counted")
        stat = prc.json("GET", "/%s/status" % pid_p)
        le = stat.get("last-error") or {}
        core.check(le.get("kind") == "node" and le.get("code") == "worker_crashed",
                   "status after the kill %r" % stat)
        want = thr.json("GET", "/%s/compute?slot=%d" % (_p1, n + 2))
        st, h, body = prc.req("GET", "/%s/compute?slot=%d" % (pid_p, n + 2))
        core.check(st == 200 and json.loads(body) == want, "next result differs")

        # 3. crash action
        c = prc.json("POST", "/spawn", dict(tc, name="crash"))["process"]
        prc.json("POST", "/%s/schedule" % c, {"value": 1})
        prc.json("POST", "/%s/schedule" % c, {"action": "crash"})
        c0 = metric(prc, "aox_worker_crashes_total")
        for times in (3, 6):
            st, _h, b = prc.req("GET", "/%s/compute?slot=2" % c)
            e = (json.loads(b) if st != 200 else {}).get("error") or {}
            core.check(st == 500 and e.get("code") == "worker_crashed",
                       "crash action -> %d %r (want worker_crashed)" % (st, b[:300]))
            core.check("slot 2 of %s not computed" % c in e.get("message", "") and
                       "died %d times in a row computing slot 2" % times
                       in e.get("message", ""), "crash error names slot and count: %r"
                       % e.get("message"))
        core.check(metric(prc, "aox_worker_crashes_total") == c0 + 6,
                   "6 worker deaths counted")
        cs = prc.json("GET", "/%s/status" % c)
        core.check(cs.get("computed") == 1 and cs.get("current") == 2,
                   "no result recorded for the crashing slot: %r" % cs)
        st, _h, _b = prc.req("GET", "/%s/compute?slot=1" % c)
        core.check(st == 200, "slot 1 of the crashing process -> %d" % st)
        core.check(prc.json("GET", "/healthz").get("ok") is True, "node alive after crash")
        st, _h, body = prc.req("GET", "/%s/compute?slot=%d" % (pid_p, n + 2))
        core.check(st == 200, "other process still served -> %d" % st)
        t = thr.json("POST", "/spawn", dict(tc, name="crash"))["process"]
        thr.json("POST", "/%s/schedule" % t, {"action": "crash"})
        r = thr.json("GET", "/%s/compute?slot=1" % t)
        core.check("error" in r, "thread mode: crash action is a guest error %r" % r)

        # 4. forbidden syscall
        f = prc.json("POST", "/spawn", dict(tc, name="sys"))["process"]
        prc.json("POST", "/%s/schedule" % f, {"action": "forbidden-syscall"})
        st, _h, body = prc.req("GET", "/%s/compute?slot=1" % f)
        if iso.get("seccomp"):
            core.check(st >= 500, "forbidden syscall -> %d %r (want the worker killed)"
                       % (st, body[:200]))
        else:
            core.check(st == 200 and b"could open a socket" in body,
                       "no seccomp (sanitizer build): %d %r" % (st, body[:200]))
        core.check(prc.json("GET", "/healthz").get("ok") is True, "node alive after seccomp")

        # 5. prefork pool
        core.check(iso.get("prefork") == 2, "info prefork %r" % iso)
        core.check(wait_metric(prc, SPARES, 2) == 2, "two spares ready")
        before = zygote_children(prc)
        s0, f0 = metric(prc, FROM_SPARE), metric(prc, FROM_FORK)
        q = prc.json("POST", "/spawn", dict(tc, name="prefork"))["process"]
        prc.json("POST", "/%s/schedule" % q, {"value": 7})
        st, _h, body = prc.req("GET", "/%s/compute?slot=1" % q)
        core.check(st == 200 and json.loads(body)["output"]["counter"] == 7,
                   "compute on a spare -> %d %r" % (st, body[:200]))
        core.check(metric(prc, FROM_SPARE) == s0 + 1 and metric(prc, FROM_FORK) == f0,
                   "the new state took a spare: spare %r->%r fork %r->%r"
                   % (s0, metric(prc, FROM_SPARE), f0, metric(prc, FROM_FORK)))
        core.check(wait_metric(prc, SPARES, 2) == 2, "spares refilled")
        after = zygote_children(prc)
        core.check(before <= after and len(after - before) == 1,
                   "the worker was pre-forked; one replacement forked: %r -> %r"
                   % (sorted(before), sorted(after)))

        p0 = core.Node(os.path.join(tmp, "p0"), ["--isolation", "process",
                                                 "--prefork", "0"]).start()
        nodes.append(p0)
        core.check((p0.json("GET", "/~meta@1.0/info").get("isolation") or {}).get("prefork")
                   == 0, "info prefork 0")
        core.check(metric(p0, SPARES) == 0 and zygote_children(p0) == set(), "no spares")
        q0 = p0.json("POST", "/spawn", dict(tc, name="prefork"))["process"]
        p0.json("POST", "/%s/schedule" % q0, {"value": 7})
        st, _h, body0 = p0.req("GET", "/%s/compute?slot=1" % q0)
        core.check(st == 200 and body0 == body, "on-demand worker gives the same result")
        core.check(metric(p0, FROM_FORK) == 1 and metric(p0, FROM_SPARE) == 0,
                   "--prefork 0 forks on request")
        core.check(metric(p0, SPARES) == 0 and len(zygote_children(p0)) == 1,
                   "still no spares")
    finally:
        for nd in nodes:
            nd.stop()
        core.cleanup(tmp)
    return core.verdict("ok")


if __name__ == "__main__":
    sys.exit(main())
