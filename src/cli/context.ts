import { resolvePlan, isShadowingWarning, type CacheBackend, type Plan, type ResolveInput } from '../core/resolve.js';
import type { CoreDeps } from '../core/credentials.js';
import { createLogger, type Logger } from '../util/log.js';
import { userAgent } from '../version.js';
import type { IO } from './io.js';

/** Options every command accepts (ARCHITECTURE.md §3), as parsed. */
export interface GlobalOptions {
  profile?: string;
  configDir?: string;
  identitySource?: string;
  /** Token cache backend (the parser checks the flag; CLAUDE_WIF_CACHE and the profile are checked by the resolver). */
  cache?: CacheBackend;
  debug?: boolean;
  quiet?: boolean;
  color?: boolean;
}

/** What a command gets besides its options: its operands, and everything after the first `--`. */
export interface Invocation {
  args: string[];
  /** The arguments after the first `--` of the command line, untouched; undefined without `--`. */
  passthrough: string[] | undefined;
  /** Options given on the command line (not defaults), by attribute name: `--isolate` implies a mode unless --mode is given. */
  given: ReadonlySet<string>;
}

/**
 * The one place global options become the resolver's inputs: every plan a command makes (the
 * selected profile's, or a named one's) honours --config-dir, --identity-source and --cache alike.
 */
export function resolveInputs(io: Pick<IO, 'env' | 'cwd'>, global: GlobalOptions, over: { profile?: string; audience?: string } = {}): ResolveInput {
  return {
    env: io.env,
    cwd: io.cwd,
    profile: over.profile ?? global.profile,
    configDir: global.configDir,
    identitySource: global.identitySource,
    cache: global.cache,
    ...(over.audience !== undefined ? { audience: over.audience } : {}),
  };
}

export interface CommandContext {
  io: IO;
  global: GlobalOptions;
  log: Logger;
  deps: CoreDeps;
  /** The plan of the selected profile (--profile, else the usual selection); resolved once. */
  plan(): Plan;
  /** The plan of a named profile, with every other global option. */
  planFor(profile: string): Plan;
}

export function makeContext(io: IO, global: GlobalOptions): CommandContext {
  const debug = global.debug || (io.env['CLAUDE_WIF_LOG'] ?? '').toLowerCase() === 'debug';
  const log = createLogger(io.stderr, debug ? 'debug' : global.quiet ? 'quiet' : 'info');
  const deps: CoreDeps = { env: io.env, clock: io.clock, log, userAgent: userAgent() };
  let cached: Plan | undefined;
  return {
    io,
    global,
    log,
    deps,
    plan() {
      cached ??= resolvePlan(resolveInputs(io, global));
      return cached;
    },
    planFor(profile) {
      return resolvePlan(resolveInputs(io, global, { profile }));
    },
  };
}

export { isShadowingWarning };

/**
 * Warnings that belong with any command that uses credentials: shadowing variables and config
 * disagreements. `handlesShadowing`: the command itself takes care of the shadowing variables (env's
 * output unsets them; the agent's consumers never see its environment), so the user has nothing to
 * do about them and hearing about them would only teach them to ignore claude-wif's warnings.
 */
export function emitPlanWarnings(ctx: CommandContext, plan: Plan, opts: { handlesShadowing?: boolean } = {}): void {
  for (const w of plan.warnings) if (!(opts.handlesShadowing && isShadowingWarning(w))) ctx.log.warn(w);
}
