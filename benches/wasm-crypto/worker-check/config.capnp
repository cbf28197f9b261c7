using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .probe) ],
  sockets = [ (name = "http", address = "127.0.0.1:18787", http = (), service = "main") ],
);
const probe :Workerd.Worker = (
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "probe.wasm", wasm = embed "out/size_probe_bg.wasm"),
  ],
  compatibilityDate = "2025-01-01",
);
