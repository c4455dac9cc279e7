#!/bin/sh
# bench/isolation/run.sh [AOX_BINARY] [SLOTS]: slots/s of --isolation=thread vs process
# for test-counter@1.0 and lua@5.3. For each mode and device: a fresh node (no fsync),
# spawn, schedule SLOTS messages, then time one compute of the last slot (all slots
# applied by one worker; snapshots every 64 slots) and a cold start (the first compute
# of a second process: init + one slot, i.e. the worker-process fork in process mode;
# the median of COLD such processes, one after the other). AOX_BENCH_ARGS adds serve
# options (e.g. AOX_BENCH_ARGS="--prefork 0" for on-demand forks).
set -eu
AOX=${1:-build/aox}
SLOTS=${2:-2000}
COLD=${3:-9}
exec python3 - "$AOX" "$SLOTS" "$COLD" <<'PY'
import http.client, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time
aox, slots, cold_n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
extra = os.environ.get("AOX_BENCH_ARGS", "").split()
LUA = "count = count or 0\nfunction handle(msg) count = count + 1; return {output = count} end\n"
def port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
def run(mode, device):
    tmp = tempfile.mkdtemp(prefix="aox-bench-iso-"); p = port()
    node = subprocess.Popen([aox, "serve", "--data", tmp + "/d", "--port", str(p),
                             "--store-no-sync", "--log-level", "off", "--isolation", mode] + extra)
    try:
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", p, timeout=600)
                c.request("GET", "/healthz"); c.getresponse().read(); break
            except OSError:
                time.sleep(0.05)
        def req(m, path, body=None):
            c.request(m, path, body=body if isinstance(body, (bytes, type(None))) else json.dumps(body))
            r = c.getresponse(); d = r.read()
            if r.status != 200: raise SystemExit("%s %s -> %d %r" % (m, path, r.status, d[:200]))
            return json.loads(d)
        d = {"type": "Process", "execution-device": device}
        if device == "lua@5.3":
            d["module"] = req("POST", "/modules", LUA.encode())["id"]
        pid = req("POST", "/spawn", d)["process"]
        for i in range(slots):
            req("POST", "/%s/schedule" % pid, {"value": 1, "seq": i})
        t = time.perf_counter(); req("GET", "/%s/compute?slot=%d" % (pid, slots))
        run_s = time.perf_counter() - t
        colds = []
        for k in range(cold_n):
            d2 = dict(d, name="cold-%d" % k); pid2 = req("POST", "/spawn", d2)["process"]
            req("POST", "/%s/schedule" % pid2, {"value": 1})
            time.sleep(0.05)          # a request every 50 ms: spares have time to refill
            t = time.perf_counter(); req("GET", "/%s/compute?slot=1" % pid2)
            colds.append((time.perf_counter() - t) * 1000)
        return slots / run_s, statistics.median(colds)
    finally:
        node.terminate(); node.wait(); shutil.rmtree(tmp, ignore_errors=True)
print("%-16s %-8s %12s %14s" % ("device", "mode", "slots/s", "cold ms (med)"))
for device in ("test-counter@1.0", "lua@5.3"):
    for mode in ("thread", "process"):
        rate, cold = run(mode, device)
        print("%-16s %-8s %12.0f %14.2f" % (device, mode, rate, cold))
PY
