import { basename } from 'node:path';
import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { readEnv } from '../../config/paths.js';
import { getAccessToken, type AccessToken } from '../../core/credentials.js';
import { SHADOWING_VARS } from '../../core/resolve.js';
import { credentialEnv, TARGETS, type EnvAssignment, type Target } from '../../output/credential-env.js';
import {
  buildChildEnv,
  childEnvPlan,
  EXEC_MARKER_VAR,
  exitStatus,
  forwardSignals,
  RERAISABLE_SIGNALS,
  spawnChild,
  SUBPROCESS_SCRUB_VAR,
  type ChildResult,
} from '../../run/exec.js';
import { PICKUP_WINDOW_SECONDS } from '../../run/rotator.js';
import { decideScrub, noScrubNotice, type ScrubDecision } from '../../run/scrub.js';
import { describeTime, nowSeconds } from '../../util/clock.js';
import { WifError } from '../../util/errors.js';
import { describeAge } from '../../util/jwt.js';
import { parseMinTtl } from './token.js';

export interface ExecOptions {
  mode?: string;
  target?: string;
  /** `--scrub` true, `--no-scrub` false, neither: undefined (scrub when the host can). */
  scrub?: boolean;
  allowNested?: boolean;
  minTtl?: string;
  /** --mode proxy: also listen on this unix socket (exported as CLAUDE_WIF_PROXY_SOCKET). */
  proxySocket?: string;
  /** --pass-env NAME (repeatable): identity material the child gets anyway. */
  passEnv?: string[];
}

export type ExecMode = 'sidecar' | 'token' | 'proxy' | 'federation';
export const EXEC_MODES: readonly ExecMode[] = ['sidecar', 'token', 'proxy', 'federation'];

/**
 * The first token handed to a sidecar child must outlast the SDKs' 30 s mandatory window with room
 * to spare (a file token with ≤ 30 s left is refused by the SDK's user_oauth reader); anything
 * shorter is exchanged again before the child starts.
 */
export const SIDECAR_MIN_INITIAL_TTL = PICKUP_WINDOW_SECONDS + 10;

export function parseMode(value: string | undefined): ExecMode {
  const mode = value ?? 'sidecar';
  if ((EXEC_MODES as readonly string[]).includes(mode)) return mode as ExecMode;
  throw new WifError('usage_error', `--mode ${JSON.stringify(mode)} is not one of ${EXEC_MODES.join(', ')}`, {
    hint: 'sidecar (default) keeps a long-running child authenticated through a private profile; token exports a static token; proxy gives the child only a loopback URL and a session secret; federation lets the child exchange for itself',
  });
}

/** `claude` (or claude.exe) as the command means Claude Code; explicit --target wins. */
export function chooseTarget(explicit: string | undefined, file: string): Target {
  if (explicit !== undefined) {
    if (!(TARGETS as readonly string[]).includes(explicit)) {
      throw new WifError('usage_error', `--target ${JSON.stringify(explicit)} is not one of ${TARGETS.join(', ')}`);
    }
    return explicit as Target;
  }
  return /^claude(\.exe)?$/i.test(basename(file)) ? 'claude-code' : 'sdk';
}

/**
 * The child's argv: everything after the first `--`, untouched. Without `--`, options meant for
 * the command would be parsed as claude-wif's own (`claude -p "…"` would set --profile), so a
 * command given without it is refused rather than guessed at.
 */
export function commandArgv(cmd: { args: readonly string[]; parent?: unknown }): string[] {
  const operands = cmd.args;
  // commander keeps the program's raw arguments (not in its typings); `--` is only visible there.
  const raw = (cmd.parent as { rawArgs?: string[] } | null | undefined)?.rawArgs ?? [];
  const at = raw.indexOf('--');
  const after = at >= 0 ? raw.slice(at + 1) : [];
  if (operands.length === 0) return after;
  if (at < 0 || after.length !== operands.length || after.some((a, i) => a !== operands[i])) {
    throw new WifError('usage_error', 'put `--` between claude-wif\'s options and the command: claude-wif exec [options] -- <command> [args…]', {
      hint: `everything after \`--\` is passed to the command unchanged, e.g. claude-wif exec -- ${operands[0] ?? 'claude'} …`,
    });
  }
  return after;
}

const isShadowingWarning = (w: string): boolean => SHADOWING_VARS.some((v) => w.startsWith(`${v} is set`));

/** A CLI run in a real process (not captured in-process by tests) may exit or die by signal itself. */
const isRealProcess = (ctx: CommandContext): boolean => ctx.io.stdout === process.stdout && ctx.io.stderr === process.stderr;

/**
 * `claude-wif exec [--mode sidecar|token|proxy|federation] -- <command> [args…]`: credentials first (a failure
 * exits with the core's code and the child never runs), then the child with an environment built
 * from explicit lists, signals forwarded, and the child's own exit status.
 */
export async function runExec(ctx: CommandContext, opts: ExecOptions, cmd: Command): Promise<number> {
  const mode = parseMode(opts.mode);
  const minTtl = parseMinTtl(opts.minTtl);
  const argv = commandArgv(cmd);
  const env = ctx.io.env;

  const outer = readEnv(env, EXEC_MARKER_VAR);
  if (outer !== undefined && !opts.allowNested) {
    throw new WifError('exec_nested', `already running inside \`claude-wif exec\` (profile "${outer}", ${EXEC_MARKER_VAR} is set)`, {
      hint: 'the outer claude-wif already provides credentials; run the command directly, or pass --allow-nested if a second layer is really intended',
    });
  }

  const shell = argv.length === 0 ? (readEnv(env, 'SHELL') ?? '/bin/sh') : undefined;
  const file = shell ?? argv[0]!;
  const args = shell ? [] : argv.slice(1);
  const target = chooseTarget(opts.target, file);

  const plan = ctx.plan();
  // The shadowing variables are removed from the child below: warning about them would be noise.
  for (const w of plan.warnings) if (!isShadowingWarning(w)) ctx.log.warn(w);
  const profileName = plan.profile?.name ?? 'env';

  // Credentials first: a failure exits with the core's code and the child never runs. In federation
  // mode the child exchanges for itself; the parent's own check happens inside (only for sources
  // that mint on demand: a platform file's JWT must be left for the child).
  const token = mode === 'federation' ? undefined : await getAccessToken(plan, { minTtl: mode === 'sidecar' ? Math.max(minTtl, SIDECAR_MIN_INITIAL_TTL) : minTtl }, ctx.deps);

  const scrub = decideScrub(opts.scrub === undefined ? 'auto' : opts.scrub ? 'on' : 'off', env);
  if (scrub.disable) {
    // Said where Claude Code is (or may be, from a shell) the child; any other child is told nothing.
    if (target === 'claude-code' || shell) ctx.log.warn(noScrubNotice(mode, scrub.bwrap));
    else ctx.log.debug(`bubblewrap not found (${scrub.bwrap.how}): CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=0 for the child`);
  }
  const result = await runChild(ctx, { mode, target, file, args, shell, token, minTtl, profileName, scrub, plan, proxySocket: opts.proxySocket, passEnv: opts.passEnv ?? [] });
  const code = exitStatus(result);
  if (isRealProcess(ctx)) finishProcess(result, code);
  return code;
}

interface ChildRun {
  mode: ExecMode;
  target: Target;
  file: string;
  args: string[];
  shell: string | undefined;
  token: AccessToken | undefined;
  minTtl: number;
  profileName: string;
  scrub: ScrubDecision;
  plan: ReturnType<CommandContext['plan']>;
  proxySocket: string | undefined;
  passEnv: string[];
}

async function runChild(ctx: CommandContext, r: ChildRun): Promise<ChildResult> {
  const env = ctx.io.env;
  // Handlers first: from here on a signal can no longer kill the parent before it cleans up.
  const forwarder = forwardSignals({ onSignal: (s, fwd) => ctx.log.debug(`received ${s}; ${fwd ? 'forwarded to the child' : 'not forwarded (the terminal already delivered it to the child, or no child yet)'}`) });
  let sidecar: import('../../run/sidecar.js').Sidecar | undefined;
  let rotator: import('../../run/rotator.js').Rotator | undefined;
  let keeper: import('../../run/keeper.js').TokenKeeper | undefined;
  let proxy: import('../../run/proxy.js').RunningProxy | undefined;
  let federation: import('../../run/federation.js').FederationChild | undefined;
  let expiryTimer: NodeJS.Timeout | undefined;
  try {
    let modeVars: EnvAssignment[];
    let childBaseUrl = r.plan.baseUrl.value;
    if (r.mode === 'sidecar') {
      const { createSidecar } = await import('../../run/sidecar.js');
      sidecar = createSidecar({ profile: r.plan.profile?.name ?? 'claude-wif', env });
      sidecar.write(r.token!);
      modeVars = sidecar.env;
      ctx.log.debug(`sidecar profile "${sidecar.profile}" in ${sidecar.dir}`);
    } else if (r.mode === 'proxy') {
      const [{ startKeeper }, { startProxy, newProxySecret, proxyClientEnv }, { parseListen }] = await Promise.all([
        import('../../run/keeper.js'),
        import('../../run/proxy.js'),
        import('../../run/listen.js'),
      ]);
      const k = startKeeper({ initial: r.token!, fetch: (o) => getAccessToken(r.plan, o, ctx.deps), clock: ctx.io.clock, log: ctx.log });
      keeper = k;
      const secret = newProxySecret();
      const socket = r.proxySocket ? parseListen(`unix:${r.proxySocket}`, { flag: '--proxy-socket', defaultHost: '127.0.0.1', loopbackOnly: true, cwd: ctx.io.cwd }) : undefined;
      proxy = await startProxy({
        upstream: r.plan.baseUrl.value,
        secret,
        tokens: () => k,
        listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }, ...(socket ? [socket] : [])],
        clock: ctx.io.clock,
        log: ctx.log,
        env,
      });
      childBaseUrl = proxy.url!;
      modeVars = proxyClientEnv(secret, r.target, socket?.kind === 'unix' ? socket.path : undefined);
      ctx.log.debug(`proxy mode: the child talks to ${proxy.url}; requests are forwarded to ${r.plan.baseUrl.value}`);
    } else if (r.mode === 'federation') {
      const { startFederationChild } = await import('../../run/federation.js');
      federation = await startFederationChild({
        plan: r.plan,
        deps: ctx.deps,
        env,
        parentToken: () => getAccessToken(r.plan, { minTtl: r.minTtl }, ctx.deps),
      });
      modeVars = federation.env;
    } else {
      modeVars = credentialEnv(r.token!, r.plan.baseUrl.value, r.target, env);
    }
    const { identityMaterial } = await import('../../run/identity-material.js');
    const material = identityMaterial({ env, identity: r.plan.identity ? { source: r.plan.identity.source.value, options: r.plan.identity.options } : undefined, pass: r.passEnv });
    if (material.passed.length) ctx.log.debug(`--pass-env: the child keeps identity material ${material.passed.join(', ')}`);
    // Without bubblewrap Claude Code refuses to start with scrubbing on: an inherited 1 is turned off too.
    if (r.scrub.disable) modeVars = [...modeVars, { name: SUBPROCESS_SCRUB_VAR, value: '0' }];
    const envPlan = childEnvPlan(env, { mode: modeVars, baseUrl: childBaseUrl, marker: r.profileName, scrub: r.scrub.scrub, identity: material.vars });
    const childEnv = buildChildEnv(env, envPlan);
    // Names only, never values.
    ctx.log.debug(
      `child environment: set ${envPlan.set.map((v) => v.name).join(', ')}; removed ${envPlan.unset.filter((n) => env[n] !== undefined).join(', ') || 'nothing (none was set)'}`,
    );

    if (forwarder.pending) {
      ctx.log.debug(`${forwarder.pending} arrived before the child started; not starting it`);
      return { code: null, signal: forwarder.pending };
    }
    if (r.shell) {
      ctx.io.stderr.write(`claude-wif: no command given; starting ${r.shell} with ${r.mode} credentials for profile "${r.profileName}" (exit the shell to end the session)\n`);
    }
    const running = await spawnChild({ file: r.file, args: r.args, env: childEnv, cwd: ctx.io.cwd, forwarder });

    if (sidecar) {
      const { startRotator } = await import('../../run/rotator.js');
      const sc = sidecar;
      rotator = startRotator({
        initial: r.token!,
        fetch: (minTtl) => getAccessToken(r.plan, { minTtl }, ctx.deps),
        write: (t) => sc.write(t),
        clock: ctx.io.clock,
        log: ctx.log,
      });
    } else if (r.mode === 'token' && r.token!.expiresAt !== null) {
      const expiresAt = r.token!.expiresAt;
      const warnExpired = () =>
        ctx.log.warn(
          `the token given to the child expired at ${describeTime(expiresAt)} and --mode token does not renew it; use the default --mode sidecar for long-running commands`,
        );
      expiryTimer = setTimeout(warnExpired, Math.min(2 ** 31 - 1, Math.max(0, (expiresAt - nowSeconds(ctx.io.clock)) * 1000 + 500)));
      expiryTimer.unref();
      const result = await running.exited;
      if (nowSeconds(ctx.io.clock) >= expiresAt) warnExpired(); // said once (the logger dedupes)
      return result;
    }
    const result = await running.exited;
    if (rotator && rotator.failures > 0) {
      const left = (rotator.current().expiresAt ?? Infinity) - nowSeconds(ctx.io.clock);
      ctx.log.debug(`the child exited while refreshing kept failing (${rotator.failures} attempts; its token ${left > 0 ? `had ${describeAge(left)} left` : 'had expired'})`);
    }
    return result;
  } finally {
    rotator?.stop();
    keeper?.stop();
    if (expiryTimer) clearTimeout(expiryTimer);
    sidecar?.remove();
    federation?.remove();
    // The child is gone: whatever it left running gets no more than a moment.
    await proxy?.close(200);
    forwarder.dispose();
  }
}

/**
 * Ends a real process the way the child ended. A child that died of SIGINT/SIGTERM/SIGHUP…: the
 * parent dies of the same signal (after cleaning up), so a calling shell sees "killed by signal"
 * and, for ^C, stops a script loop as it would for the bare command. Signals that would dump core
 * are reported as 128+N instead (no core file of the wrapper). Exiting explicitly also means an
 * abandoned refresh (a slow token endpoint) never keeps the parent alive after the child is gone.
 */
function finishProcess(result: ChildResult, code: number): never {
  const sig = result.signal;
  if (result.code === null && sig && RERAISABLE_SIGNALS.includes(sig)) {
    process.removeAllListeners(sig);
    try {
      process.kill(process.pid, sig);
      // The default action applies to the whole process whichever thread takes the signal; give it a moment.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    } catch {
      /* fall through to the numeric status */
    }
  }
  process.exit(code);
}
