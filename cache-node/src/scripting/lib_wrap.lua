-- Gives the Rust halves of `struct` and `cmsgpack` their Lua signatures. Arguments
-- travel as a count and one table (numbers keep every bit; thousands of arguments cost
-- one reference). A Rust half answers `true, result` (or `true, results, count`) or
-- `false, message`, raised here as the plain string the C libraries raise, so a
-- script's pcall sees Redis's text. The chunk is named `=redis` so errors point at the
-- script's line, not at these frames.
local impl, spreads = ...
local select, unpack, error, pairs = select, unpack, error, pairs

-- No tail calls here: a tail call leaves a "(tail call)" frame where Redis's error
-- handler looks for the script's line.
local lib = {}
for name, f in pairs(impl) do
  if spreads[name] then
    -- `unpack` may return 7997 values (Lua's C stack minus its three arguments); the
    -- first two go separately so as many results as Redis returns (7999) still fit.
    lib[name] = function(...)
      local ok, t, n = f(select('#', ...), { ... })
      if not ok then error(t, 0) end
      if n < 3 then return unpack(t, 1, n) end
      return t[1], t[2], unpack(t, 3, n)
    end
  else
    lib[name] = function(...)
      local ok, v = f(select('#', ...), { ... })
      if not ok then error(v, 0) end
      return v
    end
  end
end
return lib
