-- A mixed phone population for the soak: device files of several vendors, revalidations
-- (If-None-Match, answered 304), uploads (PUT of a phone log) and refusals (unknown files,
-- malformed MACs, a wrong method). ETags are filled in by run.sh (ETAG_* placeholders).
local requests = {
  {"GET", "/cfg000b82123456.xml", "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456", nil, nil},
  {"GET", "/0004f2123456-phone.cfg", "FileTransport PolycomVVX-VVX_400-UA/5.9.0.9373", nil, nil},
  {"GET", "/y000000000066.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56", nil, nil},
  {"GET", "/001565123456.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56", nil, nil},
  {"GET", "/algom0022EE123456.conf", "Algo-8188 5.2 0022EE123456", nil, nil},
  {"GET", "/cfg000b82123456.xml", "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456", "ETAG_GS", nil},
  {"GET", "/0004f2123456-phone.cfg", "FileTransport PolycomVVX-VVX_400-UA/5.9.0.9373", "ETAG_POLY", nil},
  {"GET", "/001565123456.cfg", "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56", "ETAG_YEA", nil},
  {"PUT", "/0004f2123456-app.log", "FileTransport PolycomVVX-VVX_400-UA/5.9.0.9373", nil, "soak log line\n"},
  {"GET", "/cfg000b82999999.xml", "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82999999", nil, nil},
  {"GET", "/cfgZZZZ.xml", "curl/8", nil, nil},
  {"DELETE", "/cfg000b82123456.xml", "curl/8", nil, nil},
}
local built = {}
local n = 0

init = function(args)
  for i, r in ipairs(requests) do
    local headers = {["User-Agent"] = r[3]}
    if r[4] then headers["If-None-Match"] = r[4] end
    built[i] = wrk.format(r[1], r[2], headers, r[5])
  end
end

request = function()
  n = n + 1
  return built[(n % #built) + 1]
end
