#!/usr/bin/env python3
"""Black-box acceptance tests of an aox node, driven over HTTP on loopback like a user
would (Python 3 standard library only).

  e2e_core.py AOX_BINARY crash    spawn test-counter, 1,000 messages, compute, kill -9,
                                  restart: acknowledged assignments and cached results
                                  survive byte for byte; computing on continues from a
                                  snapshot and matches an uninterrupted reference run
  e2e_core.py AOX_BINARY errors   every HTTP error path: status, JSON error body, and
                                  nothing changed afterwards; signals
  e2e_core.py AOX_BINARY cli      the aox client commands, exit codes and help text

Each scenario starts its own node(s) on free loopback ports with temporary data
directories, and removes them at the end.
"""
import http.client
import json
import os
import threading
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

AOX = None
FIXED_CLOCK = "1700000000000"  # identical timestamps make two runs comparable
DEF = {"type": "Process", "execution-device": "test-counter@1.0", "name": "e2e"}
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)
    return cond


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def request(conn, method, path, body=None, headers=None, chunked=False):
    """One request on a kept-alive http.client connection. Returns (status, headers dict
    (lower-case keys), body bytes)."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    for attempt in range(2):
        try:
            if chunked:
                conn.request(method, path, body=iter([body]),
                             headers=headers or {}, encode_chunked=True)
            else:
                conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            data = r.read()
            hdrs = {k.lower(): v for k, v in r.getheaders()}
            if hdrs.get("connection", "").lower() == "close":
                conn.close()
            return r.status, hdrs, data
        except (http.client.RemoteDisconnected, BrokenPipeError,
                ConnectionResetError):
            conn.close()  # server closed a kept-alive connection: retry once
            if attempt:
                raise


def request_json(conn, method, path, body=None, want=200):
    st, _h, data = request(conn, method, path, body)
    check(st == want, "%s %s -> %d (want %d): %r" % (method, path, st, want, data[:300]))
    return json.loads(data) if data else None


class Conn(http.client.HTTPConnection):
    """One keep-alive HTTP connection to a node on loopback, with req/json helpers."""

    def __init__(self, port, timeout=60):
        super().__init__("127.0.0.1", port, timeout=timeout)

    def req(self, method, path, body=None, headers=None, chunked=False):
        return request(self, method, path, body, headers, chunked)

    def json(self, method, path, body=None, want=200):
        return request_json(self, method, path, body, want)


class Node:
    """One `aox serve` child process on a data directory (its log: data + ".log").
    clock: --clock-fixed-ms; log_level: --log-level (None: the node's default);
    start_secs: how long to wait for /healthz; stop_secs: for the exit after a signal;
    timeout: of the node's connection (self.conn, used by req and json); port: a fixed
    port (default: a free one, picked again at each attempt)."""

    def __init__(self, data, extra=(), clock=FIXED_CLOCK, log_level="warn",
                 start_secs=10, stop_secs=20, timeout=60, port=None):
        self.data = data
        self.extra = list(extra)
        self.clock = clock
        self.log_level = log_level
        self.start_secs = start_secs
        self.stop_secs = stop_secs
        self.timeout = timeout
        self.proc = None
        self.fixed_port = port
        self.port = None
        self.log = None
        self.logname = os.path.join(os.path.dirname(data), os.path.basename(data) + ".log")

    def start(self):
        level = ["--log-level", self.log_level] if self.log_level else []
        for _attempt in range(5):
            self.port = self.fixed_port or free_port()
            self.log = open(self.logname, "ab")
            self.proc = subprocess.Popen(
                [AOX, "serve", "--data", self.data, "--port", str(self.port),
                 "--clock-fixed-ms", self.clock] + level + self.extra,
                stdout=self.log, stderr=self.log)
            deadline = time.time() + self.start_secs
            while time.time() < deadline:
                if self.proc.poll() is not None:
                    break  # port taken between free_port() and bind: retry
                try:
                    c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                    c.request("GET", "/healthz")
                    if c.getresponse().status == 200:
                        c.close()
                        self.conn = Conn(self.port, self.timeout)
                        return self
                except OSError:
                    time.sleep(0.05)
            self.stop(sig=signal.SIGKILL)
        raise RuntimeError("node did not start; see " + self.logname)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=self.stop_secs)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log:
            self.log.close()
        return self.proc.returncode if self.proc else None

    def req(self, method, path, body=None, headers=None, chunked=False):
        """Returns (status, headers dict (lower-case keys), body bytes). Keep-alive."""
        return request(self.conn, method, path, body, headers, chunked)

    def json(self, method, path, body=None, want=200):
        return request_json(self.conn, method, path, body, want)

    def log_count(self, needle):
        """How often needle (bytes) stands in the node's log."""
        with open(self.logname, "rb") as f:
            return f.read().count(needle)


def cleanup(tmp, note=None):
    """The end of a run: if a check failed, prints note and the tail of every node log in
    tmp (stderr); then removes tmp."""
    if failures:
        if note:
            print(note, file=sys.stderr)
        for name in sorted(os.listdir(tmp)):
            if name.endswith(".log"):
                with open(os.path.join(tmp, name), "rb") as f:
                    tail = f.read()[-2000:].decode(errors="replace")
                print("--- %s (tail)\n%s" % (name, tail), file=sys.stderr)
    shutil.rmtree(tmp, ignore_errors=True)


def verdict(ok_text):
    """The exit code of a run (0: every check passed, 1: some failed), with a last line."""
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print(ok_text)
    return 0


def messages(n, start=1):
    return [{"value": i, "seq": i, "note": "message %d" % i} for i in range(start, start + n)]


# ---------------------------------------------------------------------------------
# crash: durability, recovery and determinism
# ---------------------------------------------------------------------------------

def scenario_crash(tmp):
    t0 = time.time()
    a = Node(os.path.join(tmp, "a")).start()
    sp = a.json("POST", "/spawn", DEF)
    pid = sp["process"]
    check(sp["assignment"]["slot"] == 0, "spawn assigns slot 0")

    acks = {0: sp["assignment"]}
    for m in messages(1000):
        asg = a.json("POST", "/%s/schedule" % pid, m)
        acks[asg["slot"]] = asg
    check(sorted(acks) == list(range(1001)), "1,000 dense slots acknowledged")
    t_sched = time.time() - t0

    st, h, r1000 = a.req("GET", "/%s/compute?slot=1000" % pid)
    check(st == 200, "compute 1000 -> %d" % st)
    check(h.get("content-type") == "application/json", "content-type json")
    out = json.loads(r1000)["output"]
    check(out["counter"] == 500500, "counter after 1000 messages is 500500, got %r" % out)
    cached = {1000: r1000}
    for s in (1, 63, 64, 500, 999):
        st, h, body = a.req("GET", "/%s/compute?slot=%d" % (pid, s))
        check(st == 200 and h.get("x-aox-compute", "").startswith("cached=1"),
              "earlier slot %d is cached (%d %s)" % (s, st, h.get("x-aox-compute")))
        check(json.loads(body)["output"]["counter"] == s * (s + 1) // 2,
              "counter at slot %d" % s)
        cached[s] = body
    mid = acks[500]["message-id"]
    st, _h, body = a.req("GET", "/%s/result/%s" % (pid, mid))
    check(st == 200 and body == cached[500], "result by message ID = compute 500")
    # the ao compute-unit form answers in the ao shape (docs/parts/legacy-routes.md)
    st, _h, body = a.req("GET", "/result/%s?process-id=%s" % (mid, pid))
    check(st == 200 and json.loads(body).get("Output") == json.loads(cached[500])["output"],
          "CU-style result route carries compute 500's output: %r" % body[:200])
    now = a.json("GET", "/%s~process@1.0/now" % pid)
    check(now["slot"] == 1000, "now is slot 1000")

    # kill -9: no shutdown snapshot, no goodbye
    a.stop(sig=signal.SIGKILL)
    a = Node(os.path.join(tmp, "a")).start()
    check(a.json("GET", "/%s/slot" % pid) == {"current": 1000}, "slot survives kill -9")
    got = {}
    frm = 0
    while True:
        page = a.json("GET", "/%s/schedule?from=%d" % (pid, frm))
        for asg in page["assignments"]:
            got[asg["slot"]] = asg
        if not page["more"]:
            break
        frm = page["next"]
    check(got == acks, "every acknowledged assignment survives kill -9 (%d of %d equal)"
          % (sum(1 for k in acks if got.get(k) == acks[k]), len(acks)))
    for s, body in cached.items():
        st, h, again = a.req("GET", "/%s/compute?slot=%d" % (pid, s))
        check(st == 200 and again == body, "cached result of slot %d byte-identical" % s)
        check(h.get("x-aox-compute", "").startswith("cached=1"),
              "slot %d served from the cache after restart" % s)

    for m in messages(100, start=1001):
        a.json("POST", "/%s/schedule" % pid, m)
    st, h, r1100 = a.req("GET", "/%s/compute?slot=1100" % pid)
    how = h.get("x-aox-compute", "")
    check(st == 200, "compute 1100 after restart -> %d" % st)
    check("from=snapshot" in how and "start-slot=0" not in how,
          "compute after restart continues from a snapshot (%s)" % how)
    st, _h, r1050 = a.req("GET", "/%s/compute?slot=1050" % pid)
    check(a.stop() == 0, "node exits cleanly (0) on SIGTERM")

    # reference: an uninterrupted run of the same inputs in a second data dir
    # (no fsync here: this run checks determinism, durability was checked above)
    b = Node(os.path.join(tmp, "b"), ["--store-no-sync"]).start()
    spb = b.json("POST", "/spawn", DEF)
    check(spb["process"] == pid, "same definition gives the same pid")
    for m in messages(1100):
        b.json("POST", "/%s/schedule" % pid, m)
    st, h, ref1100 = b.req("GET", "/%s/compute?slot=1100" % pid)
    check("from=init" in h.get("x-aox-compute", "") or "from=live" in h.get("x-aox-compute", ""),
          "reference run computes straight through (%s)" % h.get("x-aox-compute"))
    check(ref1100 == r1100, "slot 1100 after crash+restart == uninterrupted run (bytes)")
    st, _h, ref1050 = b.req("GET", "/%s/compute?slot=1050" % pid)
    check(ref1050 == r1050, "slot 1050 equal to the reference run")
    st, _h, ref1000 = b.req("GET", "/%s/compute?slot=1000" % pid)
    check(ref1000 == cached[1000], "slot 1000 equal to the reference run")
    refacks = b.json("GET", "/%s/schedule?from=990&to=1000" % pid)["assignments"]
    check(refacks == [acks[s] for s in range(990, 1001)],
          "assignments (hash chain) equal to the reference run")
    check(b.stop() == 0, "reference node exits cleanly (0) on SIGTERM")

    # kill -9 in the middle of scheduling: every acknowledged assignment survives
    a = Node(os.path.join(tmp, "a")).start()
    acked = []

    def flood():
        c = Conn(a.port, timeout=10)
        try:
            for m in messages(100000, start=2001):
                st, _h, data = c.req("POST", "/%s/schedule" % pid, m)
                if st == 200:
                    acked.append(json.loads(data))
        except (OSError, http.client.HTTPException):
            pass  # the node died under us: expected
    t = threading.Thread(target=flood)
    t.start()
    deadline = time.time() + 10
    while len(acked) < 20 and time.time() < deadline:
        time.sleep(0.01)
    a.stop(sig=signal.SIGKILL)
    t.join()
    check(len(acked) >= 20, "scheduled some messages before the kill (%d)" % len(acked))
    a = Node(os.path.join(tmp, "a")).start()
    cur = a.json("GET", "/%s/slot" % pid)["current"]
    last = acked[-1]["slot"] if acked else 1100
    check(cur >= last, "slot after kill -9 mid-scheduling (%d) >= last acknowledged (%d)"
          % (cur, last))
    got = {}
    frm = 1101
    while frm <= cur:
        page = a.json("GET", "/%s/schedule?from=%d&to=%d" % (pid, frm, cur))
        for asg in page["assignments"]:
            got[asg["slot"]] = asg
        if not page["more"]:
            break
        frm = page["next"]
    check(sorted(got) == list(range(1101, cur + 1)), "slots stay dense after kill -9")
    check(all(got.get(x["slot"]) == x for x in acked),
          "every assignment acknowledged before kill -9 is stored unchanged")
    check(a.stop() == 0, "node exits cleanly after the second recovery")
    print("crash: scheduled 1,000 in %.2fs; total %.2fs" % (t_sched, time.time() - t0))


# ---------------------------------------------------------------------------------
# errors: every error path returns the right status and JSON, and changes nothing
# ---------------------------------------------------------------------------------

def expect_error(node, method, path, status, code, body=None, headers=None, chunked=False):
    st, h, data = node.req(method, path, body, headers, chunked)
    what = "%s %s" % (method, path[:80])
    check(st == status, "%s -> %d, want %d (%r)" % (what, st, status, data[:200]))
    check(h.get("content-type") == "application/json", "%s content-type json" % what)
    try:
        err = json.loads(data)["error"]
        check(err.get("code") == code, "%s code %r, want %r" % (what, err.get("code"), code))
        check(isinstance(err.get("message"), str) and err["message"],
              "%s has an error message" % what)
        return err, h
    except (ValueError, KeyError, TypeError):
        check(False, "%s error body is JSON {error:{code,message}}: %r" % (what, data[:200]))
        return {}, h


def scenario_errors(tmp):
    n = Node(os.path.join(tmp, "c"), ["--max-body", "4096"]).start()
    r = subprocess.run([AOX, "serve", "--data", n.data, "--port", str(free_port())],
                       capture_output=True, timeout=30)
    check(r.returncode == 4 and b"in use by another aox node" in r.stderr,
          "a second node on the same data directory refuses to start: %d %r"
          % (r.returncode, r.stderr[-200:]))
    pid = n.json("POST", "/spawn", DEF)["process"]
    for m in messages(3):
        n.json("POST", "/%s/schedule" % pid, m)
    unknown = "A" * 43

    def slot():
        return n.json("GET", "/%s/slot" % pid)["current"]

    expect_error(n, "POST", "/%s/schedule" % pid, 400, "bad_json", "{not json")
    expect_error(n, "POST", "/%s/schedule" % pid, 400, "bad_json", "[1,2,3]")
    expect_error(n, "POST", "/%s/schedule" % pid, 400, "bad_json", "")
    expect_error(n, "POST", "/spawn", 400, "bad_json", '{"type":')
    expect_error(n, "GET", "/%s/slot" % unknown, 404, "not_found")
    expect_error(n, "GET", "/%s/compute?slot=1" % unknown, 404, "not_found")
    expect_error(n, "POST", "/%s/schedule" % unknown, 404, "not_found", {"value": 1})
    for bad in ("abc", "-1", "99999999999999999999999", "1.5", ""):
        expect_error(n, "GET", "/%s/compute?slot=%s" % (pid, bad), 400, "invalid")
    expect_error(n, "GET", "/%s/compute" % pid, 400, "invalid")
    big = {"value": 1, "pad": "x" * 5000}
    expect_error(n, "POST", "/%s/schedule" % pid, 413, "too_large", big)
    expect_error(n, "POST", "/%s/schedule" % pid, 413, "too_large", big, chunked=True)
    expect_error(n, "POST", "/spawn", 413, "too_large", dict(DEF, pad="y" * 5000))
    err, _h = expect_error(n, "GET", "/%s/compute?slot=4" % pid, 425, "not_yet")
    check(err.get("current") == 3, "425 carries the current slot 3: %r" % err)
    err, _h = expect_error(n, "GET", "/%s/compute?slot=18446744073709551615" % pid, 425,
                           "not_yet")
    expect_error(n, "GET", "/nope", 404, "not_found")
    expect_error(n, "GET", "/%s/frobnicate" % pid, 404, "not_found")
    expect_error(n, "GET", "/%s~other@1.0/slot" % pid, 404, "not_found")
    _e, h = expect_error(n, "DELETE", "/%s/schedule" % pid, 405, "method_not_allowed")
    check(h.get("allow") == "GET, POST", "405 names the allowed methods: %r" % h.get("allow"))
    expect_error(n, "PUT", "/spawn", 405, "method_not_allowed", "{}")
    expect_error(n, "POST", "/%s/compute?slot=1" % pid, 405, "method_not_allowed", "{}")
    check(slot() == 3, "slot unchanged after every bad request")
    r3 = n.json("GET", "/%s/compute?slot=3" % pid)
    check(r3["output"]["counter"] == 6, "compute still right after errors")
    # a message just under the body cap is accepted
    n.json("POST", "/%s/schedule" % pid, {"value": 4, "pad": "z" * 3000})
    check(slot() == 4, "body under the cap accepted")

    # concurrent clients (one connection each) on one process: dense slots, each
    # message exactly once, while another client computes
    def worker(k, out):
        c = Conn(n.port)
        for i in range(25):
            st, _h, data = c.req("POST", "/%s/schedule" % pid, {"value": 1, "w": k, "i": i})
            out.append((st, json.loads(data).get("slot")))
            if i % 5 == 0:
                c.req("GET", "/%s/now" % pid)
        c.close()
    results = []
    threads = [threading.Thread(target=worker, args=(k, results)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(all(st == 200 for st, _s in results) and
          sorted(s for _st, s in results) == list(range(5, 105)),
          "100 concurrent schedules got slots 5..104 exactly once")
    page = n.json("GET", "/%s/schedule?from=5&to=104" % pid)
    seen = sorted((a["body"]["w"], a["body"]["i"]) for a in page["assignments"])
    check(seen == [(k, i) for k in range(4) for i in range(25)],
          "every concurrent message assigned exactly once")
    check(n.json("GET", "/%s/compute?slot=104" % pid)["output"]["counter"] == 6 + 4 + 100,
          "compute after concurrent scheduling")

    # node information and run-time controls
    info = n.json("GET", "/~meta@1.0/info")
    check("test-counter@1.0" in info.get("devices", []), "info lists devices")
    check(info["options"]["port"]["value"] == n.port, "info shows the effective port")
    check(info["options"]["max-body"] == {"value": 4096, "source": "flag"},
          "info shows max-body from its flag")
    check(info["store"]["backend"] == "lmdb", "info shows the store backend")
    check(n.json("POST", "/~meta@1.0/log-level", {"level": "debug"}) == {"level": "debug"},
          "log level set at run time")
    check(n.json("GET", "/~meta@1.0/log-level") == {"level": "debug"}, "log level reads back")
    check(n.json("GET", "/~meta@1.0/info")["log-level"] == "debug", "info shows the live level")
    expect_error(n, "POST", "/~meta@1.0/log-level", 400, "invalid", {"level": "loud"})
    check(n.json("GET", "/healthz") == {"ok": True}, "healthz")
    check(n.json("GET", "/readyz") == {"ready": True}, "readyz")
    st, h, text = n.req("GET", "/metrics")
    text = text.decode()
    check(st == 200 and h.get("content-type", "").startswith("text/plain"), "metrics served")
    check('aox_http_requests_total{route="compute",status="4xx"}' in text and
          'aox_http_requests_total{route="schedule",status="2xx"} 104' in text and
          "\naox_assignments_total 105\n" in text,
          "metrics count requests and assignments:\n" + text[:1500])
    n.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.2)
    check(n.json("GET", "/healthz") == {"ok": True}, "node serves on after SIGUSR1")
    rc = n.stop(signal.SIGTERM)
    check(rc == 0, "SIGTERM: clean exit 0, got %r" % rc)
    with open(n.log.name, "rb") as f:
        log = f.read().decode(errors="replace")
    check('"event":"snapshot-all","why":"SIGUSR1"' in log, "SIGUSR1 snapshot logged")
    check('"event":"snapshot-all","why":"shutdown"' in log, "shutdown snapshot logged")
    check('"event":"http"' in log, "debug level logs one line per request")


# ---------------------------------------------------------------------------------
# cli: the aox client commands
# ---------------------------------------------------------------------------------

def aox(*args, node=None, stdin=None):
    env = dict(os.environ)
    if node:
        env["AOX_NODE"] = "http://127.0.0.1:%d" % node.port
    r = subprocess.run([AOX] + list(args), input=stdin, capture_output=True, env=env,
                       timeout=60)
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def scenario_cli(tmp):
    n = Node(os.path.join(tmp, "d")).start()
    defpath = os.path.join(tmp, "def.json")
    with open(defpath, "w") as f:
        json.dump(DEF, f)
    rc, out, err = aox("spawn", defpath, node=n)
    check(rc == 0, "aox spawn: %d %s" % (rc, err))
    pid = json.loads(out)["process"]
    rc, out, err = aox("schedule", pid, "-", node=n, stdin=b'{"value": 7}')
    check(rc == 0 and json.loads(out)["slot"] == 1, "aox schedule from stdin: %s %s" % (out, err))
    mid = json.loads(out)["message-id"]
    rc, out, err = aox("--node", "http://127.0.0.1:%d" % n.port, "compute", pid, "1")
    check(rc == 0 and json.loads(out)["output"]["counter"] == 7, "aox compute (--node)")
    rc, out2, _ = aox("result", pid, mid, node=n)
    check(rc == 0 and out2 == out, "aox result = aox compute")
    rc, out, _ = aox("now", pid, node=n)
    check(rc == 0 and json.loads(out)["slot"] == 1, "aox now")
    rc, out, _ = aox("slot", pid, node=n)
    check(rc == 0 and json.loads(out) == {"current": 1}, "aox slot")
    rc, out, _ = aox("assignments", pid, "0", "1", node=n)
    check(rc == 0 and len(json.loads(out)["assignments"]) == 2, "aox assignments")
    rc, out, _ = aox("info", node=n)
    check(rc == 0 and "test-counter@1.0" in json.loads(out)["devices"], "aox info")
    modpath = os.path.join(tmp, "mod.lua")
    with open(modpath, "wb") as f:
        f.write(b"return function(m) return m end\n\x00\xff")
    rc, out, _ = aox("module", "add", modpath, node=n)
    check(rc == 0 and len(json.loads(out)["id"]) == 43, "aox module add")
    mod_id = json.loads(out)["id"]
    r = subprocess.run([AOX, "--node", "http://127.0.0.1:%d" % n.port, "module", "get", mod_id],
                       capture_output=True)
    with open(modpath, "rb") as f:
        check(r.returncode == 0 and r.stdout == f.read(), "aox module get returns the bytes")
    rc, out, _ = aox("log-level", "error", node=n)
    check(rc == 0 and json.loads(out) == {"level": "error"}, "aox log-level")

    # errors and exit codes
    rc, out, err = aox("compute", pid, "5", node=n)
    check(rc == 1 and "425" in err and '"not_yet"' in err, "not-yet: exit 1, body on stderr")
    rc, _o, err = aox("slot", "A" * 43, node=n)
    check(rc == 1 and "404" in err, "unknown pid: exit 1")
    rc, _o, err = aox("compute", pid, "abc", node=n)
    check(rc == 2, "bad slot: usage exit 2")
    rc, _o, err = aox("schedule", pid, os.path.join(tmp, "missing.json"), node=n)
    check(rc == 4 and "missing.json" in err, "unreadable file: exit 4")
    rc, _o, err = aox("--node", "http://127.0.0.1:1", "slot", pid)
    check(rc == 3 and "cannot reach" in err, "unreachable node: exit 3")
    rc, _o, err = aox("frobnicate")
    check(rc == 2 and "unknown command" in err, "unknown command: exit 2")
    rc, _o, err = aox("compute", pid)
    check(rc == 2, "missing argument: exit 2")
    check(n.stop() == 0, "node exits cleanly (0) on SIGTERM")

    # help is generated from the same tables
    rc, top, _ = aox("--help")
    check(rc == 0, "aox --help")
    for cmd in ("serve", "spawn", "schedule", "compute", "now", "slot", "assignments",
                "result", "info", "log-level", "module", "options", "wasm", "help"):
        check("  " + cmd + " " in top, "aox --help lists %s" % cmd)
    # both help forms come from one table; a sample keeps the test quick under ASan
    for cmd in ("serve", "spawn", "compute", "assignments", "module"):
        rc1, h1, _ = aox("help", cmd)
        rc2, h2, _ = aox(cmd, "--help")
        check(rc1 == 0 and rc2 == 0 and h1 == h2 and h1, "aox help %s == aox %s --help" % (cmd, cmd))
    rc, serve_help, _ = aox("serve", "--help")
    rc, md, _ = aox("options", "--markdown")
    flags = [line.split("`")[1] for line in md.splitlines() if line.startswith("| `--")]
    check(len(flags) >= 15, "options table has its rows")
    for flag in flags:
        check(flag in serve_help, "serve --help documents %s" % flag)
    doc = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                       "parts", "node-http-cli.md")
    if os.path.exists(doc):
        with open(doc) as f:
            check(md.strip() in f.read(), "docs/parts/node-http-cli.md has the current "
                  "option table (regenerate with `aox options --markdown`)")
    rc, _o, err = aox("serve", "--port", "99999")
    check(rc == 2 and "port" in err, "serve rejects a bad option with exit 2")


def main():
    global AOX
    if len(sys.argv) != 3 or sys.argv[2] not in ("crash", "errors", "cli"):
        print(__doc__, file=sys.stderr)
        return 2
    AOX = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="aox-e2e-")
    try:
        {"crash": scenario_crash, "errors": scenario_errors, "cli": scenario_cli}[sys.argv[2]](tmp)
    finally:
        cleanup(tmp)
    return verdict("e2e %s: all checks passed" % sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
