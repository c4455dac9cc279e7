-- tests/aoslua/process.lua: an aos-like token process, written for aox's tests.
--
-- Runs in two hosts, unchanged:
--   * aoslua.wasm (Lua 5.3 compiled with emscripten, tests/aoslua/glue.c): the glue
--     calls handle(msg_json, env_json) with the aos JSON interface's strings and
--     expects the result JSON {"ok":true,"response":{Output,Messages,...}} back;
--   * aox's native lua@5.3 device: handle(msg, assignment) with Lua tables and its
--     own ao.send; the return value is the output.
-- Actions: Balances, Balance, Mint, Transfer (debit/credit notices), Fail (a Lua
-- error after changing Balances: the node must undo it), Bomb (allocates until the
-- memory limit), Eval (runs the Lua code in Data). The Process message (boot) sets
-- the initial balances from its Data, a JSON object {address: amount}.

local json = {}
local array_mt = {}
json.array_mt = array_mt

local escapes = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
                  ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function enc_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return escapes[c] or string.format('\\u%04x', c:byte())
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n > 0 and n == #t
end

local function encode(v, out)
  local ty = type(v)
  if v == nil then out[#out + 1] = 'null'
  elseif ty == 'boolean' then out[#out + 1] = v and 'true' or 'false'
  elseif ty == 'number' then
    if math.type(v) == 'integer' then out[#out + 1] = string.format('%d', v)
    elseif v ~= v or v == math.huge or v == -math.huge then out[#out + 1] = 'null'
    else out[#out + 1] = string.format('%.17g', v) end
  elseif ty == 'string' then out[#out + 1] = enc_string(v)
  elseif ty == 'table' then
    if is_array(v) then
      out[#out + 1] = '['
      for i = 1, #v do
        if i > 1 then out[#out + 1] = ',' end
        encode(v[i], out)
      end
      out[#out + 1] = ']'
    else
      -- keys in sorted order: the same table always encodes the same way
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = tostring(k) end
      table.sort(keys)
      out[#out + 1] = '{'
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = ',' end
        out[#out + 1] = enc_string(k)
        out[#out + 1] = ':'
        local x = v[k]
        if x == nil then x = v[math.tointeger(tonumber(k))] end
        encode(x, out)
      end
      out[#out + 1] = '}'
    end
  else error('json: cannot encode a ' .. ty) end
end

function json.encode(v)
  local out = {}
  encode(v, out)
  return table.concat(out)
end

local function utf8_of(cp) return utf8.char(cp) end

local decode_value

local function skip(s, i)
  return s:find('[^ \t\r\n]', i) or #s + 1
end

local function decode_string(s, i)
  -- s:sub(i, i) == '"'
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == '' then error('json: unterminated string') end
    if c == '"' then return table.concat(out), j + 1 end
    if c == '\\' then
      local e = s:sub(j + 1, j + 1)
      local simple = { ['"'] = '"', ['\\'] = '\\', ['/'] = '/', b = '\b', f = '\f',
                       n = '\n', r = '\r', t = '\t' }
      if simple[e] then out[#out + 1] = simple[e]; j = j + 2
      elseif e == 'u' then
        local cp = tonumber(s:sub(j + 2, j + 5), 16)
        if not cp then error('json: bad \\u escape') end
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and s:sub(j, j + 1) == '\\u' then
          local lo = tonumber(s:sub(j + 2, j + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            j = j + 6
          end
        end
        out[#out + 1] = utf8_of(cp)
      else error('json: bad escape \\' .. e) end
    else
      local k = s:find('["\\]', j) or #s + 1
      out[#out + 1] = s:sub(j, k - 1)
      j = k
    end
  end
end

function decode_value(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == '{' then
    local t = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == '}' then return t, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then error('json: object key expected at ' .. i) end
      local k
      k, i = decode_string(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ':' then error('json: ":" expected at ' .. i) end
      t[k], i = decode_value(s, i + 1)
      i = skip(s, i)
      c = s:sub(i, i)
      if c == '}' then return t, i + 1 end
      if c ~= ',' then error('json: "," or "}" expected at ' .. i) end
      i = skip(s, i + 1)
    end
  elseif c == '[' then
    local t = setmetatable({}, array_mt)
    i = skip(s, i + 1)
    if s:sub(i, i) == ']' then return t, i + 1 end
    while true do
      t[#t + 1], i = decode_value(s, i)
      i = skip(s, i)
      c = s:sub(i, i)
      if c == ']' then return t, i + 1 end
      if c ~= ',' then error('json: "," or "]" expected at ' .. i) end
      i = i + 1
    end
  elseif c == '"' then return decode_string(s, i)
  elseif s:sub(i, i + 3) == 'true' then return true, i + 4
  elseif s:sub(i, i + 4) == 'false' then return false, i + 5
  elseif s:sub(i, i + 3) == 'null' then return nil, i + 4
  else
    local num = s:match('^-?%d+%.?%d*[eE]?[-+]?%d*', i)
    if not num or num == '' then error('json: unexpected character at ' .. i) end
    return math.tointeger(tonumber(num)) or tonumber(num), i + #num
  end
end

function json.decode(s)
  local v, i = decode_value(s, 1)
  if skip(s, i) <= #s then error('json: trailing characters at ' .. i) end
  return v
end

JSON = json

-- ao: the native device brings its own; under the JSON interface this one collects
-- the outbox of the message being handled.
local native = type(ao) == 'table' and type(ao.send) == 'function'
local outbox
if not native then
  ao = { id = '' }
  function ao.send(m)
    local tags = setmetatable({}, array_mt)
    for _, t in ipairs(m.Tags or {}) do tags[#tags + 1] = { name = t.name, value = t.value } end
    outbox[#outbox + 1] = { Target = m.Target, Data = m.Data or '', Tags = tags }
    return m
  end
end

-- Handlers: the first whose Action matches runs
Handlers = { list = {} }
function Handlers.add(action, fn)
  Handlers.list[#Handlers.list + 1] = { action = action, fn = fn }
end

Balances = Balances or {}
Ticker = 'LTK'
Booted = 0

local function qty(v)
  local q = math.tointeger(tonumber(v))
  if not q or q <= 0 then error('bad quantity: ' .. tostring(v)) end
  return q
end

local function tag(name, value) return { name = name, value = tostring(value) } end

Handlers.add('Balances', function(msg) return json.encode(Balances) end)

Handlers.add('Balance', function(msg)
  local who = msg.Recipient or msg.From
  local b = Balances[who] or 0
  ao.send({ Target = msg.From, Data = tostring(b),
            Tags = { tag('Action', 'Balance-Notice'), tag('Account', who),
                     tag('Balance', b), tag('Ticker', Ticker) } })
  return tostring(b)
end)

Handlers.add('Mint', function(msg)
  local q = qty(msg.Quantity)
  Balances[msg.From] = (Balances[msg.From] or 0) + q
  return 'Minted ' .. q .. ' to ' .. msg.From
end)

Handlers.add('Transfer', function(msg)
  local to, q = msg.Recipient, qty(msg.Quantity)
  if type(to) ~= 'string' or to == '' then error('Recipient required') end
  local have = Balances[msg.From] or 0
  if have < q then
    ao.send({ Target = msg.From, Data = 'Insufficient Balance!',
              Tags = { tag('Action', 'Transfer-Error'), tag('Error', 'Insufficient Balance!'),
                       tag('Quantity', q) } })
    return 'Insufficient Balance!'
  end
  Balances[msg.From] = have - q
  Balances[to] = (Balances[to] or 0) + q
  ao.send({ Target = msg.From, Data = 'You transferred ' .. q .. ' to ' .. to,
            Tags = { tag('Action', 'Debit-Notice'), tag('Recipient', to), tag('Quantity', q) } })
  ao.send({ Target = to, Data = 'You received ' .. q .. ' from ' .. msg.From,
            Tags = { tag('Action', 'Credit-Notice'), tag('Sender', msg.From), tag('Quantity', q) } })
  return 'Transferred ' .. q .. ' to ' .. to
end)

Handlers.add('Fail', function(msg)
  -- change the state first: the node must throw this away with the error
  Balances[msg.From] = 0
  Balances.poison = 1
  error('deliberate failure: ' .. tostring(msg.Data))
end)

Handlers.add('Bomb', function(msg)
  Hoard = {}
  for i = 1, 1 << 30 do Hoard[i] = string.rep('x', 4096) .. i end
  return 'not reached'
end)

Handlers.add('Eval', function(msg)
  local chunk, err = load(msg.Data, '=eval', 't')
  if not chunk then error('eval: ' .. err) end
  local v = chunk()
  if type(v) == 'table' then return json.encode(v) end
  return tostring(v)
end)

local function dispatch(msg)
  for _, h in ipairs(Handlers.list) do
    if msg.Action == h.action then return h.fn(msg) end
  end
  return 'no handler for ' .. tostring(msg.Action)
end

-- the boot: the Process message's Data holds the initial balances
local function boot(msg)
  Booted = Booted + 1
  if type(msg.Data) == 'string' and msg.Data:sub(1, 1) == '{' then
    for who, q in pairs(json.decode(msg.Data)) do Balances[who] = qty(q) end
  end
  return 'booted ' .. Ticker
end

function handle(msg, env)
  if type(msg) ~= 'string' then
    -- the native lua@5.3 device: tables in, the output out
    ao.id = ao.id or ''
    return dispatch(msg)
  end
  local m = json.decode(msg)
  local e = json.decode(env)
  ao.id = e.Process and e.Process.Id or ''
  for _, t in ipairs(m.Tags or {}) do
    if m[t.name] == nil then m[t.name] = t.value end
  end
  outbox = setmetatable({}, array_mt)
  local out
  if m.Id == ao.id then out = boot(m) else out = dispatch(m) end
  return json.encode({ ok = true, response = {
    Output = { data = out },
    Messages = outbox,
    Spawns = setmetatable({}, array_mt),
    Assignments = setmetatable({}, array_mt) } })
end
