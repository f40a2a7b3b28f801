import type { AccessToken, CoreDeps, GetTokenOptions } from '../../core/credentials.js';
import type { Plan } from '../../core/resolve.js';
import type { EnvAssignment, Target } from '../../output/credential-env.js';
import { WifError } from '../../util/errors.js';
import type { ChildResult } from './child.js';

/**
 * The modes of `claude-wif exec`, each one small strategy (mode-*.ts): from a token source it
 * prepares the child's environment, starts what the child needs (a sidecar file kept fresh, a
 * loopback proxy, a rotated identity file), and closes it when the child is gone. session.ts runs
 * a strategy around the child; adding a mode is one file here plus its name in EXEC_MODES.
 */

export type ExecMode = 'sidecar' | 'token' | 'proxy' | 'federation';
/** The one list of modes (the option's choices, its completion and parseMode all read it). */
export const EXEC_MODES: readonly ExecMode[] = ['sidecar', 'token', 'proxy', 'federation'];
export const DEFAULT_EXEC_MODE: ExecMode = 'sidecar';

export function parseMode(value: string | undefined): ExecMode {
  const mode = value ?? DEFAULT_EXEC_MODE;
  if ((EXEC_MODES as readonly string[]).includes(mode)) return mode as ExecMode;
  throw new WifError('usage_error', `--mode ${JSON.stringify(mode)} is not one of ${EXEC_MODES.join(', ')}`, {
    hint: 'sidecar (default) keeps a long-running child authenticated through a private profile; token exports a static token; proxy gives the child only a loopback URL and a session secret; federation lets the child exchange for itself',
  });
}

/** Where tokens come from: the core's getAccessToken (lock + cache + exchange) for one plan. */
export type TokenSource = (opts: GetTokenOptions) => Promise<AccessToken>;

export interface ModeStart {
  plan: Plan;
  deps: CoreDeps;
  /** Fetches tokens for this plan. */
  tokens: TokenSource;
  /** The first token, obtained before anything started (undefined when the mode asks for none). */
  token: AccessToken | undefined;
  target: Target;
  /** --min-ttl. */
  minTtl: number;
  cwd: string;
  /** --proxy-socket (proxy mode). */
  proxySocket?: string | undefined;
}

export interface RunningMode {
  /** What the mode sets in (or, with null, removes from) the child's environment. */
  env: EnvAssignment[];
  /** The base URL the child talks to: the plan's, unless the mode serves its own. */
  baseUrl: string;
  /** The child is running (start refreshing, arm timers). */
  childStarted?(): void;
  /** The child exited (before close): last words about it. */
  childExited?(result: ChildResult): void;
  /** Stops and removes everything the mode started; never throws. */
  close(): Promise<void>;
}

export interface ExecModeStrategy {
  /**
   * The --min-ttl the first token must meet, obtained before anything starts (a failure exits
   * with the core's code and the child never runs); undefined: the parent takes no token first.
   */
  firstTokenTtl(minTtl: number): number | undefined;
  start(s: ModeStart): Promise<RunningMode>;
}

/** Each mode's code is loaded only when that mode runs. */
export async function loadMode(mode: ExecMode): Promise<ExecModeStrategy> {
  switch (mode) {
    case 'sidecar':
      return (await import('./mode-sidecar.js')).sidecarMode;
    case 'token':
      return (await import('./mode-token.js')).tokenMode;
    case 'proxy':
      return (await import('./mode-proxy.js')).proxyMode;
    case 'federation':
      return (await import('./mode-federation.js')).federationMode;
  }
}
