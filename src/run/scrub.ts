import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import { readEnv, type Env } from '../config/paths.js';

/**
 * Whether `exec` sets CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1 for the child.
 *
 * With that variable Claude Code strips Anthropic and cloud credentials from the environments of
 * its Bash tool, hooks and MCP servers — and since 2.1.332 it runs them under bubblewrap to do so,
 * refusing to start at all when `bwrap` cannot be found ("bubblewrap is required for subprocess env
 * scrubbing and isolation…", spec §5). Claude Code looks `bwrap` up on its PATH, unless managed
 * settings name one (`sandbox.bwrapPath`, which then is the only one it tries). Most CI runners and
 * containers have no bubblewrap, so the default is: scrub when the child can, otherwise start it
 * without scrubbing and say so once. `--scrub` / `--no-scrub` force either way.
 */

export type ScrubChoice = 'auto' | 'on' | 'off';

export interface BubblewrapProbe {
  /** Where Claude Code would find bwrap, or undefined. */
  path: string | undefined;
  /** How it was looked for (for doctor and the notice). */
  how: string;
}

export interface ScrubDecision {
  /** Set CLAUDE_CODE_SUBPROCESS_ENV_SCRUB=1. */
  scrub: boolean;
  /** When not scrubbing on our own decision: set it to 0, so an inherited 1 cannot stop the child from starting. */
  disable: boolean;
  choice: ScrubChoice;
  bwrap: BubblewrapProbe;
}

const MANAGED_SETTINGS: Partial<Record<NodeJS.Platform, string>> = {
  linux: '/etc/claude-code/managed-settings.json',
  darwin: '/Library/Application Support/ClaudeCode/managed-settings.json',
};

function executableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** `sandbox.bwrapPath` from managed settings, when set (Claude Code then uses only that one). */
function managedBwrapPath(file: string | undefined): string | undefined {
  if (!file) return undefined;
  try {
    const data = JSON.parse(readFileSync(file, 'utf8')) as { sandbox?: { bwrapPath?: unknown } } | null;
    const p = data?.sandbox?.bwrapPath;
    return typeof p === 'string' && p !== '' ? p : undefined;
  } catch {
    return undefined;
  }
}

/** Looks for bwrap the way Claude Code does, in the environment the child will get. */
export function findBubblewrap(env: Env, opts: { platform?: NodeJS.Platform; managedSettings?: string | null } = {}): BubblewrapProbe {
  const platform = opts.platform ?? process.platform;
  const managedFile = opts.managedSettings === null ? undefined : (opts.managedSettings ?? MANAGED_SETTINGS[platform]);
  const pinned = managedBwrapPath(managedFile);
  if (pinned !== undefined) {
    return { path: executableFile(pinned) ? pinned : undefined, how: `sandbox.bwrapPath (${pinned}) in ${managedFile}` };
  }
  const dirs = (readEnv(env, 'PATH') ?? '').split(delimiter).filter((d) => d !== '' && isAbsolute(d));
  for (const d of dirs) {
    const candidate = join(d, 'bwrap');
    if (executableFile(candidate)) return { path: candidate, how: 'bwrap on PATH' };
  }
  return { path: undefined, how: 'bwrap on PATH' };
}

export function decideScrub(choice: ScrubChoice, env: Env, probe: () => BubblewrapProbe = () => findBubblewrap(env)): ScrubDecision {
  if (choice === 'off') return { scrub: false, disable: false, choice, bwrap: { path: undefined, how: 'not looked for (--no-scrub)' } };
  const bwrap = probe();
  if (choice === 'on') return { scrub: true, disable: false, choice, bwrap };
  return bwrap.path ? { scrub: true, disable: false, choice, bwrap } : { scrub: false, disable: true, choice, bwrap };
}

/** What the child's own subprocesses (Claude Code's Bash tool, hooks, MCP servers) can read when nothing scrubs their environment. */
export function unscrubbedExposure(mode: string): string {
  switch (mode) {
    case 'token':
      return 'the access token itself (ANTHROPIC_AUTH_TOKEN / CLAUDE_CODE_OAUTH_TOKEN), usable until it expires';
    case 'proxy':
      return "the proxy's URL and session secret, usable through the proxy for as long as this session runs";
    case 'federation':
      return 'the federation variables and the identity token file, from which they could obtain tokens of their own';
    default:
      return 'ANTHROPIC_CONFIG_DIR and ANTHROPIC_PROFILE, so they can read the current access token from the private profile';
  }
}

/** The one stderr line when exec starts a child without scrubbing because bubblewrap is missing. */
export function noScrubNotice(mode: string, bwrap: BubblewrapProbe): string {
  return (
    `bubblewrap was not found (${bwrap.how}), which Claude Code needs to scrub credentials from its subprocesses; ` +
    `starting without CLAUDE_CODE_SUBPROCESS_ENV_SCRUB, so the Bash tool, hooks and MCP servers can see ${unscrubbedExposure(mode)}. ` +
    'Install bubblewrap (apt-get install bubblewrap) to get scrubbing, use --mode proxy to keep tokens out of the child, or pass --no-scrub to silence this'
  );
}
