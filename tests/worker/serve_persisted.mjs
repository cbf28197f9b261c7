// The name tests/store_push.rs serves pushed state by: the same script as tests/worker/serve.mjs
// (usage: node tests/worker/serve_persisted.mjs PORT PERSIST_DIR CONFIG_JSON STORE_ID
// [BUCKET_NAME]; its commands and environment are described there).
import "./serve.mjs";
