import { resolvePlan } from '../core/resolve.js';
import { cachedToken } from '../core/cache-hit.js';
import { systemClock } from '../util/clock.js';

/**
 * The hot path: `claude-wif [global options] token [--min-ttl N] [--format raw]` with a fresh
 * cached token. Hooks run this constantly, so it avoids commander and every other module. It only
 * ever answers a plain cache hit with nothing to warn about; anything else (a miss, a warning, an
 * error, an option it does not know) returns undefined and the full CLI handles the invocation,
 * so the observable behaviour is the same either way.
 */
export function tryFastToken(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  let profile: string | undefined;
  let configDir: string | undefined;
  let identitySource: string | undefined;
  let minTtl = 0;
  let sawToken = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => argv[++i];
    if (a === 'token' && !sawToken) sawToken = true;
    else if (a === '-p' || a === '--profile') profile = value();
    else if (a.startsWith('--profile=')) profile = a.slice(10);
    else if (a === '--config-dir') configDir = value();
    else if (a.startsWith('--config-dir=')) configDir = a.slice(13);
    else if (a === '--identity-source') identitySource = value();
    else if (a.startsWith('--identity-source=')) identitySource = a.slice(18);
    else if (a === '--no-color' || a === '-q' || a === '--quiet') continue;
    else if (sawToken && (a === '--min-ttl' || a.startsWith('--min-ttl='))) {
      const v = a === '--min-ttl' ? value() : a.slice(10);
      if (v === undefined || !/^\d+$/.test(v) || Number(v) > 86_400) return undefined;
      minTtl = Number(v);
    } else if (sawToken && (a === '--format=raw' || (a === '--format' && argv[i + 1] === 'raw'))) {
      if (a === '--format') i++;
    } else return undefined;
  }
  if (!sawToken || [profile, configDir, identitySource].some((v) => v === '')) return undefined;
  if ((env['CLAUDE_WIF_LOG'] ?? '').toLowerCase() === 'debug') return undefined;
  try {
    const plan = resolvePlan({ env, profile, configDir, identitySource });
    // The OS keyring is opt-in and loads a native module: the full CLI handles it.
    if (plan.warnings.length || plan.cache.backend !== 'file') return undefined;
    return cachedToken(plan, { clock: systemClock }, minTtl)?.token;
  } catch {
    return undefined;
  }
}
