// A Cloudflare Worker (run here under workerd, the Workers runtime) that loads the size_probe
// module built for wasm32-unknown-unknown and asks it for salts. getrandom's wasm_js backend
// reaches crypto.getRandomValues through one wasm-bindgen import, provided below by hand so
// no bundler is needed; its hashed name is looked up rather than hard-coded.
import wasmModule from "./probe.wasm";

let wasm;
let mem8 = null;
const u8 = () => {
  if (!mem8 || mem8.byteLength === 0) mem8 = new Uint8Array(wasm.memory.buffer);
  return mem8;
};
const raise = (e) => {
  const i = wasm.__externref_table_alloc();
  wasm.__wbindgen_externrefs.set(i, e);
  wasm.__wbindgen_exn_store(i);
};
const imports = {};
for (const imp of WebAssembly.Module.imports(wasmModule)) {
  const ns = (imports[imp.module] ??= {});
  if (imp.name.startsWith("__wbg_getRandomValues_")) {
    ns[imp.name] = (ptr, len) => {
      try {
        globalThis.crypto.getRandomValues(u8().subarray(ptr >>> 0, (ptr >>> 0) + len));
      } catch (e) {
        raise(e);
      }
    };
  } else if (imp.name === "__wbindgen_init_externref_table") {
    ns[imp.name] = () => {
      const t = wasm.__wbindgen_externrefs;
      t.set(0, undefined); t.set(1024, undefined); t.set(1025, null); t.set(1026, true); t.set(1027, false);
    };
  } else {
    throw new Error(`unexpected import ${imp.module}.${imp.name}`);
  }
}
wasm = new WebAssembly.Instance(wasmModule, imports).exports;
wasm.__wbindgen_start();

// Workers refuse getRandomValues outside a request: this must come back 0 (an error value,
// not a trap), which is why provedge draws salts only while handling a request.
let atStartup;
try { atStartup = String(wasm.fresh_salt()); } catch (e) { atStartup = `threw: ${e}`; }

export default {
  async fetch() {
    const a = wasm.fresh_salt(), b = wasm.fresh_salt();
    const distinct = a !== b && a !== 0n && b !== 0n;
    return new Response(JSON.stringify({ a: String(a), b: String(b), distinct, atStartup }));
  },
};
