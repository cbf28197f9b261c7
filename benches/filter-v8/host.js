// A minimal proxy-wasm (ABI 0.2.1) host in Node, enough to run the filter's render mode on one
// request shape in a loop: for profiling the filter's own per-request cost in V8 without Envoy
// (`node --perf-basic-prof host.js … ` under `perf record`). The origin is a folder; the filter's
// `dispatch_http_call`s are answered from it at once.
//
//   node host.js FILTER.wasm STORE_DIR PATH USER_AGENT [REQUESTS]
//
// The plugin configuration is render mode's, as benches/envoy/run.sh gives it; PLUGIN_FILE
// names a file to give instead (the floor filter's: the body it answers).
"use strict";
const fs = require("node:fs");
const pathMod = require("node:path");
const crypto = require("node:crypto");

const [wasmPath, storeDir, reqPath, userAgent, count = "20000"] = process.argv.slice(2);
const plugin = process.env.PLUGIN_FILE ? fs.readFileSync(process.env.PLUGIN_FILE, "utf8") : JSON.stringify({
  engine: { policy: { default: { rate_limit: { per_client: null, per_mac: null } } } },
  routes: { rewrite: { mode: { rewrite: { prefix: "" } } } },
  origin: { upstream: "store", authority: "127.0.0.1:1" },
  cache: { ttl_secs: 60 },
});

let mem, exp;
const u8 = () => new Uint8Array(mem.buffer);
const dv = () => new DataView(mem.buffer);
const enc = new TextEncoder();
const dec = new TextDecoder();
const str = (p, n) => dec.decode(u8().subarray(p, p + n));

// Copies bytes into memory the filter allocates, and tells it where.
function give(bytes, retPtr, retSize) {
  const p = bytes.length ? exp.proxy_on_memory_allocate(bytes.length) : 0;
  u8().set(bytes, p);
  dv().setUint32(retPtr, p, true);
  dv().setUint32(retSize, bytes.length, true);
  return 0;
}
function serialise(pairs) {
  const parts = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)]);
  let size = 4 + parts.length * 8;
  for (const [k, v] of parts) size += k.length + v.length + 2;
  const out = new Uint8Array(size);
  const d = new DataView(out.buffer);
  d.setUint32(0, parts.length, true);
  let at = 4;
  for (const [k, v] of parts) { d.setUint32(at, k.length, true); d.setUint32(at + 4, v.length, true); at += 8; }
  for (const [k, v] of parts) { out.set(k, at); at += k.length + 1; out.set(v, at); at += v.length + 1; }
  return out;
}
// A map's serialised form, made again only when the map changed (the request's never does):
// the host's own cost should stay out of the filter's figure.
const serialisedMaps = new Map();
function serialised(t) {
  const pairs = maps[t] || [];
  const hit = serialisedMaps.get(t);
  if (hit && hit.pairs === pairs) return hit.bytes;
  const bytes = serialise(pairs);
  serialisedMaps.set(t, { pairs, bytes });
  return bytes;
}
function parsePairs(p, n) {
  const d = dv();
  const c = d.getUint32(p, true);
  let at = p + 4 + c * 8;
  const pairs = [];
  for (let i = 0; i < c; i++) {
    const kl = d.getUint32(p + 4 + i * 8, true), vl = d.getUint32(p + 8 + i * 8, true);
    pairs.push([str(at, kl), str(at + kl + 1, vl)]);
    at += kl + vl + 2;
  }
  return pairs;
}

const maps = { 0: [], 2: [], 6: [] };
const buffers = { 7: enc.encode(plugin), 6: new Uint8Array(0), 4: new Uint8Array(0) };
const properties = Object.fromEntries(Object.entries({
  "xds\0route_name": process.env.ROUTE || "render",
  "source\0address": "127.0.0.1:40000",
}).map(([k, v]) => [k, enc.encode(v)]));
const calls = [];
let nextToken = 1, localResponses = 0, lastStatus = 0, httpCalls = 0, logs = 0;
const S_OK = 0, S_NOT_FOUND = 1;

const env = {
  proxy_log: (level, p, n) => { logs++; if (process.env.SHOW_LOG) console.error(level, str(p, n)); return 0; },
  proxy_get_current_time_nanoseconds: (ret) => { dv().setBigUint64(ret, process.hrtime.bigint() + 1_700_000_000_000_000_000n, true); return 0; },
  proxy_get_property: (p, n, rp, rs) => {
    const v = properties[str(p, n).replace(/\0$/, "")];
    return v === undefined ? S_NOT_FOUND : give(v, rp, rs);
  },
  proxy_set_property: () => 0,
  proxy_get_buffer_bytes: (type, start, len, rp, rs) => {
    const b = buffers[type];
    if (!b) return S_NOT_FOUND;
    return give(b.subarray(start >>> 0, Math.min(b.length, (start >>> 0) + (len >>> 0))), rp, rs);
  },
  proxy_set_buffer_bytes: () => 0,
  proxy_get_header_map_pairs: (t, rp, rs) => give(serialised(t), rp, rs),
  proxy_set_header_map_pairs: () => 0,
  proxy_get_header_map_value: (t, p, n, rp, rs) => {
    const k = str(p, n).toLowerCase();
    const hit = (maps[t] || []).find(([name]) => name === k);
    return hit ? give(enc.encode(hit[1]), rp, rs) : S_NOT_FOUND;
  },
  proxy_add_header_map_value: () => 0,
  proxy_replace_header_map_value: () => 0,
  proxy_remove_header_map_value: () => 0,
  proxy_define_metric: (type, p, n, ret) => { dv().setUint32(ret, 1, true); return 0; },
  proxy_increment_metric: () => 0,
  proxy_get_shared_data: () => S_NOT_FOUND,
  proxy_set_shared_data: () => 0,
  proxy_register_shared_queue: (p, n, ret) => { dv().setUint32(ret, 1, true); return 0; },
  proxy_resolve_shared_queue: (a, b, c, d, ret) => { dv().setUint32(ret, 1, true); return 0; },
  proxy_enqueue_shared_queue: () => 0,
  proxy_dequeue_shared_queue: () => S_NOT_FOUND,
  proxy_set_tick_period_milliseconds: () => 0,
  proxy_send_local_response: (status) => { localResponses++; lastStatus = status; return 0; },
  proxy_continue_stream: () => 0,
  proxy_close_stream: () => 0,
  proxy_http_call: (up, upn, hp, hn, bp, bn, tp, tn, timeout, ret) => {
    const headers = parsePairs(hp, hn);
    const token = nextToken++;
    httpCalls++;
    calls.push({ token, path: (headers.find(([k]) => k === ":path") || [])[1] });
    dv().setUint32(ret, token, true);
    return 0;
  },
  proxy_get_status: () => S_NOT_FOUND,
  proxy_done: () => 0,
  proxy_call_foreign_function: () => S_NOT_FOUND,
  proxy_set_effective_context: () => 0,
  proxy_grpc_cancel: () => 0, proxy_grpc_close: () => 0, proxy_grpc_send: () => 0,
};
const wasi = {
  random_get: (p, n) => { crypto.randomFillSync(u8().subarray(p, p + n)); return 0; },
  environ_sizes_get: (a, b) => { dv().setUint32(a, 0, true); dv().setUint32(b, 0, true); return 0; },
  environ_get: () => 0,
  fd_write: (fd, iovs, n, ret) => {
    let total = 0;
    for (let i = 0; i < n; i++) total += dv().getUint32(iovs + i * 8 + 4, true);
    dv().setUint32(ret, total, true);
    return 0;
  },
  proc_exit: (c) => { throw new Error("proc_exit " + c); },
};

// Answers the filter's pending origin calls from the folder, until there are none.
function answerCalls(ctx) {
  while (calls.length) {
    const { token, path } = calls.shift();
    const file = pathMod.join(storeDir, decodeURIComponent((path || "/").split("?")[0]));
    let status = "404", body = new Uint8Array(0);
    try { body = fs.readFileSync(file); status = "200"; } catch {}
    maps[6] = [[":status", status], ["content-length", String(body.length)]];
    buffers[4] = body;
    exp.proxy_on_http_call_response(1, token, maps[6].length, body.length, 0);
  }
}

(async () => {
  const module = await WebAssembly.compile(fs.readFileSync(wasmPath));
  // Imports the filter never calls on this path (gRPC, streams) answer "unimplemented" (12).
  const counts = {};
  const counted = (name, f) => (...a) => { counts[name] = (counts[name] || 0) + 1; return f(...a); };
  const imports = new Proxy(env, {
    get: (t, name) => (process.env.PHASES ? counted(name, t[name] || (() => 12)) : t[name] || (() => 12)),
  });
  const instance = await WebAssembly.instantiate(module, { env: imports, wasi_snapshot_preview1: wasi });
  exp = instance.exports;
  mem = exp.memory;
  if (exp._initialize) exp._initialize();
  exp.proxy_on_context_create(1, 0);
  exp.proxy_on_vm_start(1, 0);
  if (!exp.proxy_on_configure(1, buffers[7].length)) throw new Error("configure refused");
  let ctx = 2;
  const phases = { create: 0n, headers: 0n, calls: 0n, log: 0n, done: 0n, delete: 0n };
  const timed = (name, f) => {
    if (!process.env.PHASES) return f();
    const t = process.hrtime.bigint();
    f();
    phases[name] += process.hrtime.bigint() - t;
  };
  const request = [[":method", "GET"], [":path", reqPath], [":authority", "pbx"], [":scheme", "http"],
    ["user-agent", userAgent], ["accept", "*/*"]];
  const one = () => {
    const id = ctx++;
    maps[0] = request;
    timed("create", () => exp.proxy_on_context_create(id, 1));
    timed("headers", () => exp.proxy_on_request_headers(id, maps[0].length, 1));
    timed("calls", () => answerCalls(id));
    timed("log", () => exp.proxy_on_log(id));
    timed("done", () => exp.proxy_on_done(id));
    timed("delete", () => exp.proxy_on_delete(id));
  };
  // Warm-up: the first origin reads, and enough calls for V8 to optimise the hot functions.
  const warm = 2000;
  for (let i = 0; i < warm; i++) one();
  const warmCalls = httpCalls;
  const n = Number(count);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) one();
  const us = Number(process.hrtime.bigint() - t0) / 1000 / n;
  console.log(`per request ${us.toFixed(2)} µs; status ${lastStatus}; local responses ${localResponses}; ` +
    `origin calls warm ${warmCalls}, measured ${httpCalls - warmCalls}; logs ${logs}`);
  if (process.env.PHASES) {
    const total = n + warm;
    console.log("µs per request by callback:", Object.entries(phases)
      .map(([k, v]) => `${k} ${(Number(v) / 1000 / total).toFixed(2)}`).join(", "));
    console.log("hostcalls per request:", Object.entries(counts)
      .map(([k, v]) => `${k} ${(v / total).toFixed(1)}`).join(", "));
  }
})();
