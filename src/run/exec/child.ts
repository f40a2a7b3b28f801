import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { isatty } from 'node:tty';
import type { Env } from '../../config/paths.js';
import { DEFAULT_BASE_URL } from '../../protocol.js';
import { EXPIRES_AT_VAR, type EnvAssignment } from '../../output/credential-env.js';
import { WifError } from '../../util/errors.js';

/**
 * The child process of `claude-wif exec`, whatever the mode: its environment (built from explicit
 * unset/set lists, as aws-vault does), spawning, signal forwarding and the exit status. Modes
 * (mode-*.ts) only contribute assignments; session.ts puts the pieces together.
 */

/** Names the profile a child was started for; its presence means "already inside claude-wif exec". */
export const EXEC_MARKER_VAR = 'CLAUDE_WIF_EXEC_PROFILE';
/** Makes Claude Code strip Anthropic/cloud credentials from its Bash tool, hooks and MCP servers (spec §5). */
export const SUBPROCESS_SCRUB_VAR = 'CLAUDE_CODE_SUBPROCESS_ENV_SCRUB';

/** Credentials that outrank federation in every SDK and in Claude Code (spec §4–§5). */
export const CREDENTIAL_VARS = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'] as const;
/** Inputs of the SDKs' own federation: a child must not exchange (single-use jti belongs to the parent). */
export const FEDERATION_VARS = [
  'ANTHROPIC_FEDERATION_RULE_ID',
  'ANTHROPIC_ORGANIZATION_ID',
  'ANTHROPIC_SERVICE_ACCOUNT_ID',
  'ANTHROPIC_WORKSPACE_ID',
  'ANTHROPIC_IDENTITY_TOKEN_FILE',
  'ANTHROPIC_IDENTITY_TOKEN',
  'ANTHROPIC_SCOPE',
] as const;
/** Profile selection: only the sidecar mode sets these, to its own private profile. */
export const PROFILE_VARS = ['ANTHROPIC_PROFILE', 'ANTHROPIC_CONFIG_DIR'] as const;
/**
 * Removed unless set here: a base URL other than the one the token was minted at would send the
 * token elsewhere (spec §2: same base_url for exchange and API calls); an expiry left over from an
 * outer `eval "$(claude-wif env)"` would describe some other token.
 */
export const ROUTING_VARS = ['ANTHROPIC_BASE_URL', EXPIRES_AT_VAR] as const;

/** `CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR`, `CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR` and any future sibling. */
const FILE_DESCRIPTOR_VAR = /^(ANTHROPIC|CLAUDE_CODE)_[A-Z0-9_]*FILE_DESCRIPTOR$/;

export interface ChildEnvSpec {
  /** What the mode sets; a null value removes the variable. */
  mode: EnvAssignment[];
  /** The base URL the token was minted at. */
  baseUrl: string;
  /** Value of the marker variable (the profile name). */
  marker: string;
  /** Set CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 (default; `--no-scrub` leaves the user's value alone). */
  scrub: boolean;
  /** Identity material to remove (run/identity-material.ts); the mode's own assignments still win. */
  identity?: readonly string[];
}

export interface ChildEnvPlan {
  unset: string[];
  set: Array<{ name: string; value: string }>;
}

/**
 * The explicit lists: everything credential-, federation- or profile-related is removed unless
 * the mode sets it. Removal is deletion, never an empty value: an empty variable still takes its
 * precedence slot in some clients.
 */
export function childEnvPlan(parent: Env, spec: ChildEnvSpec): ChildEnvPlan {
  const set = new Map<string, string>();
  const unset = new Set<string>([...CREDENTIAL_VARS, ...FEDERATION_VARS, ...PROFILE_VARS, ...ROUTING_VARS]);
  for (const name of Object.keys(parent)) if (FILE_DESCRIPTOR_VAR.test(name)) unset.add(name);
  for (const name of spec.identity ?? []) unset.add(name);
  for (const a of spec.mode) {
    if (a.value === null) {
      unset.add(a.name);
      set.delete(a.name);
    } else set.set(a.name, a.value);
  }
  if (spec.baseUrl !== DEFAULT_BASE_URL) set.set('ANTHROPIC_BASE_URL', spec.baseUrl);
  set.set(EXEC_MARKER_VAR, spec.marker);
  if (spec.scrub) set.set(SUBPROCESS_SCRUB_VAR, '1');
  for (const name of set.keys()) unset.delete(name);
  return { unset: [...unset].sort(), set: [...set].map(([name, value]) => ({ name, value })) };
}

/** Applies a plan to a copy of the parent environment. */
export function buildChildEnv(parent: Env, plan: ChildEnvPlan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parent)) if (v !== undefined) out[k] = v;
  for (const name of plan.unset) delete out[name];
  for (const { name, value } of plan.set) out[name] = value;
  return out;
}

/** Signals forwarded to the child. */
export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];
/** Signals a terminal sends to its whole foreground process group (keys ^C, ^\ and window resizes). */
export const TERMINAL_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGWINCH'];

/** pgrp and tpgid from the text of /proc/<pid>/stat (the command name may contain spaces and parentheses). */
export function parseProcStat(text: string): { pgrp: number; tpgid: number } | undefined {
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  // After "pid (comm)": state ppid pgrp session tty_nr tpgid …
  const f = text.slice(close + 2).split(' ');
  const pgrp = Number(f[2]);
  const tpgid = Number(f[5]);
  return Number.isInteger(pgrp) && Number.isInteger(tpgid) ? { pgrp, tpgid } : undefined;
}

export interface DeliveryProbe {
  platform: NodeJS.Platform;
  /** Reads /proc/<pid>/stat; undefined when unavailable. */
  readStat(pid: number | 'self'): string | undefined;
  /** Whether stdin is a terminal (the fallback where /proc does not exist). */
  stdinIsTTY: boolean;
}

const readProcStat = (pid: number | 'self'): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
};

/**
 * This process's probe. stdinIsTTY asks the descriptor (isatty), and only when a signal needs it:
 * touching process.stdin would create the stdin stream, which loads a dozen modules and cost
 * every `exec` start-up a few milliseconds.
 */
export const processProbe = (): DeliveryProbe => ({
  platform: process.platform,
  readStat: readProcStat,
  get stdinIsTTY() {
    return isatty(0);
  },
});

/**
 * Did the terminal already deliver this signal to the child? Node gives a handler no siginfo, so
 * the sender cannot be asked directly. Instead: a terminal sends ^C/^\ (and SIGWINCH) to its whole
 * foreground process group. The child is spawned in our process group; when that group is the
 * terminal's foreground group (tpgid in /proc/self/stat equals our pgrp) and the child is still
 * in it, the child got the same signal from the kernel, and forwarding would deliver it twice
 * (Claude Code exits on a second ^C). In every other case — no controlling terminal (CI, pods,
 * setsid), a backgrounded job, a child that moved to its own group (an interactive shell doing
 * job control) — the signal came from `kill` or a supervisor and only reached us, so forward it.
 * Limitation: `kill -INT <parent pid>` sent while the parent runs in a terminal's foreground is
 * not forwarded; signal the child, or use SIGTERM, which is always forwarded. Without /proc
 * (macOS, BSD) the fallback is "stdin is a TTY ⇒ foreground".
 */
export function terminalAlreadyDelivered(signal: NodeJS.Signals, childPid: number | undefined, probe: DeliveryProbe): boolean {
  if (!TERMINAL_SIGNALS.includes(signal)) return false;
  const self = probe.platform === 'linux' ? probe.readStat('self') : undefined;
  const mine = self === undefined ? undefined : parseProcStat(self);
  if (!mine) return probe.stdinIsTTY;
  if (mine.tpgid <= 0 || mine.tpgid !== mine.pgrp) return false;
  if (childPid === undefined) return true;
  const childStat = probe.readStat(childPid);
  const child = childStat === undefined ? undefined : parseProcStat(childStat);
  // Unreadable: the child already exited, or is a zombie; assume it is still in our group.
  return child === undefined || child.pgrp === mine.pgrp;
}

export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

export interface SignalForwarder {
  /** From now on, signals go to this child. */
  attach(child: { pid?: number | undefined; kill(signal: NodeJS.Signals): boolean }): void;
  /**
   * The first terminating signal received while no child was attached: the caller does not start
   * the child at all, or (if it raced with the start) `attach` delivers it.
   */
  readonly pending: NodeJS.Signals | undefined;
  /** Every signal received, and whether it was forwarded (for diagnostics and tests). */
  readonly received: Array<{ signal: NodeJS.Signals; forwarded: boolean }>;
  dispose(): void;
}

/**
 * Installs handlers for the forwarded signals. Installed before anything exists that needs
 * cleaning up: with a handler in place the default action (termination) no longer applies, so
 * the private directory is always removed and the child's status always reported.
 */
export function forwardSignals(opts: {
  source?: SignalSource;
  signals?: readonly NodeJS.Signals[];
  probe?: DeliveryProbe;
  onSignal?: (signal: NodeJS.Signals, forwarded: boolean) => void;
} = {}): SignalForwarder {
  const source: SignalSource = opts.source ?? process;
  const signals = opts.signals ?? FORWARDED_SIGNALS;
  const probe = opts.probe ?? processProbe();
  let child: { pid?: number | undefined; kill(signal: NodeJS.Signals): boolean } | undefined;
  let pending: NodeJS.Signals | undefined;
  const received: Array<{ signal: NodeJS.Signals; forwarded: boolean }> = [];
  const handler = (signal: NodeJS.Signals): void => {
    let forwarded = false;
    if (!child) {
      if (signal !== 'SIGWINCH' && signal !== 'SIGUSR1' && signal !== 'SIGUSR2') pending ??= signal;
    } else if (!terminalAlreadyDelivered(signal, child.pid, probe)) {
      try {
        forwarded = child.kill(signal);
      } catch {
        forwarded = false; // the child is already gone; its exit is being reported
      }
    }
    received.push({ signal, forwarded });
    opts.onSignal?.(signal, forwarded);
  };
  for (const s of signals) source.on(s, handler);
  return {
    attach(c) {
      child = c;
      // A signal that arrived while the child was being started is delivered now rather than lost.
      if (pending !== undefined) {
        try {
          c.kill(pending);
        } catch {
          /* it already exited */
        }
      }
    },
    get pending() {
      return pending;
    },
    received,
    dispose() {
      for (const s of signals) source.off(s, handler);
    },
  };
}

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The child's code; 128+N when it died of signal N (what a shell reports). */
export function exitStatus(r: ChildResult): number {
  if (r.code !== null) return r.code;
  if (r.signal) return 128 + (constants.signals[r.signal] ?? 0);
  return 1;
}

/** Signals whose default action terminates without a core dump: the parent may die of the same one. */
export const RERAISABLE_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGPIPE', 'SIGALRM', 'SIGKILL'];

export interface SpawnRequest {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string | undefined;
  /** Default 'inherit': a TTY stays a TTY. */
  stdio?: SpawnOptions['stdio'];
  forwarder?: SignalForwarder;
}

export interface RunningChild {
  pid: number;
  child: ChildProcess;
  /** Resolves when the child has exited. */
  exited: Promise<ChildResult>;
}

function spawnError(file: string, err: NodeJS.ErrnoException): WifError {
  const code = err.code ?? '';
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new WifError('command_not_found', `command not found: ${file}`, {
      hint: file.includes('/') ? `check the path ${file}` : 'check the spelling, or that its directory is on PATH (the child gets the same PATH as claude-wif)',
      details: { errno: code },
    });
  }
  return new WifError('command_not_executable', `cannot execute ${file}: ${code || err.message}`, {
    hint: code === 'EACCES' ? `make it executable (chmod +x ${file}) or check that it is a program, not a directory` : 'check that it is a program this system can run',
    details: { errno: code },
  });
}

/**
 * Starts the child with argv exactly as given (no shell: nothing is re-split or re-joined) and
 * resolves once it is running. `node:child_process` is imported here, lazily: only exec needs it.
 * Failure to start (not found, not executable) rejects with a WifError carrying 127 or 126.
 */
export async function spawnChild(req: SpawnRequest): Promise<RunningChild> {
  const { spawn } = await import('node:child_process');
  return new Promise<RunningChild>((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(req.file, req.args, { env: req.env, cwd: req.cwd, stdio: req.stdio ?? 'inherit', windowsHide: false });
    } catch (err) {
      reject(spawnError(req.file, err as NodeJS.ErrnoException));
      return;
    }
    let settled = false;
    const exited = new Promise<ChildResult>((done) => {
      child.once('exit', (code, signal) => done({ code, signal }));
    });
    // `on`, not `once`: a later failed kill (EPERM on a setuid child) also emits 'error', and an
    // 'error' without a listener would crash the parent while the child runs.
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return; // after a successful start it changes nothing: the exit is still reported
      settled = true;
      reject(spawnError(req.file, err));
    });
    child.once('spawn', () => {
      if (settled) return;
      settled = true;
      req.forwarder?.attach(child);
      resolve({ pid: child.pid!, child, exited });
    });
  });
}
