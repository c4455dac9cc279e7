#!/usr/bin/env python3
"""End-to-end: a real Lua 5.3 VM compiled to wasm32 (aoslua.wasm: Debian's Lua source +
tests/aoslua/glue.c + process.lua) runs an aos-like token process on a real `aox serve`
over loopback HTTP, through the aos JSON interface (wasm@1.0).

  e2e_aoslua.py AOX_BINARY AOSLUA_WASM [full|short]

full: boot (the Process message's Data = initial balances), ~200 transfers from four
senders checked one by one against a Python model (output, debit/credit notices or
Transfer-Error, their tags and targets), Balance, an Eval that keeps state, a Lua
error (an error result, the state unchanged), a memory bomb (the memory-limit error,
the node serving on), a dry-run of Balance that changes nothing; then the same
messages on a second node that is killed (SIGKILL) twice and restarted while
computing (snapshots every 5 slots): every slot's result must be identical to the
uninterrupted run's. short: boot, transfers, the error, the bomb, Eval (for the
wasm-exceptions build).
"""
import json
import os
import random
import signal
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import e2e_core as core  # noqa: E402
from e2e_core import check  # noqa: E402

SENDERS = ["SENDER%s%s" % (c, "0" * 35 + c) for c in "ABCD"]
OTHERS = ["OTHER%s%s" % (c, "0" * 36 + c) for c in "XY"]
INITIAL = {SENDERS[0]: 5000, SENDERS[1]: 3000, SENDERS[2]: 1000, SENDERS[3]: 200}


def start_node(data):
    """Snapshots every 5 slots; patient connections (ASan builds are slow)."""
    return core.Node(data, ["--snapshot-every", "5"], stop_secs=30, timeout=180).start()


def call(node, method, path, body=None):
    st, _h, data = node.req(method, path, body)
    try:
        return st, json.loads(data) if data else None
    except ValueError:
        return st, {"unparsed": data[:300].decode("latin-1")}


def data_of(res):
    out = (res or {}).get("output")
    return out.get("data") if isinstance(out, dict) else out


def err_of(res):
    e = (res or {}).get("error")
    return (e.get("code"), e.get("message", "")) if isinstance(e, dict) else (None, "")


def spawn(node, wasm):
    st, up = call(node, "POST", "/modules", open(wasm, "rb").read())
    check(st == 200 and "id" in up, "module upload -> %d %r" % (st, up))
    st, sp = call(node, "POST", "/spawn", {
        "type": "Process", "execution-device": "wasm@1.0", "image": up["id"],
        "memory-limit": "24-mb", "name": "aoslua", "data": json.dumps(INITIAL)})
    check(st == 200 and "process" in sp, "spawn -> %d %r" % (st, sp))
    return sp["process"]


def schedule(node, pid, msg):
    st, asg = call(node, "POST", "/%s/schedule" % pid, msg)
    check(st == 200 and isinstance(asg, dict) and "slot" in asg,
          "schedule %r -> %d %r" % (msg, st, asg))
    return asg.get("slot") if isinstance(asg, dict) else None


def compute(node, pid, slot):
    st, res = call(node, "GET", "/%s/compute?slot=%s" % (pid, slot))
    check(st == 200, "compute slot %s -> %d %r" % (slot, st, res))
    return res or {}


def tags_of(m):
    return {t["name"]: t["value"] for t in m.get("original-tags") or []}


def script(n_transfers, seed=7):
    """The message sequence (each with its expectation from the Python model) and the
    model's final balances."""
    rnd = random.Random(seed)
    bal = dict(INITIAL)
    seq = []
    for i in range(n_transfers):
        frm = rnd.choice(SENDERS)
        to = rnd.choice(SENDERS + OTHERS)
        q = rnd.randint(1, 400)
        msg = {"from": frm, "action": "Transfer", "recipient": to, "quantity": str(q),
               "nonce": str(i)}
        ok = bal.get(frm, 0) >= q
        if ok:
            bal[frm] -= q
            bal[to] = bal.get(to, 0) + q
        seq.append((msg, ("transfer", frm, to, q, ok)))
        if i == 50:
            seq.append(({"from": SENDERS[0], "action": "Fail", "data": "on purpose",
                         "nonce": "f"}, ("fail",)))
            seq.append(({"from": SENDERS[0], "action": "Balances", "nonce": "b1"},
                        ("balances", dict(bal))))
        if i == 80:
            seq.append(({"from": SENDERS[1], "action": "Bomb", "nonce": "m"}, ("bomb",)))
            seq.append(({"from": SENDERS[1], "action": "Balance", "recipient": SENDERS[1],
                         "nonce": "b2"}, ("balance", SENDERS[1], bal.get(SENDERS[1], 0))))
        if i in (100, 150):
            seq.append(({"from": SENDERS[2], "action": "Eval", "nonce": "e%d" % i,
                         "data": "Evals = (Evals or 0) + 1 return Evals * 1000 + "
                                 "(Balances['%s'] or 0)" % SENDERS[3]},
                        ("eval", (1 if i == 100 else 2) * 1000 + bal.get(SENDERS[3], 0))))
    seq.append(({"from": SENDERS[0], "action": "Balances", "nonce": "end"},
                ("balances", dict(bal))))
    return seq, bal


def check_result(pid, res, exp):
    kind = exp[0]
    ob = res.get("outbox") or []
    what = "%s: %r" % (exp, res)
    if kind == "transfer":
        _k, frm, to, q, ok = exp
        check(err_of(res)[0] is None, "transfer without error " + what)
        if ok:
            check(data_of(res) == "Transferred %d to %s" % (q, to), "transfer output " + what)
            check(len(ob) == 2, "two notices " + what)
            if len(ob) == 2:
                d, c = ob
                check(d.get("target") == frm and tags_of(d) == {
                    "Action": "Debit-Notice", "Recipient": to, "Quantity": str(q)}
                    and d.get("action") == "Debit-Notice" and d.get("from-process") == pid,
                    "debit notice " + what)
                check(c.get("target") == to and tags_of(c) == {
                    "Action": "Credit-Notice", "Sender": frm, "Quantity": str(q)}
                    and c.get("data") == "You received %d from %s" % (q, frm),
                    "credit notice " + what)
        else:
            check(data_of(res) == "Insufficient Balance!", "refused transfer " + what)
            check(len(ob) == 1 and ob[0].get("target") == frm
                  and tags_of(ob[0]).get("Action") == "Transfer-Error", "transfer error " + what)
    elif kind == "balances":
        try:
            got = json.loads(data_of(res) or "null")
        except ValueError:
            got = None
        check(got == exp[1], "balances equal the model (state untouched by Fail/Bomb) " + what)
    elif kind == "balance":
        check(data_of(res) == str(exp[2]) and len(ob) == 1
              and tags_of(ob[0]).get("Balance") == str(exp[2])
              and tags_of(ob[0]).get("Account") == exp[1], "balance " + what)
    elif kind == "fail":
        code, message = err_of(res)
        check(code == "guest_error" and "deliberate failure: on purpose" in message
              and "process.lua" in message, "Lua error is the slot's error " + what)
        check(not ob, "no outbox from a failed message " + what)
    elif kind == "bomb":
        code, message = err_of(res)
        check(code == "out_of_memory" and "Cannot enlarge memory" in message,
              "memory bomb hits the memory limit " + what)
    elif kind == "eval":
        check(data_of(res) == str(exp[1]), "eval " + what)


def boot_check(node, pid):
    res = compute(node, pid, 0)
    check(data_of(res) == "booted LTK" and err_of(res)[0] is None, "slot 0 boot: %r" % res)


def normalise(res, pid):
    return json.dumps(res, sort_keys=True).replace(pid, "<pid>")


def run_full(wasm, tmp):
    seq, bal = script(200)
    # the reference: uninterrupted
    ref = start_node(os.path.join(tmp, "ref"))
    results = {}
    try:
        pid = spawn(ref, wasm)
        boot_check(ref, pid)
        for msg, exp in seq:
            slot = schedule(ref, pid, msg)
            res = compute(ref, pid, slot)
            check_result(pid, res, exp)
            results[slot] = normalise(res, pid)
        st, _ = call(ref, "GET", "/healthz")
        check(st == 200, "node serving after the bomb")
        # a dry run of Balance: answers from the latest state and changes nothing
        st, cur = call(ref, "GET", "/%s/slot" % pid)
        dry = {"From": SENDERS[0], "Owner": SENDERS[0],
               "Tags": [{"name": "Action", "value": "Balance"},
                        {"name": "Recipient", "value": OTHERS[0]}]}
        for _ in range(2):
            st, d = call(ref, "POST", "/dry-run?process-id=%s" % pid, dry)
            out = d.get("Output") if isinstance(d, dict) else None
            got = out.get("data") if isinstance(out, dict) else out
            check(st == 200 and got == str(bal.get(OTHERS[0], 0)), "dry-run Balance: %d %r"
                  % (st, d))
        st, cur2 = call(ref, "GET", "/%s/slot" % pid)
        check(cur == cur2, "a dry run schedules nothing: %r %r" % (cur, cur2))
        slot = schedule(ref, pid, {"from": SENDERS[0], "action": "Balances", "nonce": "post-dry"})
        check(json.loads(data_of(compute(ref, pid, slot)) or "null") == bal,
              "balances unchanged by the dry runs")
    finally:
        ref.stop()

    # the same messages on a node killed twice while computing
    node = start_node(os.path.join(tmp, "a"))
    try:
        pid2 = spawn(node, wasm)
        slots = [schedule(node, pid2, msg) for msg, _ in seq]
        kills = {len(slots) // 3, 2 * len(slots) // 3}
        for i, slot in enumerate(slots):
            if i in kills:
                node.stop(sig=signal.SIGKILL)
                node = start_node(node.data)
            res = compute(node, pid2, slot)
            check(normalise(res, pid2) == results.get(slot),
                  "slot %s identical after kill -9 and restart:\n%s\n%s"
                  % (slot, normalise(res, pid2)[:300], (results.get(slot) or "")[:300]))
    finally:
        node.stop()


def run_short(wasm, tmp):
    seq, bal = script(20)
    seq = seq[:-1] + [
        ({"from": SENDERS[0], "action": "Fail", "data": "on purpose", "nonce": "f"}, ("fail",)),
        ({"from": SENDERS[1], "action": "Bomb", "nonce": "m"}, ("bomb",)),
        ({"from": SENDERS[2], "action": "Eval", "nonce": "e",
          "data": "return 1000 + (Balances['%s'] or 0)" % SENDERS[3]},
         ("eval", 1000 + bal.get(SENDERS[3], 0))),
        seq[-1]]
    node = start_node(os.path.join(tmp, "s"))
    try:
        pid = spawn(node, wasm)
        boot_check(node, pid)
        for msg, exp in seq:
            check_result(pid, compute(node, pid, schedule(node, pid, msg)), exp)
    finally:
        node.stop()


def main():
    core.AOX, wasm = os.path.abspath(sys.argv[1]), sys.argv[2]
    mode = sys.argv[3] if len(sys.argv) > 3 else "full"
    if not os.path.exists(wasm):
        why = wasm + ".fetch-failed"
        reason = open(why).read() if os.path.exists(why) else "not built"
        print("e2e_aoslua: FAILED: %s is missing.\n%s" % (wasm, reason), file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="aox-aoslua-e2e-")
    try:
        (run_full if mode == "full" else run_short)(wasm, tmp)
    finally:
        core.cleanup(tmp)
    return core.verdict("e2e_aoslua (%s): all checks passed" % mode)


if __name__ == "__main__":
    sys.exit(main())
