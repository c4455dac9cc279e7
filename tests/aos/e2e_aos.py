#!/usr/bin/env python3
"""End-to-end: emscripten-built aos-style modules run as processes of a real `aox serve`
over loopback HTTP (Python 3 standard library only).

  e2e_aos.py AOX_BINARY MOD_C_WASM [MOD64_WASM]

Uploads the module (POST /modules), spawns a wasm@1.0 process with memory and compute
limits, schedules messages and reads their results: output, outbox, the compute- and
memory-limit errors with the node still serving and the next message normal; then
restarts the node and checks that computing continues from the stored state; slot 0
is the Process message through handle (boot), run once. With a
wasm64 module, does the same briefly with a HyperBEAM-style stack definition.
Results carry the device's `state-digest`; a delegated@1.0 process over wasm@1.0 with
verify=2 on two peer nodes gets agreeing digests, also after one peer restarts and
recomputes the state from init.
"""
import json
import os
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
# the node helpers of the end-to-end tests (tests/e2e/e2e_core.py)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e_core as core  # noqa: E402
from e2e_core import check  # noqa: E402


def start_node(data, extra=(), port=None):
    """`aox serve` on data: a clock the boot test reads back, snapshots every 4 slots,
    patient connections (wasm computing under AddressSanitizer); port: a fixed one
    (a peer restarting where its delegator expects it)."""
    return core.Node(data, ["--snapshot-every", "4"] + list(extra), clock="1700000000123",
                     stop_secs=30, timeout=120, port=port).start()


def call(node, method, path, body=None):
    """Returns (status, the JSON body: parsed, None if empty, {"unparsed": ...} if not
    JSON)."""
    st, _h, data = node.req(method, path, body)
    try:
        return st, json.loads(data) if data else None
    except ValueError:
        return st, {"unparsed": data[:200].decode("latin-1")}


SEQ = [0]


def result_of(node, pid, msg):
    # a distinct message every time (scheduling is idempotent by message ID)
    SEQ[0] += 1
    msg = dict(msg, nonce=str(SEQ[0]))
    st, asg = call(node, "POST", "/%s/schedule" % pid, msg)
    check(st == 200, "schedule %r -> %d %r" % (msg, st, asg))
    slot = asg.get("slot") if isinstance(asg, dict) else None
    st, res = call(node, "GET", "/%s/compute?slot=%s" % (pid, slot))
    check(st == 200, "compute slot %s -> %d %r" % (slot, st, res))
    return res or {}


def data_of(res):
    out = res.get("output")
    return out.get("data") if isinstance(out, dict) else out


def err_code(res):
    e = res.get("error")
    return e.get("code") if isinstance(e, dict) else None


def delegated(mod_c, tmp):
    peers = [start_node(os.path.join(tmp, "peer%d" % i)) for i in (1, 2)]
    urls = ",".join("http://127.0.0.1:%d" % p.port for p in peers)
    d = start_node(os.path.join(tmp, "delegator"), ["--peers", urls])
    try:
        for n in peers + [d]:
            st, up = call(n, "POST", "/modules", open(mod_c, "rb").read())
            check(st == 200, "module upload -> %d %r" % (st, up))
        st, sp = call(d, "POST", "/spawn", {
            "type": "Process", "execution-device": "delegated@1.0",
            "delegate-device": "wasm@1.0", "verify": 2, "image": up["id"],
            "name": "aos-delegated", "data": "d-boot"})
        check(st == 200 and "process" in sp, "delegated spawn -> %d %r" % (st, sp))
        pid = sp.get("process")
        digests = []
        for i, (msg, want) in enumerate([("count", "1"), ("write", "written"), ("count", "2"),
                                         ("read", "line;"), ("count", "3")]):
            if i == 3:                           # a peer restarts: it recomputes from init
                peers[0].stop()
                peers[0] = start_node(peers[0].data, port=peers[0].port)
            res = result_of(d, pid, {"data": msg})
            check(data_of(res) == want, "delegated wasm %s: %r" % (msg, res))
            digests.append(res.get("state-digest"))
        check(all(x and len(x) == 43 for x in digests) and len(set(digests)) == len(digests),
              "delegated wasm results carry distinct state digests: %r" % digests)
    finally:
        d.stop()
        for p in peers:
            p.stop()


def main():
    core.AOX, mod_c = os.path.abspath(sys.argv[1]), sys.argv[2]
    mod64 = sys.argv[3] if len(sys.argv) > 3 else None
    tmp = tempfile.mkdtemp(prefix="aox-aos-e2e-")
    node = start_node(os.path.join(tmp, "n"))
    try:
        st, up = call(node, "POST", "/modules", open(mod_c, "rb").read())
        check(st == 200 and "id" in up, "module upload -> %d %r" % (st, up))
        image = up["id"]
        st, sp = call(node, "POST", "/spawn", {
            "type": "Process", "execution-device": "wasm@1.0", "image": image,
            "memory-limit": "64-mb", "compute-limit": 20000000, "name": "aos-e2e",
            "data": "e2e-boot"})
        check(st == 200 and "process" in sp, "spawn -> %d %r" % (st, sp))
        pid = sp["process"]
        # slot 0 is the Process message through handle (boot)
        st, res = call(node, "GET", "/%s/compute?slot=0" % pid)
        check(st == 200 and data_of(res) == "booted e2e-boot", "slot 0 boot: %d %r" % (st, res))
        sender = "SENDER00000000000000000000000000000000000B"

        res = result_of(node, pid, {"data": "ping", "from": sender, "action": "Ping"})
        check(data_of(res) == "pong", "ping output: %r" % res)
        ob = res.get("outbox") or []
        check(len(ob) == 1 and ob[0].get("target") == sender and ob[0].get("action") == "Pong"
              and ob[0].get("from-process") == pid, "ping outbox: %r" % ob)
        check(isinstance(res.get("gas"), int) and res["gas"] > 0, "gas reported: %r" % res)

        check(data_of(result_of(node, pid, {"data": "count"})) == "1", "count 1")
        check(data_of(result_of(node, pid, {"data": "jump"})) == "jumped 42", "longjmp")
        res = result_of(node, pid, {"data": "loop"})
        check(err_code(res) == "out_of_fuel" and res["error"].get("message") == "out of gas!",
              "compute limit error: %r" % res)
        res = result_of(node, pid, {"data": "grow"})
        check(err_code(res) == "out_of_memory", "memory limit error: %r" % res)
        st, _ = call(node, "GET", "/healthz")
        check(st == 200, "node keeps serving after limit errors")
        res = result_of(node, pid, {"data": "count"})
        check(data_of(res) == "2", "count after errors: %r" % res)
        res = result_of(node, pid, {"data": "write"})
        check(data_of(res) == "written", "file write")
        dg = res.get("state-digest") or ""
        check(len(dg) == 43, "wasm results carry a state-digest: %r" % res)

        # restart: the state comes back from the store (snapshot + replay)
        node.stop()
        node = start_node(node.data)
        res = result_of(node, pid, {"data": "count"})
        check(data_of(res) == "3", "count after restart: %r" % res)
        check(data_of(result_of(node, pid, {"data": "read"})) == "line;", "file after restart")
        res = result_of(node, pid, {"data": "boots"})
        check(data_of(res) == "boots=1 data=e2e-boot ts=1700000000123",
              "boot once, state kept over restart: %r" % res)

        if mod64:
            st, up = call(node, "POST", "/modules", open(mod64, "rb").read())
            st, sp = call(node, "POST", "/spawn", {
                "type": "Process", "execution-device": "stack@1.0",
                "device-stack": ["wasi@1.0", "json-iface@1.0", "wasm-64@1.0"],
                "image": up["id"], "compute-limit": 1000000})
            check(st == 200, "spawn stack -> %d %r" % (st, sp))
            pid64 = sp["process"]
            # the stack boots too: handle ran on the Process message (counter 1)
            st, res = call(node, "GET", "/%s/compute?slot=0" % pid64)
            check(st == 200 and data_of(res) == "1", "wasm64 stack boot: %d %r" % (st, res))
            check(data_of(result_of(node, pid64, {"data": "a"})) == "2", "wasm64 stack a")
            res = result_of(node, pid64, {"data": "loop"})
            check(err_code(res) == "out_of_fuel", "wasm64 compute limit: %r" % res)
            check(data_of(result_of(node, pid64, {"data": "b"})) == "3", "wasm64 stack b")
        delegated(mod_c, tmp)
    finally:
        node.stop()
        core.cleanup(tmp)
    return core.verdict("e2e_aos: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
