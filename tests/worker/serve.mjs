// Runs the built Worker (edge/build, from scripts/build-worker) in workerd through Miniflare,
// on 127.0.0.1, with a local KV namespace `STORE` and R2 bucket `BUCKET` seeded from a store
// folder.
//
// usage: node tests/worker/serve.mjs PORT STORE_DIR CONFIG_JSON [UPSTREAM_URL]
// Prints `ready <url>` once it serves; runs until killed. Miniflare comes from the folder in
// PROVEDGE_WORKERD_TOOLS (where scripts/test-all installs it with npm).
//
// The store is seeded as `provedge store push` lays it out: each file under its key, in KV or
// R2 by the placement rule of edge/src/settings.rs (`worker.kv_prefixes` of CONFIG_JSON, else
// the default: device records, variables, last-seen, uploads and `store/` in KV, the rest in
// R2), and last the store's generation (`store/generation`, a hash of every key's content).
// Until `store push --local` can seed Miniflare's state, this mirrors it here. Environment:
//   PROVEDGE_WORKER_R2=0          no BUCKET binding: every key in KV (the KV-only Worker)
//   PROVEDGE_WORKER_GENERATION=0  no generation key (a store not pushed by provedge)
//   PROVEDGE_WORKER_SECRETS       a JSON object of Worker secrets (name → text)
//
// So that tests can see and change the store, it answers commands on stdin, one a line, with
// one line `kv <JSON>` each on stdout:
//   keys PREFIX    the KV keys under PREFIX (an array)
//   get KEY        the KV value as text (or null)
//   r2keys PREFIX  the R2 keys under PREFIX (an array)
//   reseed         writes the store folder again (every key, then a new generation): a push;
//                  answers the generation
//   r2put KEY      writes the store folder's file KEY to R2 and nothing else (the generation
//                  unchanged): an object replaced behind the Worker's back
//   unbind NAME    restarts workerd without the binding NAME (`STORE` or `BUCKET`): the store
//                  is down, the isolate new; the colo's cache (persisted) is kept
//   bind           restarts workerd with every binding again
//   restart        restarts workerd as it was: a new isolate in a warm colo
// Storage (KV, R2, the Cache API) is persisted in a scratch folder, so restarts keep it.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";

const [port, storeDir, config, upstream] = process.argv.slice(2);
const tools = process.env.PROVEDGE_WORKERD_TOOLS;
const require = createRequire(join(tools, "package.json"));
const { Miniflare } = require("miniflare");
const build = resolve(new URL("../../edge/build", import.meta.url).pathname);
const withR2 = process.env.PROVEDGE_WORKER_R2 !== "0";
const withGeneration = process.env.PROVEDGE_WORKER_GENERATION !== "0";
const secrets = JSON.parse(process.env.PROVEDGE_WORKER_SECRETS || "{}");
const scratch = mkdtempSync(join(tmpdir(), "provedge-miniflare-"));

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

// The placement rule (provedge::store::placement::Placement), as the Worker applies it.
function kvPrefixes() {
  try {
    const prefixes = JSON.parse(config || "{}")?.worker?.kv_prefixes;
    if (Array.isArray(prefixes)) return prefixes;
  } catch {}
  return ["devices/", "vars/", "last-seen/", "uploads/", "store/"];
}
const prefixes = kvPrefixes();
function inKv(key) {
  if (!withR2) return true;
  let within = key;
  const tenant = key.match(/^tenants\/[^/]+\/(.*)$/);
  if (tenant) within = tenant[1];
  return prefixes.some((p) => within.startsWith(p));
}

const bindings = { PROVEDGE_CONFIG: config, ...secrets };
if (upstream) bindings.PROVEDGE_UPSTREAM = upstream;
function options(without = []) {
  return {
    host: "127.0.0.1",
    port: Number(port),
    compatibilityDate: "2025-09-01",
    modulesRoot: build,
    // The entry first, then wasm-bindgen's glue, its snippets and the module.
    modules: [join(build, "shim.mjs"), ...[...files(build)].filter((p) => !p.endsWith("shim.mjs"))]
      .filter((path) => /\.(m?js|wasm)$/.test(path))
      .map((path) => ({ type: path.endsWith(".wasm") ? "CompiledWasm" : "ESModule", path })),
    kvNamespaces: without.includes("STORE") ? [] : ["STORE"],
    r2Buckets: withR2 && !without.includes("BUCKET") ? ["BUCKET"] : [],
    kvPersist: join(scratch, "kv"),
    r2Persist: join(scratch, "r2"),
    cachePersist: join(scratch, "cache"),
    bindings,
  };
}

const mf = new Miniflare(options());
const url = await mf.ready;
const kv = () => mf.getKVNamespace("STORE");
const r2 = () => mf.getR2Bucket("BUCKET");

// Writes every file of the store folder where the placement says, then the generation.
async function seed() {
  const hashes = [];
  for (const path of files(storeDir)) {
    const key = relative(storeDir, path).split("\\").join("/");
    const bytes = readFileSync(path); // a Buffer view into a pool: pass exactly its bytes
    const value = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    if (inKv(key)) await (await kv()).put(key, value);
    else await (await r2()).put(key, value);
    hashes.push(`${key}\0${createHash("sha256").update(bytes).digest("hex")}\n`);
  }
  if (!withGeneration) return null;
  const generation = createHash("sha256").update(hashes.sort().join("")).digest("hex");
  await (await kv()).put("store/generation", generation);
  return generation;
}

await seed();
console.log(`ready ${url}`);
createInterface({ input: process.stdin }).on("line", async (line) => {
  const space = line.indexOf(" ");
  const [command, arg] = space < 0 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)];
  let answer;
  try {
    if (command === "keys") {
      answer = (await (await kv()).list({ prefix: arg })).keys.map((k) => k.name);
    } else if (command === "get") {
      answer = await (await kv()).get(arg);
    } else if (command === "r2keys") {
      answer = (await (await r2()).list({ prefix: arg })).objects.map((o) => o.key);
    } else if (command === "reseed") {
      answer = await seed();
    } else if (command === "r2put") {
      const bytes = readFileSync(join(storeDir, arg));
      await (await r2()).put(arg, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
      answer = "put";
    } else if (command === "unbind") {
      await mf.setOptions(options([arg]));
      answer = "unbound";
    } else if (command === "bind" || command === "restart") {
      await mf.setOptions(options());
      answer = "bound";
    } else {
      answer = { error: `unknown command ${command}` };
    }
  } catch (e) {
    answer = { error: String(e) };
  }
  console.log(`kv ${JSON.stringify(answer)}`);
});
const stop = async () => {
  await mf.dispose();
  rmSync(scratch, { recursive: true, force: true });
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
