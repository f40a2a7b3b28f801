import { writeSync } from 'node:fs';
import { hotCacheHit, parseHotArgs } from './fast-path.js';
import { credentialEnv, type Target } from '../output/credential-env.js';
import { renderEnv, type EnvFormat } from '../output/shells.js';

/**
 * The hot-path module (bundled as dist/claude-wif.cjs). Answers `claude-wif token` and
 * `claude-wif env` from a fresh cache and returns true; returns false for everything else, which
 * bin/claude-wif hands to the full CLI (dist/cli.mjs). Kept free of dynamic imports so it can run
 * from V8's code cache.
 */
export function answerFromCache(argv: string[], env: NodeJS.ProcessEnv): boolean {
  const out = hotOutput(argv, env);
  if (out === undefined) return false;
  // fs.writeSync rather than process.stdout: creating the stdout stream costs ~6 ms.
  try {
    writeSync(1, out);
  } catch {
    process.stdout.write(out);
  }
  return true;
}

/** What `token`/`env` print on stdout from a fresh cache, or undefined: the full CLI answers. */
export function hotOutput(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const args = parseHotArgs(argv);
  if (args === undefined || args.command === 'exec') return undefined;
  const hit = hotCacheHit(args, env);
  if (hit === undefined) return undefined;
  if (args.command === 'token') return `${hit.token.token}\n`;
  try {
    // The same functions as the env command; a value a format cannot carry throws, and the full
    // CLI then reports it.
    return renderEnv(args.format as EnvFormat, credentialEnv(hit.token, hit.plan.baseUrl.value, (args.target ?? 'sdk') as Target, env));
  } catch {
    return undefined;
  }
}
