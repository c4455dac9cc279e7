#!/usr/bin/env python3
"""Over-HTTP acceptance of the lua@5.3 device (issue 4), Python 3 standard library only.

  e2e_lua.py AOX_BINARY token    a token process (tests/e2e/lua/token.lua) whose Mint,
                                 Transfer, Balance, ... handlers arrive at run time as
                                 Lua source (closures sharing upvalues) gets N messages
                                 (default 10,000; AOX_E2E_LUA_MESSAGES) over several
                                 keep-alive connections; they are computed with
                                 snapshots every 37 slots plus SIGUSR1 snapshots at
                                 random points, and the node is killed with kill -9
                                 three times (once right after a forced snapshot, twice
                                 in the middle of a long computation) and restarted.
                                 Every slot's result bytes must equal those of a
                                 reference node that was never interrupted, and the
                                 results must agree with a model of the token.
  e2e_lua.py AOX_BINARY limits   an infinite loop and a memory bomb each end with their
                                 error result (out_of_fuel, out_of_memory) in bounded
                                 time, the process computes on afterwards, and another
                                 process is answered while the loop spins.
  e2e_lua.py AOX_BINARY unsnapshottable
                                 regression: a process whose state cannot be snapshotted
                                 (a suspended coroutine) computes on; the snapshot is
                                 skipped and recovery replays from an older one.

Each scenario starts its own node(s) on free loopback ports with temporary data
directories (removed at the end; on failure the node logs' tails are printed).
"""
import functools
import http.client
import json
import os
import random
import signal
import socket
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import e2e_core as core  # noqa: E402
from e2e_core import FIXED_CLOCK, check, failures  # noqa: E402

# long computations (and AddressSanitizer builds): patient connections and nodes
Conn = functools.partial(core.Conn, timeout=120)


def Node(data, extra=()):
    """One `aox serve` on a data directory, at the node's default log level."""
    return core.Node(data, extra, log_level=None, start_secs=30, stop_secs=60, timeout=120)


def pipeline(port, reqs):
    """Sends reqs [(method, path, body or None)] on one new connection without waiting
    for the answers (HTTP/1.1 pipelining: answers come back in order) and returns
    [(status, headers dict, body bytes)]. Much faster than one round trip each."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    out = []
    wire = []
    for method, path, body in reqs:
        body = json.dumps(body).encode() if body is not None else b""
        wire.append(b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                    b"\r\nContent-Length: %d\r\n\r\n%s"
                    % (method.encode(), path.encode(), len(body), body))
    sender = threading.Thread(target=s.sendall, args=(b"".join(wire),))
    sender.start()          # a thread: the node answers while we are still sending
    try:
        f = s.makefile("rb")
        for _ in reqs:
            line = f.readline()
            if not line:
                raise ConnectionError("connection closed after %d answers" % len(out))
            hdrs = {}
            while True:
                h = f.readline()
                if h in (b"\r\n", b""):
                    break
                k, v = h.decode().split(":", 1)
                hdrs[k.strip().lower()] = v.strip()
            out.append((int(line.split()[1]), hdrs, f.read(int(hdrs.get("content-length", 0)))))
    finally:
        sender.join()
        s.close()
    return out


def add_module(node, source):
    st, _h, data = node.conn.req("POST", "/modules", source)
    check(st == 200, "module upload -> %d %r" % (st, data[:200]))
    return json.loads(data)["id"]


# ---------------------------------------------------------------------------------
# token: 10,000 messages, kill -9 three times, byte-identical to a reference run
# ---------------------------------------------------------------------------------

# Handler sources sent as the data of AddHandler messages. Each chunk gets the
# module's `api` (closures over the module's `supply`) and may share its own locals
# between the handlers it adds (count: Transfer/Transfers; burned: Burn/Burned).
H_MINT = """local api = ...
return api.add('Mint', function(msg)
  local q = api.qty(msg.Quantity)
  local bal = api.mint(msg.Recipient, q)
  return { minted = q, balance = bal, supply = api.supply() }
end)"""
H_TRANSFER = """local api = ...
local count = 0
api.add('Transfers', function() return { transfers = count } end)
return api.add('Transfer', function(msg)
  count = count + 1            -- before the check: a failure must roll this back
  local q = api.qty(msg.Quantity)
  local left = api.move(msg.From, msg.Recipient, q)
  ao.send({ Target = msg.Recipient, Action = 'Credit-Notice', Quantity = tostring(q),
            Sender = msg.From })
  return { from = msg.From, to = msg.Recipient, balance = left, n = count }
end)"""
H_BALANCE = """local api = ...
return api.add('Balance', function(msg)
  return { account = msg.Account, balance = Balances[msg.Account] or 0 }
end)"""
H_BALANCE2 = """local api = ...
local asked = 0
return api.add('Balance', function(msg)
  asked = asked + 1
  print('balance of ' .. msg.Account .. ' #' .. asked)
  return { account = msg.Account, balance = Balances[msg.Account] or 0, asked = asked }
end)"""
H_STATS = """local api = ...
local calls = 0
return api.add('Stats', function(msg)
  calls = calls + 1
  local n, total, top, topv = 0, 0, '', -1
  for k, v in pairs(Balances) do
    n = n + 1
    total = total + v
    if v > topv then top, topv = k, v end
  end
  assert(total == api.supply(), 'balances ' .. total .. ' ~= supply ' .. api.supply())
  return { calls = calls, holders = n, total = total, top = top,
           lucky = math.random(1, 1000000), time = os.time() }
end)"""
H_BURN = """local api = ...
local burned = 0
api.add('Burned', function() return { burned = burned, supply = api.supply() } end)
return api.add('Burn', function(msg)
  local q = api.qty(msg.Quantity)
  burned = burned + q
  return { burned = burned, supply = api.burn(msg.From, q) }
end)"""
H_SYNTAX = "local api = ...\nreturn api.add('Oops', function(msg) return 1 end"
H_HALF = """local api = ...
api.add('Half', function() return 'half' end)
error('this chunk fails after adding Half: the add must be rolled back')"""

ACCOUNTS = ["acct%02d" % i for i in range(24)]   # acct20..23 are never minted


def add_handler(name, src, seq):
    return {"action": "AddHandler", "name": name, "data": src, "seq": seq}


def token_messages(n, rng):
    """(prefix, flood, suffix): prefix and suffix are scheduled in order on one
    connection, the flood over several connections at once (order decided by the
    node; the reference run replays the order the node chose)."""
    seq = iter(range(1, 10 ** 9))
    prefix = [add_handler("Mint", H_MINT, next(seq)),
              add_handler("Transfer", H_TRANSFER, next(seq)),
              add_handler("Balance", H_BALANCE, next(seq)),
              add_handler("Oops", H_SYNTAX, next(seq)),
              add_handler("Stats", H_STATS, next(seq)),
              add_handler("Half", H_HALF, next(seq))]
    for a in ACCOUNTS[:20]:
        prefix.append({"action": "Mint", "recipient": a, "quantity": "1000", "seq": next(seq)})
    suffix_len = 3
    flood = []
    for i in range(max(0, n - len(prefix) - suffix_len)):
        if i == (n // 2):
            flood.append(add_handler("Burn", H_BURN, next(seq)))
            flood.append(add_handler("Balance", H_BALANCE2, next(seq)))
        r = rng.random()
        a, b = rng.choice(ACCOUNTS), rng.choice(ACCOUNTS)
        if r < 0.62:
            m = {"action": "Transfer", "from": a, "recipient": b,
                 "quantity": str(rng.randint(1, 60))}
        elif r < 0.76:
            m = {"action": "Balance", "account": a}
        elif r < 0.84:
            m = {"action": "Mint", "recipient": a, "quantity": str(rng.randint(1, 500))}
        elif r < 0.88:
            m = {"action": "Stats"}
        elif r < 0.93:
            m = {"action": "Burn", "from": a, "quantity": str(rng.randint(1, 30))}
        elif r < 0.95:
            m = {"action": "Burned"}
        elif r < 0.97:
            m = {"action": "Transfers"}
        elif r < 0.98:
            m = {"action": "Half"}
        else:
            m = {"action": "Transfer", "from": a, "recipient": b, "quantity": "-5"}
        m["seq"] = next(seq)
        flood.append(m)
    suffix = [{"action": "Stats", "seq": next(seq)}, {"action": "Transfers", "seq": next(seq)},
              {"action": "Burned", "seq": next(seq)}]
    return prefix, flood, suffix


def check_model(bodies, results):
    """Replays the token in Python over the node's slot order and checks every result:
    which messages fail, balances, supply, and the upvalue counters (Transfer's
    `count`, Burn's `burned`, AddHandler's `added`) that a failed message must leave
    unchanged. bodies/results: dicts slot -> message body / decoded result."""
    bal, supply, transfers, burned, added, asked, stats = {}, 0, 0, 0, 0, 0, 0
    balance2 = False                    # the second Balance handler is installed
    handlers = {"AddHandler"}
    bad = []

    def expect(slot, cond, what):
        if not cond and len(bad) < 5:
            bad.append("slot %d: %s: %r" % (slot, what, results[slot])[:400])

    for s in sorted(bodies):
        m, r = bodies[s], results[s]
        act = m["action"]
        err = r.get("error")
        out = r.get("output")
        if act not in handlers:
            expect(s, err and "no handler for " + act in err.get("message", ""),
                   "no handler yet")
            continue
        if act == "AddHandler":
            if m["name"] in ("Oops", "Half"):
                expect(s, err and err.get("code") == "guest_error", "failing chunk")
                continue
            added += 1
            handlers.add(m["name"])
            balance2 = balance2 or m["data"] == H_BALANCE2
            handlers.update({"Transfer": ["Transfers"], "Burn": ["Burned"]}.get(m["name"], []))
            expect(s, not err and out["added"] == added and out["handler"] == m["name"],
                   "AddHandler result")
            continue
        q = m.get("quantity")
        if act == "Mint":
            bal[m["recipient"]] = bal.get(m["recipient"], 0) + int(q)
            supply += int(q)
            expect(s, not err and out == {"minted": int(q), "balance": bal[m["recipient"]],
                                          "supply": supply}, "Mint")
        elif act == "Transfer":
            f, t, q = m["from"], m["recipient"], int(q)
            if q <= 0 or bal.get(f, 0) < q:
                expect(s, err and err.get("code") == "guest_error", "failing Transfer")
                continue
            bal[f] -= q
            bal[t] = bal.get(t, 0) + q
            transfers += 1
            expect(s, not err and out == {"from": f, "to": t, "balance": bal[f],
                                          "n": transfers}, "Transfer")
            ob = r.get("outbox") or []
            expect(s, len(ob) == 1 and ob[0].get("target") == t and
                   ob[0].get("quantity") == str(q), "Transfer's Credit-Notice")
        elif act == "Transfers":
            expect(s, not err and out == {"transfers": transfers}, "Transfers")
        elif act == "Balance":
            a = m["account"]
            want = {"account": a, "balance": bal.get(a, 0)}
            if balance2:
                asked += 1
                want["asked"] = asked
            expect(s, not err and out == want, "Balance")
        elif act == "Stats":
            stats += 1
            expect(s, not err and out["calls"] == stats and out["total"] == supply and
                   out["holders"] == len(bal) and out["time"] == int(FIXED_CLOCK) // 1000,
                   "Stats")
        elif act == "Burn":
            f, q = m["from"], int(q)
            if bal.get(f, 0) < q:
                expect(s, err and err.get("code") == "guest_error", "failing Burn")
                continue
            bal[f] -= q
            supply -= q
            burned += q
            expect(s, not err and out == {"burned": burned, "supply": supply}, "Burn")
        elif act == "Burned":
            expect(s, not err and out == {"burned": burned, "supply": supply}, "Burned")
    check(not bad, "results agree with the token model:\n  " + "\n  ".join(bad))
    return transfers, burned


def schedule_flood(node, pid, msgs, nconn, acks):
    """Schedules msgs over nconn keep-alive connections at once; acks[slot] = body."""
    lock = threading.Lock()
    errors = []

    def worker(part):
        c = Conn(node.port)
        try:
            for m in part:
                st, _h, data = c.req("POST", "/%s/schedule" % pid, m)
                if st != 200:
                    errors.append((st, data[:200]))
                    return
                a = json.loads(data)
                with lock:
                    acks[a["slot"]] = a
        finally:
            c.close()
    threads = [threading.Thread(target=worker, args=(msgs[k::nconn],)) for k in range(nconn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(not errors, "flood scheduling errors: %r" % errors[:3])


def fetch(node, pid, slot):
    st, h, body = node.conn.req("GET", "/%s/compute?slot=%d" % (pid, slot))
    check(st == 200, "compute %d -> %d %r" % (slot, st, body[:200]))
    return body, h.get("x-aox-compute", "")


def fetch_many(node, pid, slots, nconn=3):
    """{slot: (body, x-aox-compute)} for slots, read over nconn connections at once."""
    out = {}

    def worker(part):
        answers = pipeline(node.port, [("GET", "/%s/compute?slot=%d" % (pid, s), None)
                                       for s in part])
        for s, (st, h, body) in zip(part, answers):
            check(st == 200, "compute %d -> %d %r" % (s, st, body[:200]))
            out[s] = (body, h.get("x-aox-compute", ""))
    slots = list(slots)
    threads = [threading.Thread(target=worker, args=(slots[k::nconn],)) for k in range(nconn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def status(node, pid):
    st, _h, body = Conn(node.port, timeout=10).req("GET", "/%s/status" % pid)
    return json.loads(body) if st == 200 else {}


def scenario_token(tmp):
    t0 = time.time()
    n = int(os.environ.get("AOX_E2E_LUA_MESSAGES", "10000"))
    # reproducible choices (messages, strides, kill points); AOX_E2E_LUA_SEED varies them
    rng = random.Random(int(os.environ.get("AOX_E2E_LUA_SEED", "4")))
    with open(os.path.join(HERE, "lua", "token.lua"), "rb") as f:
        script = f.read()
    prefix, flood, suffix = token_messages(n, rng)
    # Node A: durable scheduling (each acknowledged assignment is fsync'd, concurrent
    # ones share a group commit), snapshots every 37 slots, and killed with kill -9.
    a = Node(os.path.join(tmp, "a"), ["--snapshot-every", "37", "--log-level", "info"]).start()
    mod = add_module(a, script)
    definition = {"type": "Process", "execution-device": "lua@5.3", "module": mod,
                  "name": "e2e-token"}
    pid = a.conn.json("POST", "/spawn", definition)["process"]
    acks = {}
    for m in prefix:
        asg = a.conn.json("POST", "/%s/schedule" % pid, m)
        acks[asg["slot"]] = asg
    schedule_flood(a, pid, flood, 6, acks)
    for m in suffix:
        asg = a.conn.json("POST", "/%s/schedule" % pid, m)
        acks[asg["slot"]] = asg
    last = len(prefix) + len(flood) + len(suffix)
    check(sorted(acks) == list(range(1, last + 1)), "%d dense slots acknowledged" % last)
    t_sched = time.time() - t0

    # Compute in random strides (one compute call applies many slots), reading every
    # slot's result; SIGUSR1 snapshots at random points; three kill -9s.
    results = {}
    kills = sorted(rng.sample(range(last // 5, 4 * last // 5), 3))
    done = 0
    restarts = []
    usr1 = 0

    def restart(why):
        a.stop(sig=signal.SIGKILL)
        a.start()
        restarts.append(why)

    while done < last:
        if kills and done >= kills[0]:
            k = len(kills)
            kills.pop(0)
            if k == 3:
                # kill -9 right after a forced snapshot at a slot that is no multiple
                # of 37: the restart must continue from exactly that snapshot.
                if done % 37 == 0:
                    done += 1
                    results[done] = fetch(a, pid, done)[0]
                # first let any earlier SIGUSR1 finish (its log line must not be
                # taken for this one's)
                before, quiet = a.log_count(b'"why":"SIGUSR1"'), time.time()
                while time.time() - quiet < 0.3:
                    time.sleep(0.05)
                    now = a.log_count(b'"why":"SIGUSR1"')
                    if now != before:
                        before, quiet = now, time.time()
                a.proc.send_signal(signal.SIGUSR1)
                deadline = time.time() + 30
                while a.log_count(b'"why":"SIGUSR1"') == before and time.time() < deadline:
                    time.sleep(0.02)
                restart("after SIGUSR1 at %d" % done)
                body, how = fetch(a, pid, done + 1)
                check("from=snapshot; start-slot=%d;" % done in how,
                      "restart continues from the SIGUSR1 snapshot at %d (%s)" % (done, how))
                done += 1
                results[done] = body
                continue
            # kill -9 in the middle of one long computation
            target = min(last, done + 2500)
            box = {}

            def long_compute():
                try:
                    box["r"] = Conn(a.port).req("GET", "/%s/compute?slot=%d" % (pid, target))
                except (OSError, http.client.HTTPException) as e:
                    box["e"] = e
            t = threading.Thread(target=long_compute)
            t.start()
            base = status(a, pid).get("slots-computed", 0)
            # Kill well before the compute can finish: at most a third of the slots
            # it has to apply (with 2,000 messages under sanitizers only a few hundred
            # may be left, and a kill point past the end would find it finished).
            n = max(1, target - done)
            want = rng.randint(min(30, max(1, n // 4)), max(1, min(600, n // 3)))
            deadline = time.time() + 30
            progressed = 0
            while time.time() < deadline and t.is_alive():
                try:
                    progressed = status(a, pid).get("slots-computed", 0) - base
                except (OSError, http.client.HTTPException, ValueError):
                    break
                if progressed >= want:
                    break
                if rng.random() < 0.1:
                    a.proc.send_signal(signal.SIGUSR1)
                    usr1 += 1
                time.sleep(0.002)
            alive = t.is_alive()
            restart("during a compute (%d slots in)" % progressed)
            t.join()
            check(alive, "the kill hit a running computation (%d slots in)" % progressed)
            body, how = fetch(a, pid, min(last, done + 1))
            check("cached=1" in how or "from=snapshot" in how,
                  "after the kill: cached or from a snapshot (%s)" % how)
            continue
        step = min(last - done, rng.randint(1, 120))
        body, how = fetch(a, pid, done + step)       # computes `step` slots
        results[done + step] = body
        for s, (b2, _how) in fetch_many(a, pid, range(done + 1, done + step), 1).items():
            results[s] = b2                             # the rest, from the cache
        done += step
        if rng.random() < 0.08:
            a.proc.send_signal(signal.SIGUSR1)      # snapshot-all at an arbitrary slot
            usr1 += 1
    # one more snapshot-all on the final node, waited for: random SIGUSR1s sent just
    # before a kill -9 may never be logged, so this keeps the count check below
    # independent of where the kills fell
    before = a.log_count(b'"why":"SIGUSR1"')
    a.proc.send_signal(signal.SIGUSR1)
    usr1 += 1
    deadline = time.time() + 30
    while a.log_count(b'"why":"SIGUSR1"') == before and time.time() < deadline:
        time.sleep(0.02)
    # a sample of the results once more, from the cache of the thrice restarted node
    again = fetch_many(a, pid, range(1, last + 1, 7))
    bad = [s for s in sorted(again) if again[s][0] != results[s] or "cached=1" not in again[s][1]]
    check(not bad, "results served again from the cache, unchanged: %d differ, first %r"
          % (len(bad), bad[:5]))
    check(len(restarts) == 3, "three kill -9 restarts: %r" % restarts)
    check(a.log_count(b'"why":"SIGUSR1"') >= 2, "SIGUSR1 snapshots taken")
    decoded = {s: json.loads(results[s]) for s in results}
    check(all(decoded[s]["slot"] == s and decoded[s]["process"] == pid for s in decoded),
          "every result names its process and slot")
    bodies = {s: acks[s]["body"] for s in acks}
    transfers, burned = check_model(bodies, decoded)
    check(transfers > n // 10 and burned > 0, "a meaningful mix: %d transfers, %d burned"
          % (transfers, burned))
    check(a.stop() == 0, "node A exits cleanly (0) on SIGTERM")
    t_a = time.time() - t0

    # Reference: never interrupted, another snapshot cadence, the same slot order.
    # --store-no-sync here only: this run checks determinism, durability is A's part.
    # (It would not even weaken a kill -9 test: LMDB's writes are in the OS page cache
    # once a commit returns, and a killed process does not lose them; only a machine
    # crash would. Node A, which is killed, runs with fsync and group commit anyway.)
    b = Node(os.path.join(tmp, "b"), ["--store-no-sync", "--snapshot-every", "1000",
                                      "--log-level", "warn"]).start()
    check(add_module(b, script) == mod, "same module bytes, same module ID")
    check(b.conn.json("POST", "/spawn", definition)["process"] == pid,
          "same definition, same process ID")
    # one connection, pipelined: the slots follow the order of the requests
    answers = pipeline(b.port, [("POST", "/%s/schedule" % pid, bodies[s])
                                for s in range(1, last + 1)])
    bad = [s for s, (st, _h, data) in zip(range(1, last + 1), answers)
           if st != 200 or json.loads(data) != acks[s]]
    check(not bad, "reference assignments equal A's (hash chain): %d differ, first %r"
          % (len(bad), bad[:5]))
    t_b = time.time()
    for s in range(500, last + 500, 500):
        fetch(b, pid, min(s, last))
    ref = fetch_many(b, pid, range(1, last + 1))
    diff = [s for s in range(1, last + 1) if ref[s][0] != results[s]]
    check(not diff, "%d of %d slots differ from the uninterrupted run, first %r"
          % (len(diff), last, diff[:5]))
    check(b.stop() == 0, "reference node exits cleanly")
    print("token: %d messages; node A: scheduled in %.1fs, computed with 3 kills and %d "
          "SIGUSR1 by %.1fs; reference: scheduled %.1fs, computed %.1fs; total %.1fs; "
          "%d transfers, %d burned; restarts: %s"
          % (last, t_sched, usr1, t_a, t_b - t0 - t_a, time.time() - t_b, time.time() - t0,
             transfers, burned, "; ".join(restarts)))


# ---------------------------------------------------------------------------------
# limits: runaway loop and memory bomb, while another process is served
# ---------------------------------------------------------------------------------

RUNAWAY = b"""
count = 0
function handle(msg)
  if msg.Action == 'Spin' then while true do count = count + 1 end end
  if msg.Action == 'Bomb' then
    local t = {}
    for i = 1, 1e9 do t[i] = string.rep('x', 1000) .. i end
  end
  if msg.Action == 'Grow' then
    local s = 'x'
    while true do s = s .. s end
  end
  count = count + 1
  return { count = count }
end
"""
FUEL = 50000000
ECHO = b"function handle(msg) n = (n or 0) + 1 return { n = n, v = msg.v } end"


def scenario_limits(tmp):
    node = Node(os.path.join(tmp, "c"), ["--log-level", "warn"]).start()
    c = node.conn
    spin_def = {"type": "Process", "execution-device": "lua@5.3",
                "module": add_module(node, RUNAWAY),
                "compute-limit": FUEL, "memory-limit": 32 * 1024 * 1024}
    pid = c.json("POST", "/spawn", spin_def)["process"]
    other = c.json("POST", "/spawn", {"type": "Process", "execution-device": "lua@5.3",
                                      "module": add_module(node, ECHO)})["process"]
    for i, act in enumerate(("Spin", "Ok", "Bomb", "Ok", "Grow", "Ok")):
        c.json("POST", "/%s/schedule" % pid, {"action": act, "seq": i})

    # slot 1 spins until its fuel (FUEL Lua instructions, a second or more of CPU) is
    # gone; the other process is scheduled and computed meanwhile
    box = {}

    def spin():
        t = time.time()
        box["r"] = Conn(node.port).req("GET", "/%s/compute?slot=1" % pid)
        box["t"] = time.time() - t
    t = threading.Thread(target=spin)
    t.start()
    deadline = time.time() + 10
    while time.time() < deadline and status(node, pid).get("busy") is not True:
        time.sleep(0.01)
    check(status(node, pid).get("busy") is True or not t.is_alive(), "the spin is running")
    answered = []
    oc = Conn(node.port, timeout=30)
    i = 0
    while t.is_alive() and i < 2000:
        i += 1
        asg = oc.json("POST", "/%s/schedule" % other, {"v": i})
        st, _h, body = oc.req("GET", "/%s/compute?slot=%d" % (other, asg["slot"]))
        if t.is_alive():
            answered.append((st, json.loads(body)["output"]))
    t.join()
    check(answered and all(st == 200 and out["v"] == k + 1
                           for k, (st, out) in enumerate(answered)),
          "the other process answered during the spin (%d answers)" % len(answered))
    st, _h, body = box["r"]
    r = json.loads(body)
    check(st == 200 and r.get("error", {}).get("code") == "out_of_fuel" and
          r.get("gas") == FUEL, "spin -> out_of_fuel with gas = fuel: %r" % body[:300])
    check(box["t"] < 60, "spin ended in bounded time (%.1fs)" % box["t"])
    for slot, code in ((3, "out_of_memory"), (5, "out_of_memory")):
        t1 = time.time()
        st, _h, body = c.req("GET", "/%s/compute?slot=%d" % (pid, slot))
        r = json.loads(body)
        check(st == 200 and r.get("error", {}).get("code") == code,
              "slot %d -> %s: %r" % (slot, code, body[:300]))
        check(time.time() - t1 < 60, "memory bomb ended in bounded time")
    for slot, count in ((2, 1), (4, 2), (6, 3)):
        r = c.json("GET", "/%s/compute?slot=%d" % (pid, slot))
        check(r.get("output") == {"count": count},
              "slot %d after the failures: the state was rolled back (%r)" % (slot, r))
    check(node.stop() == 0, "node exits cleanly")
    print("limits: spin %.2fs, %d answers from the other process meanwhile"
          % (box["t"], len(answered)))


# ---------------------------------------------------------------------------------
# unsnapshottable: regression — a state that cannot be snapshotted must not stop
# its process (a periodic snapshot of a Lua state holding a suspended coroutine failed
# the compute at every multiple of --snapshot-every, forever)
# ---------------------------------------------------------------------------------

SUSPENDER = b"""
co = coroutine.create(function() coroutine.yield('a') coroutine.yield('b') return 'c' end)
function handle(msg)
  n = (n or 0) + 1
  local got = ''
  if n == 2 or n == 8 or n == 9 then got = select(2, coroutine.resume(co)) end
  return { n = n, got = got, co = coroutine.status(co) }
end
"""


def scenario_unsnapshottable(tmp):
    node = Node(os.path.join(tmp, "u"), ["--snapshot-every", "5", "--log-level", "warn"]).start()
    pid = node.conn.json("POST", "/spawn", {"type": "Process", "execution-device": "lua@5.3",
                                            "module": add_module(node, SUSPENDER)})["process"]
    for i in range(14):
        node.conn.json("POST", "/%s/schedule" % pid, {"i": i})

    def want(n):
        got = {2: "a", 8: "b", 9: "c"}.get(n, "")
        return {"n": n, "got": got, "co": "dead" if n >= 9 else "suspended"}
    # slots 2..8 hold a suspended coroutine: the snapshot at 5 cannot be taken
    for s in range(1, 8):
        r = node.conn.json("GET", "/%s/compute?slot=%d" % (pid, s))
        check(r.get("output") == want(s), "slot %d computes with the coroutine: %r" % (s, r))
    check(node.log_count(b'"event":"snapshot_skipped"') >= 1, "the skipped snapshot is logged")
    node.stop(sig=signal.SIGKILL)          # no snapshot at all yet: the restart replays
    node.start()
    st, h, body = node.conn.req("GET", "/%s/compute?slot=8" % pid)
    check(st == 200 and json.loads(body).get("output") == want(8) and
          "from=init" in h.get("x-aox-compute", ""),
          "after kill -9 slot 8 is replayed from init: %d %s %r"
          % (st, h.get("x-aox-compute"), body[:200]))
    # the coroutine ends at slot 9: the snapshot at 10 is taken again
    for s in range(9, 13):
        r = node.conn.json("GET", "/%s/compute?slot=%d" % (pid, s))
        check(r.get("output") == want(s), "slot %d: %r" % (s, r))
    node.stop(sig=signal.SIGKILL)
    node.start()
    st, h, body = node.conn.req("GET", "/%s/compute?slot=13" % pid)
    check(st == 200 and json.loads(body).get("output") == want(13) and
          "from=snapshot; start-slot=10;" in h.get("x-aox-compute", ""),
          "slot 13 after kill -9 starts from the snapshot at 10: %d %s"
          % (st, h.get("x-aox-compute")))
    check(node.stop() == 0, "node exits cleanly")


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in ("token", "limits", "unsnapshottable"):
        print(__doc__, file=sys.stderr)
        return 2
    core.AOX = os.path.abspath(sys.argv[1])
    tmp = tempfile.mkdtemp(prefix="aox-e2e-lua-")
    try:
        {"token": scenario_token, "limits": scenario_limits,
         "unsnapshottable": scenario_unsnapshottable}[sys.argv[2]](tmp)
    except Exception:
        failures.append("exception")
        raise
    finally:
        core.cleanup(tmp)
    return core.verdict("e2e_lua %s: all checks passed" % sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
