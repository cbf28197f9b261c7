// Runs the built Worker (edge/build, from scripts/build-worker) in workerd through Miniflare, on
// 127.0.0.1, over the local state `provedge store push --local --persist-to DIR` wrote: KV
// namespace STORE_ID bound as `STORE` and, when BUCKET_NAME is given, that R2 bucket bound as
// `BUCKET` (Miniflare's `kvPersist`/`r2Persist` are the state's `v3/kv` and `v3/r2`, where
// wrangler keeps them). Without a built Worker it serves 503s: enough to look into the state.
//
// usage: node tests/worker/serve.mjs PORT PERSIST_DIR CONFIG_JSON STORE_ID [BUCKET_NAME]
// Prints `ready <url>` once it serves; runs until killed. Miniflare is the one wrangler brings
// (so it reads the state as wrangler wrote it), from PROVEDGE_WORKERD_TOOLS, where
// scripts/test-all installs both. Environment, all optional:
//   PROVEDGE_WORKER_UPSTREAM      PROVEDGE_UPSTREAM of the Worker (rewrite and nginx-rules modes)
//   PROVEDGE_WORKER_SECRETS       a JSON object of Worker secrets (name → text)
//   PROVEDGE_WORKER_RATE_LIMIT    N: a rate-limiting binding `RATE_LIMIT`, N requests a minute
//   PROVEDGE_WORKER_NODEJS_COMPAT=0  without the `nodejs_compat` flag edge/wrangler.toml sets
//   PROVEDGE_WORKER_GENERATION=0  removes the push's own keys (`store/generation`,
//                                 `store/manifest.json`) before serving: a store written by hand
//
// So that tests can see and change the state, it answers commands on stdin, one a line, with
// one line `kv <JSON>` each on stdout:
//   keys PREFIX       the KV keys under PREFIX (an array)
//   get KEY           the KV value, base64 (or null)
//   r2keys PREFIX     the R2 keys under PREFIX (an array; [] without a bucket)
//   r2get KEY         the R2 object, base64 (or null)
//   r2put KEY PATH    writes the file PATH to R2 as KEY and nothing else (the generation
//                     unchanged): an object replaced behind the Worker's back, not a push
//   unbind NAME       restarts workerd without the binding NAME (`STORE` or `BUCKET`): the store
//                     is down, the isolate new; the colo's cache (persisted) is kept
//   bind, restart     restarts workerd with every binding: a new isolate in a warm colo
// The colo's Cache API is persisted in a scratch folder beside, so restarts keep it.
// workerd's own output comes through stdout too: its stdout (the Worker's `console.log`) as it
// is, its stderr (`console.warn`, `console.error`) a line each as `stderr <line>` (and still on
// stderr, for whoever watches the test run).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

const [port, persist, config, storeId, bucketName] = process.argv.slice(2);
const tools = process.env.PROVEDGE_WORKERD_TOOLS;
const fromTools = createRequire(join(tools, "package.json"));
let miniflareFrom = fromTools;
try {
  miniflareFrom = createRequire(fromTools.resolve("wrangler/package.json"));
} catch {}
const { Miniflare } = miniflareFrom("miniflare");
const build = resolve(new URL("../../edge/build", import.meta.url).pathname);
const secrets = JSON.parse(process.env.PROVEDGE_WORKER_SECRETS || "{}");
const upstream = process.env.PROVEDGE_WORKER_UPSTREAM;
const rateLimit = Number(process.env.PROVEDGE_WORKER_RATE_LIMIT || 0);
// Beside the state folder, in the run folder the test removes even when this script cannot.
const scratch = mkdtempSync(join(dirname(resolve(persist)), "miniflare-"));

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

const worker = existsSync(join(build, "shim.mjs"))
  ? {
      modulesRoot: build,
      // The entry first, then wasm-bindgen's glue, its snippets and the module.
      modules: [join(build, "shim.mjs"), ...[...files(build)].filter((p) => !p.endsWith("shim.mjs"))]
        .filter((path) => /\.(m?js|wasm)$/.test(path))
        .map((path) => ({ type: path.endsWith(".wasm") ? "CompiledWasm" : "ESModule", path })),
    }
  : {
      modules: true,
      script: "export default { fetch() { return new Response('no Worker built', { status: 503 }); } };",
    };
const bindings = { PROVEDGE_CONFIG: config, ...secrets };
if (upstream) bindings.PROVEDGE_UPSTREAM = upstream;
function options(without = []) {
  return {
    host: "127.0.0.1",
    port: Number(port),
    compatibilityDate: "2025-09-01",
    compatibilityFlags: process.env.PROVEDGE_WORKER_NODEJS_COMPAT === "0" ? [] : ["nodejs_compat"],
    ...worker,
    kvNamespaces: without.includes("STORE") ? {} : { STORE: storeId },
    kvPersist: join(persist, "v3", "kv"),
    ...(bucketName && !without.includes("BUCKET")
      ? { r2Buckets: { BUCKET: bucketName }, r2Persist: join(persist, "v3", "r2") }
      : {}),
    cachePersist: join(scratch, "cache"),
    handleRuntimeStdio(stdout, stderr) {
      createInterface({ input: stdout }).on("line", (line) => console.log(line));
      createInterface({ input: stderr }).on("line", (line) => {
        console.log(`stderr ${line}`);
        console.error(line);
      });
    },
    ...(rateLimit > 0 ? { ratelimits: { RATE_LIMIT: { simple: { limit: rateLimit, period: 60 } } } } : {}),
    bindings,
  };
}

const mf = new Miniflare(options());
const url = await mf.ready;
// Asked anew after every restart: a binding's handle belongs to the workerd it came from.
const kv = () => mf.getKVNamespace("STORE");
const r2 = () => (bucketName ? mf.getR2Bucket("BUCKET") : null);
const base64 = (buffer) => (buffer === null ? null : Buffer.from(buffer).toString("base64"));

if (process.env.PROVEDGE_WORKER_GENERATION === "0") {
  for (const key of ["store/generation", "store/manifest.json"]) await (await kv()).delete(key);
}

console.log(`ready ${url}`);
createInterface({ input: process.stdin }).on("line", async (line) => {
  const [command, ...args] = line.split(" ");
  const arg = args.join(" ");
  let answer;
  try {
    const bucket = command.startsWith("r2") ? await r2() : null;
    if (command === "keys") {
      answer = (await (await kv()).list({ prefix: arg })).keys.map((k) => k.name);
    } else if (command === "get") {
      answer = base64(await (await kv()).get(arg, "arrayBuffer"));
    } else if (command === "r2keys") {
      answer = bucket ? (await bucket.list({ prefix: arg })).objects.map((o) => o.key) : [];
    } else if (command === "r2get") {
      const object = bucket ? await bucket.get(arg) : null;
      answer = object === null ? null : base64(await object.arrayBuffer());
    } else if (command === "r2put") {
      const [key, path] = args;
      const bytes = readFileSync(path); // a Buffer view into a pool: pass exactly its bytes
      await bucket.put(key, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
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
