import { tryFastToken } from './fast-path.js';

const argv = process.argv.slice(2);
const fast = tryFastToken(argv, process.env);
if (fast !== undefined) {
  process.stdout.write(`${fast}\n`);
} else {
  // Everything else, including every error path, goes through the full CLI.
  // A computed specifier: the bundler leaves it alone, so the full CLI stays a separate file
  // that the hot path never parses.
  const full = new URL('./cli.mjs', import.meta.url).href;
  void (import(full) as Promise<typeof import('./full.js')>).then(async ({ run, processIO }) => {
    // process.exitCode rather than process.exit(): stdout is flushed before the process ends,
    // so `claude-wif token | …` never loses the token.
    process.exitCode = await run(argv, processIO());
  }).catch((err: unknown) => {
    process.stderr.write(`claude-wif: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
