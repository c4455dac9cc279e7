-- tests/e2e/lua/token.lua: the module of e2e_lua.py's token process (lua@5.3).
--
-- The module itself only knows how to add handlers: Mint, Transfer, Balance and the
-- rest arrive later as `AddHandler` messages whose data is Lua source, compiled with
-- `load` inside the sandbox and run with `api` as its argument. So the state the
-- node must snapshot, restore and roll back holds closures created at run time,
-- closures sharing upvalues (`supply` below is shared by mint/move/burn/supply; a
-- handler chunk may share its own locals between the handlers it adds) and a
-- handler list that is edited while the process runs.

Balances = {}
Handlers = { list = {} }

local supply = 0          -- shared by every function in `api`
local added = 0           -- how many AddHandler messages succeeded

local function add(name, fn)
  assert(type(name) == 'string' and type(fn) == 'function', 'add(name, function)')
  for _, h in ipairs(Handlers.list) do
    if h.name == name then h.fn = fn return 'replaced' end
  end
  Handlers.list[#Handlers.list + 1] = { name = name, fn = fn }
  return 'added'
end

local function qty(v)
  local q = math.tointeger(tonumber(v))
  if not q or q <= 0 then error('bad quantity: ' .. tostring(v)) end
  return q
end

local api = {
  add = add,
  qty = qty,
  supply = function() return supply end,
  mint = function(who, q)
    Balances[who] = (Balances[who] or 0) + q
    supply = supply + q
    return Balances[who]
  end,
  move = function(from, to, q)
    local b = Balances[from] or 0
    if b < q then error(string.format('insufficient balance: %s has %d, needs %d', from, b, q)) end
    Balances[from] = b - q
    Balances[to] = (Balances[to] or 0) + q
    return Balances[from]
  end,
  burn = function(who, q)
    local b = Balances[who] or 0
    if b < q then error(string.format('cannot burn %d of %s (%d)', q, who, b)) end
    Balances[who] = b - q
    supply = supply - q
    return supply
  end,
}

add('AddHandler', function(msg)
  local chunk, err = load(msg.Data, '=' .. tostring(msg.Name), 't')
  if not chunk then error('compile: ' .. err) end
  local how = chunk(api)
  added = added + 1
  return { handler = msg.Name, how = how, handlers = #Handlers.list, added = added }
end)

function handle(msg)
  local action = msg.Action
  for _, h in ipairs(Handlers.list) do
    if h.name == action then return h.fn(msg) end
  end
  error('no handler for ' .. tostring(action))
end
