import { writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tryFastToken } from './fast-path.js';

// This entry is bundled as CommonJS (dist/claude-wif.cjs): measured, an ES module entry costs
// ~6 ms more to start than a CommonJS one, and `token` runs on every hook invocation.
declare const __dirname: string;

const argv = process.argv.slice(2);
const fast = tryFastToken(argv, process.env);
if (fast !== undefined) {
  // fs.writeSync rather than process.stdout: creating the stdout stream costs ~6 ms.
  try {
    writeSync(1, `${fast}\n`);
  } catch {
    process.stdout.write(`${fast}\n`);
  }
} else {
  // Everything else, including every error path, goes through the full CLI: a separate ES module
  // file the hot path never parses.
  const full = pathToFileURL(join(__dirname, 'cli.mjs')).href;
  void (import(full) as Promise<typeof import('./full.js')>)
    .then(async ({ run, processIO }) => {
      // process.exitCode rather than process.exit(): stdout is flushed before the process ends,
      // so `claude-wif token | …` never loses the token.
      process.exitCode = await run(argv, processIO());
    })
    .catch((err: unknown) => {
      process.stderr.write(`claude-wif: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
