// The Worker's entry module: instantiates the provedge_edge wasm (compiled by workerd from the
// module import) and hands every fetch event to the Rust handler (edge/src/lib.rs).
// scripts/build-worker copies this next to wasm-bindgen's output in edge/build/.
import module from "./provedge_edge_bg.wasm";
import { initSync, fetch as handle } from "./provedge_edge.js";

initSync({ module });

export default {
  async fetch(request, env, ctx) {
    return handle(request, env, ctx);
  },
};
