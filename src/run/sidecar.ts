import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Env } from '../config/paths.js';
import { readEnv } from '../config/paths.js';
import type { AccessToken } from '../core/credentials.js';
import type { EnvAssignment } from '../output/credential-env.js';
import { writeFileAtomic } from '../util/fsx.js';
import { pidAlive } from '../util/pid.js';

/**
 * The sidecar profile (spec §5): a private config directory holding a minimal `user_oauth`
 * profile and its credentials file. Pointed at it with ANTHROPIC_CONFIG_DIR + ANTHROPIC_PROFILE,
 * Claude Code and the SDKs use the token in the file (Bearer + oauth beta) and re-read the file
 * when their copy runs out — the parent keeps it fresh, so only the parent ever exchanges.
 */

/** Exactly what was measured against Claude Code: no client_id (so no refresh attempt), no base_url. */
export const SIDECAR_PROFILE = { version: '1.0', authentication: { type: 'user_oauth' } } as const;

const PREFIX = 'claude-wif-exec-';

/** The SDK credentials shape (spec §4) for a sidecar file; expires_at in integer seconds. */
export function credentialsJson(token: AccessToken): string {
  const doc: Record<string, unknown> = { version: '1.0', type: 'oauth_token', access_token: token.token };
  if (token.expiresAt !== null) doc['expires_at'] = Math.floor(token.expiresAt);
  if (token.scope) doc['scope'] = token.scope;
  return `${JSON.stringify(doc, null, 2)}\n`;
}

export interface Sidecar {
  /** The private directory (0700). */
  dir: string;
  profile: string;
  configPath: string;
  credentialsPath: string;
  /** ANTHROPIC_CONFIG_DIR and ANTHROPIC_PROFILE for the child. */
  env: EnvAssignment[];
  /** Writes the credentials file: created by the first call (before the child runs), then replaced atomically (temp file + rename; readers see old or new). */
  write(token: AccessToken): void;
  /** Removes the directory; idempotent, never throws. */
  remove(): void;
  readonly removed: boolean;
}

/**
 * Where private directories go: $XDG_RUNTIME_DIR (per-user tmpfs, 0700, cleared at logout: the
 * token never reaches a disk) when usable, else the temporary directory.
 */
export function sidecarBaseDir(env: Env): string {
  const runtime = readEnv(env, 'XDG_RUNTIME_DIR');
  if (runtime) {
    try {
      const st = statSync(runtime);
      const mine = typeof process.getuid !== 'function' || st.uid === process.getuid();
      if (st.isDirectory() && mine && (st.mode & 0o077) === 0) return runtime;
    } catch {
      /* not usable: fall back */
    }
  }
  return readEnv(env, 'TMPDIR') ?? tmpdir();
}

/**
 * Removes directories left by a parent that could not clean up (SIGKILL, power loss): ours, by
 * name (`claude-wif-exec-<pid>-…`), owned by this user, whose pid is gone. A reused pid only
 * postpones the removal; nothing live is ever touched.
 */
export function sweepStaleSidecars(base: string, alive: (pid: number) => boolean = pidAlive): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return removed;
  }
  for (const name of names) {
    const m = /^claude-wif-exec-(\d+)-[A-Za-z0-9]+$/.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || alive(pid)) continue;
    const path = join(base, name);
    try {
      const st = lstatSync(path);
      if (!st.isDirectory() || (typeof process.getuid === 'function' && st.uid !== process.getuid())) continue;
      rmSync(path, { recursive: true, force: true });
      removed.push(path);
    } catch {
      /* raced with another sweeper: fine */
    }
  }
  return removed;
}

export interface PrivateDir {
  dir: string;
  /** Idempotent; also runs from an 'exit' hook as a last resort. */
  remove(): void;
  readonly removed: boolean;
}

/**
 * A private directory for one exec run (sidecar or federation), after sweeping those that dead
 * parents left behind. Removed by `remove()`, or on process exit for paths that skip the normal
 * cleanup (an uncaught error, process.exit).
 */
export function createPrivateDir(env: Env, baseDir?: string): PrivateDir {
  const base = baseDir ?? sidecarBaseDir(env);
  sweepStaleSidecars(base);
  // mkdtemp creates the directory 0700 with an unpredictable name: nobody else can plant files in it.
  const dir = mkdtempSync(join(base, `${PREFIX}${process.pid}-`));
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    process.off('exit', remove);
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      /* nothing more can be done; the next exec sweeps it */
    }
  };
  process.on('exit', remove);
  return {
    dir,
    remove,
    get removed() {
      return removed;
    },
  };
}

/** Creates the private directory with the profile; the credentials file is written by `write`. */
export function createSidecar(opts: { profile: string; env: Env; baseDir?: string }): Sidecar {
  const priv = createPrivateDir(opts.env, opts.baseDir);
  const { dir, remove } = priv;
  try {
    const configs = join(dir, 'configs');
    const credentials = join(dir, 'credentials');
    mkdirSync(configs, { mode: 0o700 });
    mkdirSync(credentials, { mode: 0o700 });
    const configPath = join(configs, `${opts.profile}.json`);
    const credentialsPath = join(credentials, `${opts.profile}.json`);
    // The directory is new, private and not yet handed to anyone: its first files are written in
    // place ('wx': created here, never an existing path). Later replacements are atomic (a temp
    // file renamed over), and none is fsynced: the directory never outlives this process.
    writeFileSync(configPath, `${JSON.stringify(SIDECAR_PROFILE, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    let written = false;
    return {
      dir,
      profile: opts.profile,
      configPath,
      credentialsPath,
      env: [
        { name: 'ANTHROPIC_CONFIG_DIR', value: dir },
        { name: 'ANTHROPIC_PROFILE', value: opts.profile },
      ],
      write(token) {
        if (priv.removed) return;
        if (written) writeFileAtomic(credentialsPath, credentialsJson(token), 0o600, { durable: false });
        else writeFileSync(credentialsPath, credentialsJson(token), { flag: 'wx', mode: 0o600 });
        written = true;
      },
      remove,
      get removed() {
        return priv.removed;
      },
    };
  } catch (err) {
    remove();
    throw err;
  }
}
