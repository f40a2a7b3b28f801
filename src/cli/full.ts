// Entry of the full CLI bundle (dist/cli.mjs), loaded by the hot-path entry only when needed.
export { run } from './main.js';
export { processIO } from './io.js';
