// prom-client, bundled on its own as dist/metrics-prom.mjs (scripts/build.mjs) and left external
// to dist/cli.mjs: only `agent` and `proxy` with a health listener read and parse it.
export { Counter, Gauge, Registry } from 'prom-client';
