import { writeSync } from 'node:fs';
import { tryFastToken } from './fast-path.js';

/**
 * The hot-path module (bundled as dist/claude-wif.cjs). Answers `claude-wif token` from a fresh
 * cache and returns true; returns false for everything else, which bin/claude-wif hands to the
 * full CLI (dist/cli.mjs). Kept free of dynamic imports so it can run from V8's code cache.
 */
export function answerFromCache(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const token = tryFastToken(argv, env);
  if (token === undefined) return false;
  // fs.writeSync rather than process.stdout: creating the stdout stream costs ~6 ms.
  try {
    writeSync(1, `${token}\n`);
  } catch {
    process.stdout.write(`${token}\n`);
  }
  return true;
}
