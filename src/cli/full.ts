// Entry of the full CLI bundle (dist/cli.mjs), loaded by the hot-path entry only when needed.
export { run } from './main.js';
export { processIO } from './io.js';
// For the hot exec entry (dist/exec.cjs): the core, loaded only when a refresh is due.
export { getAccessToken } from '../core/credentials.js';
