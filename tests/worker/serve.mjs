// Runs the built Worker (edge/build, from scripts/build-worker) in workerd through Miniflare,
// on 127.0.0.1, with a local KV namespace `STORE` seeded from a store folder.
//
// usage: node tests/worker/serve.mjs PORT STORE_DIR CONFIG_JSON [UPSTREAM_URL]
// Prints `ready <url>` once it serves; runs until killed. Miniflare comes from the folder in
// PROVEDGE_WORKERD_TOOLS (where scripts/test-all installs it with npm).
//
// So that tests can see what landed in KV, it answers commands on stdin, one a line, with one
// line `kv <JSON>` each on stdout: `keys PREFIX` gives the keys under PREFIX (an array),
// `get KEY` the value as text (or null).
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

const [port, storeDir, config, upstream] = process.argv.slice(2);
const tools = process.env.PROVEDGE_WORKERD_TOOLS;
const require = createRequire(join(tools, "package.json"));
const { Miniflare } = require("miniflare");
const build = resolve(new URL("../../edge/build", import.meta.url).pathname);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* files(path);
    else yield path;
  }
}

const bindings = { PROVEDGE_CONFIG: config };
if (upstream) bindings.PROVEDGE_UPSTREAM = upstream;
const mf = new Miniflare({
  host: "127.0.0.1",
  port: Number(port),
  compatibilityDate: "2025-09-01",
  modulesRoot: build,
  // The entry first, then wasm-bindgen's glue, its snippets and the module.
  modules: [join(build, "shim.mjs"), ...[...files(build)].filter((p) => !p.endsWith("shim.mjs"))]
    .filter((path) => /\.(m?js|wasm)$/.test(path))
    .map((path) => ({ type: path.endsWith(".wasm") ? "CompiledWasm" : "ESModule", path })),
  kvNamespaces: ["STORE"],
  bindings,
});
const url = await mf.ready;
const kv = await mf.getKVNamespace("STORE");
for (const path of files(storeDir)) {
  const key = relative(storeDir, path).split("\\").join("/");
  const bytes = readFileSync(path); // a Buffer view into a pool: pass exactly its bytes
  await kv.put(key, bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
console.log(`ready ${url}`);
createInterface({ input: process.stdin }).on("line", async (line) => {
  const space = line.indexOf(" ");
  const [command, arg] = space < 0 ? [line, ""] : [line.slice(0, space), line.slice(space + 1)];
  let answer;
  if (command === "keys") {
    answer = (await kv.list({ prefix: arg })).keys.map((k) => k.name);
  } else if (command === "get") {
    answer = await kv.get(arg);
  } else {
    answer = { error: `unknown command ${command}` };
  }
  console.log(`kv ${JSON.stringify(answer)}`);
});
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
