-- Builds the `redis` library around the runtime's primitives and the error handler
-- that gives script errors their Redis form. Runs once, in the engine's own globals.
local rt = ...
local getinfo = debug.getinfo

local function handler(e)
  -- An error raised by the runtime's Rust functions arrives as userdata, and
  -- redis.call's as its text; the table they stand for waits in the runtime (taken
  -- either way, so one a script caught with pcall is not mistaken for a later error).
  local pending = rt.take_error()
  if type(e) == 'string' then
    if pending and rawequal(pending.err, e) and not pending.plain then e = pending end
  elseif type(e) ~= 'table' then
    if pending then e = pending end
  end
  -- The frame to blame: the first one that is neither C nor this library.
  local level = 2
  local info = getinfo(level, 'Sl')
  while info and (info.what == 'C' or info.source == '=redis') do
    level = level + 1
    info = getinfo(level, 'Sl')
  end
  if type(e) ~= 'table' then
    e = { err = 'ERR ' .. tostring(e) }
  end
  if info then
    e.source = info.source
    e.line = info.currentline
  end
  return e
end


local redis = {}
local function as_error(msg)
  if msg:sub(1, 1) ~= '-' then msg = '-' .. msg end
  local space = msg:find(' ', 1, true)
  local code, text
  if space then code, text = msg:sub(2, space - 1), msg:sub(space + 1) else code, text = 'ERR', msg:sub(2) end
  text = text:gsub('[\r\n]+$', '')
  return { err = code .. ' ' .. text }
end
function redis.error_reply(msg)
  if type(msg) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
  return as_error(msg)
end
function redis.status_reply(msg)
  if type(msg) ~= 'string' then return { err = 'ERR wrong number or type of arguments' } end
  return { ok = msg }
end
redis.sha1hex = rt.sha1hex
redis.log = rt.log
redis.set_repl = rt.set_repl
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = '7.0.15', 458767

-- What scripts see as globals: a read-only view of `allowed`.
local allowed = {}
for _, name in ipairs({ 'assert', 'error', 'ipairs', 'next', 'pairs', 'pcall', 'xpcall', 'rawequal', 'rawget',
  'select', 'tonumber', 'tostring', 'type', 'unpack', 'getmetatable', 'setmetatable', 'loadstring', 'gcinfo',
  'string', 'table', 'math', 'coroutine' }) do
  allowed[name] = _G[name]
end
allowed.redis = redis
allowed.bit = rt.bit
allowed.cjson = rt.cjson
allowed.struct = rt.struct
allowed.cmsgpack = rt.cmsgpack
function allowed.rawset(t, k, v)
  if t == nil or rawequal(getmetatable(t), false) then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end

-- Globals are looked up in `allowed` as a table (no Lua call per global a script
-- reads); only a missing one reaches the function that raises.
local env = {}
setmetatable(env, {
  __index = allowed,
  __newindex = function() error('Attempt to modify a readonly table', 2) end,
  __metatable = false,
})
-- Library tables are read-only too, so no script can leave state behind for the next.
local function freeze(t)
  local proxy = {}
  setmetatable(proxy, {
    __index = t,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
  return proxy
end
for _, name in ipairs({ 'string', 'table', 'math', 'coroutine', 'redis', 'bit', 'cjson', 'struct', 'cmsgpack' }) do
  if allowed[name] then allowed[name] = freeze(allowed[name]) end
end

allowed._G = env
setmetatable(allowed, {
  __index = function(_, k)
    error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
  end,
})

-- KEYS and ARGV are set in `allowed` for each script by the engine.
-- The engine calls a script's function under `handler` itself (as xpcall would).
return handler, env, allowed, redis
