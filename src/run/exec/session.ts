import { homedir } from 'node:os';
import { basename } from 'node:path';
import { readEnv, type Env } from '../../config/paths.js';
import type { CoreDeps } from '../../core/credentials.js';
import { isShadowingWarning, type Plan } from '../../core/resolve.js';
import type { Target } from '../../output/credential-env.js';
import { WifError } from '../../util/errors.js';
import type { Writable } from '../../util/log.js';
import { decideScrub, noScrubNotice, type ScrubChoice } from '../scrub.js';
import { buildChildEnv, childEnvPlan, EXEC_MARKER_VAR, forwardSignals, spawnChild, SUBPROCESS_SCRUB_VAR, type ChildResult, type SignalSource } from './child.js';
import type { ExecMode, ExecModeStrategy, RunningMode, TokenSource } from './modes.js';

/**
 * One `claude-wif exec` run, the library side of the command (as agent.ts is for `agent`):
 * the mode's strategy prepares the child's environment from a token source and starts what the
 * child needs; the child runs with signals forwarded; the strategy closes; the child's result
 * comes back. Kept free of commander, chalk and the CLI so a small entry can run it: the caller
 * passes the mode's strategy (the command loads it with loadMode, so each mode's code is imported
 * only when that mode runs; the hot exec entry, src/cli/hot-exec.ts, bundles only token and sidecar).
 */

export interface ChildCommand {
  file: string;
  args: string[];
  /** Set when no command was given and the user's shell is started instead. */
  shell: string | undefined;
}

/** The child's argv (everything after `--`); none means the user's $SHELL. */
export function childCommand(argv: readonly string[], env: Env): ChildCommand {
  if (argv.length === 0) {
    const shell = readEnv(env, 'SHELL') ?? '/bin/sh';
    return { file: shell, args: [], shell };
  }
  return { file: argv[0]!, args: argv.slice(1), shell: undefined };
}

/** Refuses to run inside another `claude-wif exec` unless asked to (before any configuration is read). */
export function assertNotNested(env: Env, allowNested: boolean): void {
  const outer = readEnv(env, EXEC_MARKER_VAR);
  if (outer !== undefined && !allowNested) {
    throw new WifError('exec_nested', `already running inside \`claude-wif exec\` (profile "${outer}", ${EXEC_MARKER_VAR} is set)`, {
      hint: 'the outer claude-wif already provides credentials; run the command directly, or pass --allow-nested if a second layer is really intended',
    });
  }
}

/** `claude` (or claude.exe) as the command means Claude Code; explicit --target (already parsed) wins. */
export function chooseTarget(explicit: Target | undefined, file: string): Target {
  if (explicit !== undefined) return explicit;
  return /^claude(\.exe)?$/i.test(basename(file)) ? 'claude-code' : 'sdk';
}

/** The plan's warnings worth saying for exec: the shadowing variables are removed from the child, so warning about them would be noise. */
export function execWarnings(plan: Plan): string[] {
  return plan.warnings.filter((w) => !isShadowingWarning(w));
}

export interface ExecRequest {
  mode: ExecMode;
  /** That mode's strategy (modes.ts loadMode). */
  strategy: ExecModeStrategy;
  plan: Plan;
  /** env (the parent's environment), clock and log. */
  deps: CoreDeps;
  /** Tokens for the plan: the core's getAccessToken. */
  tokens: TokenSource;
  command: ChildCommand;
  target: Target;
  /** --min-ttl (seconds). */
  minTtl: number;
  /** CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 for the child: always, never, or where bubblewrap is found (scrub.ts). */
  scrub: ScrubChoice;
  proxySocket?: string | undefined;
  /** --pass-env: identity material the child keeps. */
  passEnv: readonly string[];
  /** --isolate (proxy mode): bubblewrap around the child (run/isolation.ts); network 'none' unless --isolate-share-net. */
  isolate?: { network: 'none' | 'host' } | undefined;
  /** --otel-identity: add the federated identity to the child's OTEL_RESOURCE_ATTRIBUTES. */
  otelIdentity?: boolean | undefined;
  cwd: string;
  /** Where the note about starting a shell goes. */
  stderr: Writable;
  /** Where forwarded signals come from (default: this process). */
  signals?: SignalSource | undefined;
}

/**
 * Credentials first (a failure rejects with the core's error and the child never runs), then
 * the mode, then the child; resolves with how the child ended. Everything the mode started is
 * closed before this settles, whatever happened.
 */
export async function runExecSession(r: ExecRequest): Promise<ChildResult> {
  const { plan, deps } = r;
  const env = deps.env;
  // Isolation asked for and unavailable: refuse before anything is obtained or started.
  const iso = r.isolate ? await import('../isolation.js') : undefined;
  const sandbox = iso ? iso.requireIsolation(iso.probeIsolation(env)) : undefined;
  const strategy = r.strategy;
  // The subject for OTEL_RESOURCE_ATTRIBUTES: from this process's exchange, else the cache's note.
  let subject: string | undefined;
  const stopWatching = r.otelIdentity ? (await import('../../audit/trail.js')).onExchange((e) => (subject = e.sub ?? subject)) : undefined;
  const firstTtl = strategy.firstTokenTtl(r.minTtl);
  const token = firstTtl === undefined ? undefined : await r.tokens({ minTtl: firstTtl });
  const profileName = plan.profile?.name ?? 'env';
  let scrub = decideScrub(r.scrub, env);
  if (scrub.disable) {
    // Said where Claude Code is (or may be, from a shell) the child; any other child is told nothing.
    if (r.target === 'claude-code' || r.command.shell) deps.log.warn(noScrubNotice(r.mode, scrub.bwrap));
    else deps.log.debug(`bubblewrap not found (${scrub.bwrap.how}): CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=0 for the child`);
  } else if (sandbox && !sandbox.nested && scrub.scrub) {
    // Claude Code runs its tools under its own bubblewrap, which cannot start inside this sandbox
    // here (as root, bubblewrap's /proc protections stop a nested /proc), and would refuse to start.
    const say = r.target === 'claude-code' || r.command.shell ? deps.log.warn.bind(deps.log) : deps.log.debug.bind(deps.log);
    say(
      `bubblewrap cannot run inside the isolation sandbox on this machine (${sandbox.nestedReason ?? 'nested sandbox refused'}), so Claude Code cannot sandbox its tools: CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=0 for the child. Its tools can use the session's proxy secret; they find no token and no identity material either way`,
    );
    scrub = { ...scrub, scrub: false, disable: true };
  }

  // Handlers first: from here on a signal can no longer kill the parent before it cleans up.
  const forwarder = forwardSignals({
    source: r.signals,
    onSignal: (s, fwd) => deps.log.debug(`received ${s}; ${fwd ? 'forwarded to the child' : 'not forwarded (the terminal already delivered it to the child, or no child yet)'}`),
  });
  let mode: RunningMode | undefined;
  let privateDir: { dir: string; remove(): void } | undefined;
  try {
    let proxySocket = r.proxySocket;
    if (sandbox && r.isolate?.network === 'none' && !proxySocket) {
      // The sandbox has no network but loopback: its forwarder reaches the proxy on a unix socket.
      privateDir = (await import('../sidecar.js')).createPrivateDir(env);
      proxySocket = `${privateDir.dir}/proxy.sock`;
    }
    mode = await strategy.start({ plan, deps, tokens: r.tokens, token, target: r.target, minTtl: r.minTtl, cwd: r.cwd, proxySocket });
    const { identityMaterial } = await import('../identity-material.js');
    const material = identityMaterial({ env, identity: plan.identity ? { source: plan.identity.source.value, options: plan.identity.options } : undefined, pass: r.passEnv });
    if (material.passed.length) deps.log.debug(`--pass-env: the child keeps identity material ${material.passed.join(', ')}`);
    // Without bubblewrap Claude Code refuses to start with scrubbing on: an inherited 1 is turned off too.
    let modeVars = scrub.disable ? [...mode.env, { name: SUBPROCESS_SCRUB_VAR, value: '0' }] : mode.env;
    if (r.otelIdentity) {
      const otel = await import('../../audit/otel.js');
      stopWatching?.();
      modeVars = [...modeVars, { name: 'OTEL_RESOURCE_ATTRIBUTES', value: otel.otelResourceAttributes(env['OTEL_RESOURCE_ATTRIBUTES'], plan, subject ?? otel.cachedSubject(plan)) }];
    }
    const envPlan = childEnvPlan(env, { mode: modeVars, baseUrl: mode.baseUrl, marker: profileName, scrub: scrub.scrub, identity: material.vars });
    const childEnv = buildChildEnv(env, envPlan);
    if (sandbox) {
      // Inside, the proxy socket sits in the sandbox's private /tmp, and TMPDIR is that /tmp.
      if (childEnv['CLAUDE_WIF_PROXY_SOCKET'] !== undefined) childEnv['CLAUDE_WIF_PROXY_SOCKET'] = iso!.INSIDE_PROXY_SOCKET;
      childEnv['TMPDIR'] = '/tmp';
    }
    // Names only, never values.
    deps.log.debug(
      `child environment: set ${envPlan.set.map((v) => v.name).join(', ')}; removed ${envPlan.unset.filter((n) => env[n] !== undefined).join(', ') || 'nothing (none was set)'}`,
    );

    if (forwarder.pending) {
      deps.log.debug(`${forwarder.pending} arrived before the child started; not starting it`);
      return { code: null, signal: forwarder.pending };
    }
    const { file, args, shell } = r.command;
    if (shell) {
      r.stderr.write(`claude-wif: no command given; starting ${shell} with ${r.mode} credentials for profile "${profileName}" (exit the shell to end the session)\n`);
    }
    let running;
    if (sandbox && iso) {
      if (r.target === 'claude-code') iso.ensureClaudeDir(readEnv(env, 'HOME') ?? homedir());
      const layout = iso.isolationLayout({ env, cwd: r.cwd, materialFiles: material.files, configDir: plan.configDir.value, network: r.isolate!.network, proxySocket, command: file, alsoHide: privateDir ? [privateDir.dir] : [] });
      deps.log.debug(`isolation: ${sandbox.bwrap}; hidden ${[...layout.hideDirs, ...layout.hideFiles].join(', ') || 'nothing'}; writable ${layout.writable.join(', ')}; network ${layout.network}`);
      const port = Number(new URL(mode.baseUrl).port) || undefined;
      running = await iso.spawnIsolated({ bwrap: sandbox.bwrap, layout, file, args, env: childEnv, proxyPort: port, forwarder });
    } else {
      running = await spawnChild({ file, args, env: childEnv, cwd: r.cwd, forwarder });
    }
    mode.childStarted?.();
    const result = await running.exited;
    mode.childExited?.(result);
    return result;
  } finally {
    stopWatching?.();
    await mode?.close();
    privateDir?.remove();
    forwarder.dispose();
  }
}
