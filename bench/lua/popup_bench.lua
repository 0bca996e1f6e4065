-- The alternative a user would pick instead of popupd: nginx +
-- lua-nginx-module (Debian's libnginx-mod-http-lua) serving the same
-- contract (SPEC.md) from the same Redis keys (lib/store.h), for `make
-- bench` only. The shipped nginx configuration never loads this module.
--
-- Shape, chosen for speed the way a careful user would write it:
--   * GET: one HGETALL of the user's hash, the decision in Lua over the
--     configuration set kept in this nginx worker, and, when a popup is
--     shown, one pipeline of HSET, EXPIRE and LPUSH (two round trips; a
--     visit with no targeted candidate makes none).
--   * POST action: HGET of the popup's state (with an idempotency key, in
--     the same round trip as the SET NX of the key's marker), then one
--     MULTI/EXEC of HSET, EXPIRE and LPUSH.
--   * The configuration set is decoded once per version (cjson), filtered
--     to enabled popups and sorted by (priority desc, id asc) as
--     core/select.cc does; a timer per worker checks popup:config:version
--     every second, off the request path.
--   * Redis is spoken in RESP over a cosocket kept in the worker's pool
--     (setkeepalive); Debian has no lua-resty-redis, and the few commands
--     needed fit in a page. After any error the socket is closed, never
--     pooled.
--
-- Where it does less than popupd (stated in bench/README.md):
--   * No MySQL: a hash without "_" (MySQL's copy not loaded: a user whose
--     hash expired or was evicted) is decided from what the hash holds, as
--     if Redis were the whole truth, and the hash is written without "_",
--     so popupd still reads MySQL for that user. The bench data gives every
--     user a hash with "_", so the numbers are not affected.
--   * HGETALL and the write pipeline are two round trips, not one atomic
--     step: two concurrent visits of one user can both be shown a popup.
--   * Redis down: 503, where popupd falls back to MySQL.
--   * No test clock, metrics or health endpoint.

local cjson = require "cjson.safe"
local ffi = require "ffi"
local clear = require "table.clear"

local ngx = ngx
local tcp = ngx.socket.tcp
local crc32 = ngx.crc32_long
local byte, char, find, format, gsub, lower, match, sub =
  string.byte, string.char, string.find, string.format, string.gsub, string.lower, string.match,
  string.sub
local concat, sort = table.concat, table.sort
local random, floor, tonumber, type = math.random, math.floor, tonumber, type
local null = ngx.null

local M = {}

-- Set once in the master by configure(); read-only afterwards.
local opt = {
  redis = nil,            -- "unix:/path/redis.sock" or "host:port"
  prefix = "popup",
  state_ttl = 604800,     -- popup.conf state_ttl_s
  once_ttl = 86400,       -- popup.conf idempotency_ttl_s
  timeout_ms = 500,       -- popup.conf redis_timeout_ms
  pool_size = 64,         -- kept Redis connections per nginx worker
  idle_ms = 60000,
}
local user_prefix, events_key, version_key, set_key, once_prefix
local redis_host, redis_port

-- Per worker: the configuration in use and the event order clock.
local cfg = nil           -- {version = "…", list = {…}, by_id = {…}}
local last_order = 0

ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } popup_bench_timeval;
int gettimeofday(popup_bench_timeval *tv, void *tz);
unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md);
]]
local tv = ffi.new("popup_bench_timeval")
local digest = ffi.new("unsigned char[32]")

-- -------------------------------------------------------------- Redis (RESP)

-- One scratch table per worker for the command being encoded: filled and
-- handed to sock:send, which copies it before it can yield, then cleared.
local out = {}

local function add_command(...)
  local n = #out
  local argc = select("#", ...)
  out[n + 1] = "*"
  out[n + 2] = argc
  out[n + 3] = "\r\n"
  n = n + 3
  for i = 1, argc do
    local a = select(i, ...)
    if type(a) == "number" then a = format("%d", a) end
    out[n + 1] = "$"
    out[n + 2] = #a
    out[n + 3] = "\r\n"
    out[n + 4] = a
    out[n + 5] = "\r\n"
    n = n + 5
  end
end

-- Sends what add_command collected. Returns true, or nil and an error.
local function flush(sock)
  local ok, err = sock:send(out)
  clear(out)
  return ok, err
end

local read_reply

-- Reads one reply: a string, a number, ngx.null, or an array (a table).
-- An error reply gives false and its text; a failed connection nil and the
-- error.
read_reply = function(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  local t = byte(line)
  if t == 36 then -- $ bulk string
    local len = tonumber(sub(line, 2))
    if len < 0 then return null end
    local data, e = sock:receive(len + 2)
    if not data then return nil, e end
    return sub(data, 1, len)
  elseif t == 42 then -- * array
    local n = tonumber(sub(line, 2))
    if n < 0 then return null end
    local arr = {}
    for i = 1, n do
      local v, e = read_reply(sock)
      if v == nil then return nil, e end
      arr[i] = v
    end
    return arr
  elseif t == 58 then -- : integer
    return tonumber(sub(line, 2))
  elseif t == 43 then -- + status
    return sub(line, 2)
  elseif t == 45 then -- - error
    return false, sub(line, 2)
  end
  return nil, "redis: unexpected reply " .. line
end

-- Reads n replies of a pipeline; true, or nil and the first problem (an
-- error reply counts as one).
local function read_ok(sock, n)
  for _ = 1, n do
    local v, err = read_reply(sock)
    if not v then return nil, err or "redis: error reply" end
  end
  return true
end

-- HGETALL's reply read straight into a map (field -> value), no array
-- first. nil and an error when the connection failed.
local function read_hash(sock)
  local line, err = sock:receive("*l")
  if not line then return nil, err end
  if byte(line) ~= 42 then return nil, "redis: HGETALL answered " .. line end
  local map = {}
  local key
  for i = 1, tonumber(sub(line, 2)) do
    local head, e = sock:receive("*l")
    if not head then return nil, e end
    if byte(head) ~= 36 then return nil, "redis: HGETALL gave " .. head end
    local len = tonumber(sub(head, 2))
    local data
    data, e = sock:receive(len + 2)
    if not data then return nil, e end
    if i % 2 == 1 then key = sub(data, 1, len) else map[key] = sub(data, 1, len) end
  end
  return map
end

local function connect()
  local sock = tcp()
  sock:settimeouts(opt.timeout_ms, opt.timeout_ms, opt.timeout_ms)
  local ok, err
  if redis_port then ok, err = sock:connect(redis_host, redis_port)
  else ok, err = sock:connect(redis_host) end
  if not ok then return nil, err end
  return sock
end

-- Back to the worker's pool; the caller has read every reply.
local function release(sock)
  sock:setkeepalive(opt.idle_ms, opt.pool_size)
end

-- ------------------------------------------------------- configuration set

local json_escapes = {
  ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f', ['\n'] = '\\n',
  ['\r'] = '\\r', ['\t'] = '\\t',
}

-- A JSON string as boost::json writes it (core/answer.cc): '/' and UTF-8
-- stay as they are (cjson would write "\/").
local function json_string(s)
  return '"' .. gsub(s, '[%z\1-\31"\\]', function(c)
    return json_escapes[c] or format("\\u%04x", byte(c))
  end) .. '"'
end

-- "1.2.3" -> 1, 2, 3, 0; nil when not 1 to 4 parts of 1 to 9 digits
-- (core/version.cc).
local function parse_version(s)
  local p1, p2, p3, p4 = 0, 0, 0, 0
  local part, pos, n = 0, 1, #s
  while true do
    local a, b = find(s, "^%d+", pos)
    if not a or b - a >= 9 or part == 4 then return nil end
    part = part + 1
    local v = tonumber(sub(s, a, b))
    if part == 1 then p1 = v elseif part == 2 then p2 = v elseif part == 3 then p3 = v else p4 = v end
    if b == n then return p1, p2, p3, p4 end
    if byte(s, b + 1) ~= 46 then return nil end
    pos = b + 2
  end
end

local function opt_number(v)
  if v == nil or v == cjson.null then return nil end
  return v
end

local function set_of(list, fold)
  if type(list) ~= "table" or #list == 0 then return false end
  local set = {}
  for i = 1, #list do set[fold and lower(list[i]) or list[i]] = true end
  return set
end

local function version_bound(s, p, name)
  if s == nil or s == cjson.null then return true end
  local a, b, c, d = parse_version(s)
  if not a then return false end
  p[name] = {a, b, c, d}
  return true
end

-- One popup of core/config_json, with what every visit needs precomputed:
-- the id as text (hash field, rollout key), platform and language sets, the
-- version bounds as numbers, and the whole 200 answer.
local function compile_popup(o)
  if type(o) ~= "table" or type(o.id) ~= "number" then return nil end
  local p = {
    id = o.id, idstr = format("%d", o.id), priority = o.priority or 0,
    enabled = o.enabled ~= 0 and o.enabled ~= nil,
    starts_at = opt_number(o.starts_at), ends_at = opt_number(o.ends_at),
    platforms = set_of(o.platforms, false), langs = set_of(o.langs, true),
    rollout = o.rollout_percent or 0, max_imp = opt_number(o.max_impressions),
    show_cd = o.show_cooldown_s or 0, ignore_cd = o.ignore_cooldown_s or 0,
    click_cd = opt_number(o.click_cooldown_s),
  }
  if not version_bound(o.min_version, p, "minv") or not version_bound(o.max_version, p, "maxv") then
    return nil
  end
  p.versioned = p.minv ~= nil or p.maxv ~= nil
  p.colon_id = ":" .. p.idstr
  p.answer = concat({
    '{"popup":{"id":', p.idstr, ',"title":', json_string(o.title or ""),
    ',"body":', json_string(o.body or ""), ',"image_url":', json_string(o.image_url or ""),
    ',"link_url":', json_string(o.link_url or ""), '}}',
  })
  return p
end

local function before(a, b)
  if a.priority ~= b.priority then return a.priority > b.priority end
  return a.id < b.id
end

-- Decodes popup:config:set. nil and an error when it does not decode.
local function compile_config(text, version)
  local doc = cjson.decode(text)
  if type(doc) ~= "table" or type(doc.popups) ~= "table" then
    return nil, "config: not a configuration set"
  end
  local list, by_id, langs = {}, {}, {}
  for _, o in ipairs(doc.popups) do
    local p = compile_popup(o)
    if not p then return nil, "config: a popup does not decode" end
    by_id[p.id] = p
    if p.enabled then
      list[#list + 1] = p
      for l in pairs(p.langs or {}) do langs[l] = true end
    end
  end
  sort(list, before)
  return {version = version, list = list, by_id = by_id, langs = langs,
          lists = {web = {}, ios = {}, android = {}}}
end

-- The enabled popups that can target a visit of this platform and
-- language, in selection order: built on first use and kept with the set,
-- so a visit walks a quarter to a half of the list. A language no popup
-- names selects like none, which keeps the cache at most (languages named
-- + 1) lists per platform.
local function visit_list(c, platform, lang)
  if lang and not c.langs[lang] then lang = nil end
  local per = c.lists[platform]
  local l = per[lang or ""]
  if l then return l end
  l = {}
  local all = c.list
  for i = 1, #all do
    local p = all[i]
    if (not p.platforms or p.platforms[platform]) and (not p.langs or (lang and p.langs[lang])) then
      l[#l + 1] = p
    end
  end
  per[lang or ""] = l
  return l
end

-- Checks the version and loads a new set. Keeps the current set when Redis
-- fails or holds none (popupd would then reload MySQL; this has no MySQL).
local function refresh()
  local sock, err = connect()
  if not sock then return nil, err end
  add_command("GET", version_key)
  local ok
  ok, err = flush(sock)
  local v = ok and read_reply(sock)
  if type(v) ~= "string" then
    sock:close()
    return nil, err or "config: no version in Redis"
  end
  if cfg and cfg.version == v then
    release(sock)
    return true
  end
  add_command("GET", set_key)
  ok, err = flush(sock)
  local text = ok and read_reply(sock)
  if type(text) ~= "string" then
    sock:close()
    return nil, err or "config: no set in Redis"
  end
  release(sock)
  local fresh
  fresh, err = compile_config(text, v)
  if not fresh then
    ngx.log(ngx.ERR, err)
    return nil, err
  end
  cfg = fresh
  return true
end

local function refresh_timer(premature)
  if premature then return end
  local ok, err = refresh()
  if not ok then ngx.log(ngx.WARN, "popup_bench: configuration refresh: ", err) end
end

-- ----------------------------------------------------------------- answers

-- Content-Type and Cache-Control come from the location (default_type,
-- add_header); Content-Length is set so that nginx does not chunk.
local function answer(status, body)
  ngx.status = status
  ngx.header["Content-Length"] = #body
  ngx.print(body)
end

local function fail(status, code, message, allow)
  if allow then ngx.header["Allow"] = allow end
  answer(status, '{"error":"' .. code .. '","message":' .. json_string(message) .. '}')
end

-- OPTIONS (fcgi/router.cc, no CORS origins configured): what the endpoint
-- allows, no body.
local function options(allow)
  ngx.header["Allow"] = allow
  ngx.status = 204
  return ngx.exit(204)
end

local function unavailable(what)
  ngx.log(ngx.WARN, "popup_bench: ", what)
  return fail(503, "unavailable", "Redis is unavailable; retry later")
end

-- -------------------------------------------------------------- parameters

local UID_MSG = "uid must be 1-64 characters of [A-Za-z0-9._-]"
local MALFORMED = "malformed %-escape in parameters"

local function valid_uid(s)
  local n = #s
  return n >= 1 and n <= 64 and not find(s, "[^%w._-]")
end

-- %XX and '+' decoded (core/params.cc url_decode); nil on a bad escape.
local function url_decode(s)
  if not find(s, "[%%+]") then return s end
  local pos = 1
  while true do
    local at = find(s, "%", pos, true)
    if not at then break end
    if not find(s, "^%x%x", at + 1) then return nil end
    pos = at + 3
  end
  s = gsub(s, "+", " ")
  return (gsub(s, "%%(%x%x)", function(h) return char(tonumber(h, 16)) end))
end

-- Calls on_pair(k, v) for each decoded "k=v" of a query or form body, in
-- order, empty segments skipped. Returns the message of a malformed escape.
local function each_pair(s, on_pair)
  if not s then return nil end
  local pos, n = 1, #s
  while pos <= n do
    local amp = find(s, "&", pos, true)
    local stop = amp and amp - 1 or n
    if stop >= pos then
      local eq = find(s, "=", pos, true)
      local k, v
      if eq and eq <= stop then
        k, v = url_decode(sub(s, pos, eq - 1)), url_decode(sub(s, eq + 1, stop))
      else
        k, v = url_decode(sub(s, pos, stop)), ""
      end
      if not k or not v then return MALFORMED end
      on_pair(k, v)
    end
    pos = stop + 2
  end
  return nil
end

-- GET parameters (core/params.cc parse_visit): the first problem in query
-- order wins, a malformed escape anywhere before that. Returns uid,
-- platform, lang (lower case or nil), the version (nil or 4 numbers) and
-- nil, or nothing but an error message in the 8th value.
local function parse_visit(q)
  local uid, platform, lang, v1, v2, v3, v4
  local seen_p, seen_v, seen_l = false, false, false
  local err
  if q then
    local pos, n = 1, #q
    while pos <= n do
      local amp = find(q, "&", pos, true)
      local stop = amp and amp - 1 or n
      if stop >= pos then
        local eq = find(q, "=", pos, true)
        local k, v
        if eq and eq <= stop then
          k, v = url_decode(sub(q, pos, eq - 1)), url_decode(sub(q, eq + 1, stop))
        else
          k, v = url_decode(sub(q, pos, stop)), ""
        end
        if not k or not v then return nil, nil, nil, nil, nil, nil, nil, MALFORMED end
        if err then
          -- keep scanning: a later malformed escape is reported first
        elseif k == "uid" then
          if uid then err = "uid is given more than once"
          elseif not valid_uid(v) then err = UID_MSG
          else uid = v end
        elseif k == "platform" then
          if seen_p then err = "platform is given more than once"
          elseif v ~= "web" and v ~= "ios" and v ~= "android" then
            err = "platform must be web, ios or android"
          else seen_p, platform = true, v end
        elseif k == "version" then
          if seen_v then err = "version is given more than once" else
            seen_v = true
            v1, v2, v3, v4 = parse_version(v)
            if not v1 then err = "version must be 1 to 4 dot-separated numbers" end
          end
        elseif k == "lang" then
          if seen_l then err = "lang is given more than once"
          elseif #v < 1 or #v > 35 or find(v, "[^%w_-]") then
            err = "lang must be 1-35 characters of [A-Za-z0-9_-]"
          else seen_l, lang = true, lower(v) end
        end
      end
      pos = stop + 2
    end
  end
  if not err and not uid then err = "uid is required" end
  if err then return nil, nil, nil, nil, nil, nil, nil, err end
  return uid, platform or "web", lang, v1, v2, v3, v4, nil
end

-- ------------------------------------------------------------------- rules

-- a < b over four parts.
local function vless(a1, a2, a3, a4, b)
  if a1 ~= b[1] then return a1 < b[1] end
  if a2 ~= b[2] then return a2 < b[2] end
  if a3 ~= b[3] then return a3 < b[3] end
  return a4 < b[4]
end

local function vgreater(a1, a2, a3, a4, b)
  if a1 ~= b[1] then return a1 > b[1] end
  if a2 ~= b[2] then return a2 > b[2] end
  if a3 ~= b[3] then return a3 > b[3] end
  return a4 > b[4]
end

-- core/targeting.cc is_active + targets, for the popups of a visit_list
-- (enabled, platform and language already matched).
local function targets(p, now, uid, v1, v2, v3, v4)
  if p.starts_at and now < p.starts_at then return false end
  if p.ends_at and now >= p.ends_at then return false end
  if p.versioned then
    if not v1 then return false end
    if p.minv and vless(v1, v2, v3, v4, p.minv) then return false end
    if p.maxv and vgreater(v1, v2, v3, v4, p.maxv) then return false end
  end
  local r = p.rollout
  if r <= 0 then return false end
  if r < 100 and crc32(uid .. p.colon_id) % 100 >= r then return false end
  return true
end

-- core/state_codec (four fields, or five with the order stamp): next_show_at
-- (-1 = never), impressions; nil when the text is not a state (then treated
-- as none, as decode_user_hash does).
local function decode_state(s)
  if type(s) ~= "string" then return nil end
  local nxt, imp, act, upd = match(s, "^(%-?%d+),(%d+),(%a+),(%d+)$")
  if not nxt then  -- popupd's states carry their order stamp as a fifth field
    nxt, imp, act, upd = match(s, "^(%-?%d+),(%d+),(%a+),(%d+),[1-9]%d*$")
  end
  if not nxt or (byte(nxt) == 45 and nxt ~= "-1") then return nil end
  if act ~= "show" and act ~= "ignore" and act ~= "click" then return nil end
  return tonumber(nxt), tonumber(imp)
end

-- core/rules.cc state_allows for the stored text s (nil = no state).
local function allows(p, s, now)
  local nxt, imp = decode_state(s)
  if p.max_imp and (imp or 0) >= p.max_imp then return false end
  if not nxt then return true end
  if nxt == -1 then return false end
  return now >= nxt
end

local function later(now, cooldown)
  local t = now + cooldown
  return t > 0 and t or 0
end

-- ------------------------------------------------------------------ events

local function wall_us()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000000 + tonumber(tv.tv_usec)
end

-- Strictly increasing in this worker even if the clock repeats a value.
local function next_order()
  local t = wall_us()
  last_order = t > last_order and t or last_order + 1
  return last_order
end

-- fcgi/stamper.cc: the order stamp, then 64 random bits, so MariaDB
-- appends to popup_events' primary key instead of splitting its pages.
local function stamped_id(order)
  return format("%016x%08x%08x", order, random(0, 0xffffffff), random(0, 0xffffffff))
end

-- core/event.cc action_event_id: the first 16 bytes of
-- SHA-256("action\0<uid>\0client\0<key>") in hex, so a keyed action is the
-- same event whichever implementation records it.
local function keyed_id(uid, key)
  local text = "action\0" .. uid .. "\0client\0" .. key
  ffi.C.SHA256(text, #text, digest)
  return format("%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x",
                digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6],
                digest[7], digest[8], digest[9], digest[10], digest[11], digest[12], digest[13],
                digest[14], digest[15])
end

local EVENT = '{"id":"%s","uid":"%s","popup_id":%d,"kind":"%s","ts":%d,"order":%d,' ..
              '"next_show_at":%d,"impressions":%d,"last_action":"%s"}'

-- README "Event encoding"; uid is valid_uid, so it needs no escaping.
-- id nil: an impression's (stamped_id).
local function event_json(id, uid, popup_id, kind, now, nxt, imp)
  local order = next_order()
  return format(EVENT, id or stamped_id(order), uid, popup_id, kind, now, order, nxt, imp, kind)
end

-- ---------------------------------------------------------------- handlers

local function current_config()
  if not cfg then refresh() end
  return cfg
end

-- GET|HEAD /lua/popup
function M.get()
  local method = ngx.req.get_method()
  if method == "OPTIONS" then return options("GET, HEAD, OPTIONS") end
  if method ~= "GET" and method ~= "HEAD" then
    return fail(405, "method_not_allowed", "this endpoint accepts GET, HEAD, OPTIONS only",
                "GET, HEAD, OPTIONS")
  end
  local uid, platform, lang, v1, v2, v3, v4, err = parse_visit(ngx.var.args)
  if err then return fail(400, "bad_request", err) end
  local c = current_config()
  if not c then return fail(503, "unavailable", "popup configuration is not available") end
  local now = ngx.time()
  local list = visit_list(c, platform, lang)
  local sock, states, chosen, stored
  for i = 1, #list do
    local p = list[i]
    if targets(p, now, uid, v1, v2, v3, v4) then
      if not states then
        sock, err = connect()
        if not sock then return unavailable(err) end
        add_command("HGETALL", user_prefix .. uid)
        local ok
        ok, err = flush(sock)
        if ok then states, err = read_hash(sock) end
        if not states then
          sock:close()
          return unavailable(err)
        end
      end
      stored = states[p.idstr]
      if allows(p, stored, now) then
        chosen = p
        break
      end
    end
  end
  if not chosen or method == "HEAD" then
    if sock then release(sock) end
    return answer(200, chosen and chosen.answer or '{"popup":null}')
  end
  local _, imp = decode_state(stored)
  local count = (imp or 0) + 1
  local nxt = later(now, chosen.show_cd)
  local key = user_prefix .. uid
  add_command("HSET", key, chosen.idstr, format("%d,%d,show,%d", nxt, count, now))
  add_command("EXPIRE", key, opt.state_ttl)
  add_command("LPUSH", events_key, event_json(nil, uid, chosen.id, "show", now, nxt, count))
  local ok
  ok, err = flush(sock)
  if ok then ok, err = read_ok(sock, 3) end
  if not ok then
    sock:close()
    return unavailable(err)
  end
  release(sock)
  answer(200, chosen.answer)
end

-- The fields of an action body (core/params.cc action_form_fields and
-- action_json_fields): a table {uid, popup_id (0 = invalid), has_id,
-- action, action_id}, or nil and a message.
local function form_fields(body)
  local f, dup = {has_id = false}, nil
  local err = each_pair(body, function(k, v)
    if dup or (k ~= "uid" and k ~= "popup_id" and k ~= "action" and k ~= "action_id") then return end
    if f[k] then dup = k .. " is given more than once" return end
    f[k] = v
  end)
  err = err or dup
  if err then return nil, err end
  if f.popup_id then
    local s = f.popup_id
    f.has_id = true
    f.popup_id = (#s >= 1 and #s <= 10 and not find(s, "%D") and tonumber(s) <= 2147483647)
                 and tonumber(s) or 0
  end
  return f
end

local function json_fields(body)
  local doc = cjson.decode(body)
  if doc == nil then return nil, "body is not valid JSON" end
  if type(doc) ~= "table" or not find(body, "^%s*{") then return nil, "body must be a JSON object" end
  local f = {has_id = doc.popup_id ~= nil, popup_id = 0}
  for _, name in ipairs({"uid", "action", "action_id"}) do
    local v = doc[name]
    if v ~= nil and type(v) ~= "string" then return nil, name .. " must be a string" end
    f[name] = v
  end
  local id = doc.popup_id
  if type(id) == "number" and id == floor(id) and id >= 1 and id <= 2147483647 then
    f.popup_id = id
  end
  return f
end

local function media_type(ct)
  return lower(match(ct, "^%s*([^;]-)%s*;") or match(ct, "^%s*(.-)%s*$"))
end

-- core/params.cc check_action: the body's fields merged with the query's
-- uid and the Idempotency-Key header, checked in the same order.
local function check_action(f, query, header)
  local quid, dup
  local err = each_pair(query, function(k, v)
    if k ~= "uid" or dup then return end
    if quid then dup = "uid is given more than once" return end
    quid = v
  end)
  err = err or dup
  if err then return err end
  if quid and not valid_uid(quid) then return UID_MSG end
  if f.uid and quid and f.uid ~= quid then
    return "uid in the query string and uid in the body differ"
  end
  f.uid = f.uid or quid
  if not f.has_id then return "popup_id is required" end
  if not f.uid then return "uid is required" end
  if not valid_uid(f.uid) then return UID_MSG end
  if f.popup_id <= 0 then return "popup_id must be a positive integer" end
  if not f.action then return "action is required" end
  if f.action ~= "click" and f.action ~= "ignore" then return "action must be click or ignore" end
  header = header or ""
  if header ~= "" and not valid_uid(header) then
    return "Idempotency-Key must be 1-64 characters of [A-Za-z0-9._-]"
  end
  if f.action_id and not valid_uid(f.action_id) then
    return "action_id must be 1-64 characters of [A-Za-z0-9._-]"
  end
  if f.action_id and header ~= "" and f.action_id ~= header then
    return "Idempotency-Key and action_id differ"
  end
  f.key = f.action_id or (header ~= "" and header or nil)
  return nil
end

local function parse_action()
  local ct = media_type(ngx.var.content_type or "")
  ngx.req.read_body()
  local body = ngx.req.get_body_data() or ""
  local f, err
  -- core/params.cc: navigator.sendBeacon's text/plain holds either
  -- encoding, and a JSON object is the only one starting with '{'.
  if ct == "text/plain" then
    ct = find(body, "^[ \t\r\n]*{") and "application/json" or "application/x-www-form-urlencoded"
  end
  if ct == "application/x-www-form-urlencoded" then f, err = form_fields(body)
  elseif ct == "application/json" then f, err = json_fields(body)
  else
    err = "Content-Type must be application/x-www-form-urlencoded, application/json or text/plain" ..
          " holding either"
  end
  if not f then return nil, err end
  err = check_action(f, ngx.var.args, ngx.var.http_idempotency_key)
  if err then return nil, err end
  return f
end

-- POST /lua/popup/action: 202 once the state and the event are in Redis.
function M.action()
  local method = ngx.req.get_method()
  if method == "OPTIONS" then return options("POST, OPTIONS") end
  if method ~= "POST" then
    return fail(405, "method_not_allowed", "this endpoint accepts POST, OPTIONS only", "POST, OPTIONS")
  end
  local a, err = parse_action()
  if not a then return fail(400, "bad_request", err) end
  local c = current_config()
  if not c then return fail(503, "unavailable", "popup configuration is not available") end
  local p = c.by_id[a.popup_id]
  if not p then return fail(404, "not_found", format("popup %d does not exist", a.popup_id)) end
  local now = ngx.time()
  local key = user_prefix .. a.uid
  local id = a.key and keyed_id(a.uid, a.key) or nil
  local sock
  sock, err = connect()
  if not sock then return unavailable(err) end
  -- With a key, the marker is taken in the read's round trip; a marker that
  -- exists means the action was recorded before: nothing to do.
  if a.key then add_command("SET", once_prefix .. id, "1", "NX", "EX", opt.once_ttl) end
  add_command("HGET", key, p.idstr)
  local ok, fresh, cur
  ok, err = flush(sock)
  if ok and a.key then fresh, err = read_reply(sock) end
  if ok and fresh ~= false then cur, err = read_reply(sock) end
  if not ok or fresh == false or not cur then
    sock:close()
    return unavailable(err or "redis: error reply")
  end
  if fresh == null then
    release(sock)
    return answer(202, '{"ok":true}')
  end
  local _, imp = decode_state(cur)
  imp = imp or 0
  local nxt
  if a.action == "click" then nxt = p.click_cd and later(now, p.click_cd) or -1
  else nxt = later(now, p.ignore_cd) end
  add_command("MULTI")
  add_command("HSET", key, p.idstr, format("%d,%d,%s,%d", nxt, imp, a.action, now))
  add_command("EXPIRE", key, opt.state_ttl)
  add_command("LPUSH", events_key, event_json(id, a.uid, p.id, a.action, now, nxt, imp))
  add_command("EXEC")
  ok, err = flush(sock)
  if ok then ok, err = read_ok(sock, 4) end
  local exec
  if ok then exec, err = read_reply(sock) end
  if not ok or type(exec) ~= "table" or type(exec[3]) ~= "number" then
    sock:close()
    -- The marker must not outlive an action that was not recorded, or the
    -- client's retry would be taken for a duplicate.
    if a.key then
      local s2 = connect()
      if s2 then
        add_command("DEL", once_prefix .. id)
        if flush(s2) and read_ok(s2, 1) then release(s2) else s2:close() end
      end
    end
    return unavailable(err or "redis: the action was not queued")
  end
  release(sock)
  answer(202, '{"ok":true}')
end

-- ------------------------------------------------------------------- setup

-- init_by_lua (master): settings = {redis = "unix:/path" or "host:port",
-- prefix, state_ttl, once_ttl, timeout_ms, pool_size}.
function M.configure(settings)
  for k, v in pairs(settings) do opt[k] = v end
  local p = opt.prefix
  user_prefix, events_key = p .. ":u:", p .. ":events"
  version_key, set_key, once_prefix = p .. ":config:version", p .. ":config:set", p .. ":once:"
  if sub(opt.redis, 1, 5) == "unix:" then
    redis_host, redis_port = opt.redis, nil
  else
    local h, port = match(opt.redis, "^(.*):(%d+)$")
    redis_host, redis_port = h, tonumber(port)
  end
end

-- init_worker_by_lua: a random seed of this worker's own, the configuration
-- loaded at once and checked every second.
function M.init_worker()
  local seed = ngx.worker.pid() + wall_us() % 1048576
  local f = io.open("/dev/urandom", "rb")
  if f then
    local b = f:read(6) or ""
    f:close()
    for i = 1, #b do seed = seed * 256 + byte(b, i) end
  end
  math.randomseed(seed)
  ngx.timer.at(0, refresh_timer)
  ngx.timer.every(1, refresh_timer)
end

return M
