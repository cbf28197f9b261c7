// Runs the built Worker (edge/build, from scripts/build-worker) in workerd through Miniflare, on
// 127.0.0.1, over the local state `provedge store push --local --persist-to DIR` wrote: KV
// namespace STORE_ID bound as `STORE` and, when BUCKET_NAME is given, that R2 bucket bound as
// `BUCKET` (Miniflare's `kvPersist`/`r2Persist` are the state's `v3/kv` and `v3/r2`, where
// wrangler keeps them). Without a built Worker it serves 503s: enough to look into the state.
//
// usage: node tests/worker/serve_persisted.mjs PORT PERSIST_DIR CONFIG_JSON STORE_ID [BUCKET_NAME]
// Prints `ready <url>` once it serves; runs until killed. Miniflare is the one wrangler brings
// (so it reads the state as wrangler wrote it), from PROVEDGE_WORKERD_TOOLS, where
// scripts/test-all installs both.
//
// So that tests can see what the push wrote, it answers commands on stdin, one a line, with one
// line `kv <JSON>` each on stdout:
//   keys PREFIX    the KV keys under PREFIX (an array)
//   get KEY        the KV value, base64 (or null)
//   r2keys PREFIX  the R2 keys under PREFIX (an array; [] without a bucket)
//   r2get KEY      the R2 object, base64 (or null)
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

const [port, persist, config, storeId, bucketName] = process.argv.slice(2);
const tools = process.env.PROVEDGE_WORKERD_TOOLS;
const fromTools = createRequire(join(tools, "package.json"));
let miniflareFrom = fromTools;
try {
  miniflareFrom = createRequire(fromTools.resolve("wrangler/package.json"));
} catch {}
const { Miniflare } = miniflareFrom("miniflare");
const build = resolve(new URL("../../edge/build", import.meta.url).pathname);

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
const mf = new Miniflare({
  host: "127.0.0.1",
  port: Number(port),
  compatibilityDate: "2025-09-01",
  ...worker,
  kvNamespaces: { STORE: storeId },
  kvPersist: join(persist, "v3", "kv"),
  ...(bucketName ? { r2Buckets: { BUCKET: bucketName }, r2Persist: join(persist, "v3", "r2") } : {}),
  bindings: { PROVEDGE_CONFIG: config },
});
const url = await mf.ready;
const kv = await mf.getKVNamespace("STORE");
const r2 = bucketName ? await mf.getR2Bucket("BUCKET") : null;
const base64 = (buffer) => (buffer === null ? null : Buffer.from(buffer).toString("base64"));

console.log(`ready ${url}`);
createInterface({ input: process.stdin }).on("line", async (line) => {
  const space = line.indexOf(" ");
  const [command, arg] = space < 0 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)];
  let answer;
  try {
    if (command === "keys") {
      answer = (await kv.list({ prefix: arg })).keys.map((k) => k.name);
    } else if (command === "get") {
      answer = base64(await kv.get(arg, "arrayBuffer"));
    } else if (command === "r2keys") {
      answer = r2 ? (await r2.list({ prefix: arg })).objects.map((o) => o.key) : [];
    } else if (command === "r2get") {
      const object = r2 ? await r2.get(arg) : null;
      answer = object === null ? null : base64(await object.arrayBuffer());
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
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
