import { resolvePlan, type Plan } from '../core/resolve.js';
import { cachedToken, type AccessToken } from '../core/cache-hit.js';
import { systemClock } from '../util/clock.js';
import { detectEnvFormat } from '../output/shell-detect.js';

/**
 * The hot path's argument parser and cache check. Hooks and shells run `token`, `env` and `exec`
 * constantly, so with a fresh cached token these avoid commander and the full CLI. The fast path
 * only ever answers a plain cache hit with nothing to warn about; anything else (a miss, a
 * warning, an error, an option or form it does not know) is handed to the full CLI, which then
 * handles the invocation from the start, so the observable behaviour is the same either way.
 */

export type HotCommand = 'token' | 'env' | 'exec';

export interface HotArgs {
  command: HotCommand;
  profile?: string | undefined;
  configDir?: string | undefined;
  identitySource?: string | undefined;
  /** --min-ttl (token, env, exec). */
  minTtl: number;
  /** env --format; token's only hot format is raw. */
  format: string;
  /** env/exec --target; undefined = the command's default. */
  target?: string | undefined;
  /** exec --mode (undefined = the default). */
  mode?: string | undefined;
  /** exec: true with --scrub, false with --no-scrub, undefined with neither. */
  scrub: boolean | undefined;
  /** exec --pass-env NAME (repeatable). */
  passEnv: string[];
  /** exec --allow-nested. */
  allowNested: boolean;
  /** exec: everything after `--` (the child's argv; empty = $SHELL). */
  child: string[];
  /** -q/--quiet: only errors on stderr. */
  quiet: boolean;
}

/** Each command's options the fast path understands, with whether they take a value. */
const COMMAND_OPTIONS: Record<HotCommand, Record<string, boolean>> = {
  token: { '--min-ttl': true, '--format': true },
  env: { '--min-ttl': true, '--format': true, '--target': true },
  exec: { '--min-ttl': true, '--target': true, '--mode': true, '--pass-env': true, '--scrub': false, '--no-scrub': false, '--allow-nested': false },
};
/** Global options that take a value, and the flags the hot path can ignore. */
const GLOBAL_VALUES: Record<string, 'profile' | 'configDir' | 'identitySource'> = {
  '-p': 'profile',
  '--profile': 'profile',
  '--config-dir': 'configDir',
  '--identity-source': 'identitySource',
};
const GLOBAL_FLAGS = new Set(['--no-color', '-q', '--quiet']);
const HOT_FORMATS: Record<HotCommand, readonly string[]> = {
  token: ['raw'],
  // `github` appends to a file and logs what it did: the full CLI's job.
  env: ['sh', 'fish', 'powershell', 'cmd', 'dotenv', 'json'],
  exec: [],
};

/** Parses `[global options] token|env|exec [options] [-- command…]`; undefined when anything else. */
export function parseHotArgs(argv: readonly string[]): HotArgs | undefined {
  let command: HotCommand | undefined;
  const out: Omit<HotArgs, 'command'> = { minTtl: 0, format: '', scrub: undefined, passEnv: [], allowNested: false, child: [], quiet: false };
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      if (command !== 'exec') return undefined;
      out.child = argv.slice(i + 1);
      break;
    }
    if (command === undefined && (a === 'token' || a === 'env' || a === 'exec')) {
      command = a;
      continue;
    }
    if (GLOBAL_FLAGS.has(a)) {
      if (a !== '--no-color') out.quiet = true;
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const inline = name === a ? undefined : a.slice(eq + 1);
    const globalKey = GLOBAL_VALUES[name];
    const takesValue = globalKey !== undefined ? true : command !== undefined ? COMMAND_OPTIONS[command][name] : undefined;
    if (takesValue === undefined) return undefined; // an operand, another command or an unknown option
    if (!takesValue) {
      if (inline !== undefined) return undefined;
      if (name === '--scrub' || name === '--no-scrub') {
        if (out.scrub !== undefined) return undefined; // both, or twice: commander's rules
        out.scrub = name === '--scrub';
      } else if (name === '--allow-nested') out.allowNested = true;
      continue;
    }
    // A value: inline (`--x=v`, never for the short -p) or the next argument (commander takes it
    // whatever it looks like). Repeating an option is left to commander's rules.
    if (inline !== undefined && name === '-p') return undefined;
    const value = inline ?? (i + 1 < argv.length ? argv[++i] : undefined);
    if (value === undefined) return undefined;
    if (name === '--pass-env') {
      out.passEnv.push(value);
      continue;
    }
    if (seen.has(name)) return undefined;
    seen.add(name);
    if (globalKey !== undefined) {
      if (value === '') return undefined;
      out[globalKey] = value;
    } else if (name === '--min-ttl') {
      if (!/^\d+$/.test(value) || Number(value) > 86_400) return undefined;
      out.minTtl = Number(value);
    } else if (name === '--format') out.format = value;
    else if (name === '--target') out.target = value;
    else if (name === '--mode') out.mode = value;
  }
  if (command === undefined) return undefined;
  if (seen.has('--profile') && seen.has('-p')) return undefined;
  const format = out.format || (command === 'token' ? 'raw' : command === 'env' ? detectEnvFormat(process.env) : '');
  if (!HOT_FORMATS[command].includes(format) && command !== 'exec') return undefined;
  if (out.target !== undefined && out.target !== 'sdk' && out.target !== 'claude-code') return undefined;
  return { command, ...out, format };
}

/**
 * The plan and a fresh cached token for it, when the hot path can answer; otherwise undefined.
 * `warnings` picks the plan's warnings the command would print (default: all of them): with any,
 * the full CLI answers.
 */
export function hotCacheHit(args: HotArgs, env: NodeJS.ProcessEnv, minTtl = args.minTtl, warnings: (plan: Plan) => readonly string[] = (p) => p.warnings): { plan: Plan; token: AccessToken } | undefined {
  if ((env['CLAUDE_WIF_LOG'] ?? '').toLowerCase() === 'debug') return undefined;
  try {
    const plan = resolvePlan({ env, profile: args.profile, configDir: args.configDir, identitySource: args.identitySource });
    // The OS keyring is opt-in and loads a native module: the full CLI handles it.
    if (warnings(plan).length || plan.cache.backend !== 'file') return undefined;
    const token = cachedToken(plan, { clock: systemClock }, minTtl);
    return token ? { plan, token } : undefined;
  } catch {
    return undefined;
  }
}

/** `claude-wif [global options] token [--min-ttl N] [--format raw]` with a fresh cached token. */
export function tryFastToken(argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const args = parseHotArgs(argv);
  if (args?.command !== 'token') return undefined;
  return hotCacheHit(args, env)?.token.token;
}
