import { readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve, sep } from 'node:path';
import { WifError } from '../util/errors.js';

export type Env = Record<string, string | undefined>;

/** Spec §4: empty values count as unset everywhere. */
export function readEnv(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v.trim() === '' ? undefined : v;
}

export interface Located {
  value: string;
  /** Where the value came from: "flag --config-dir", "env ANTHROPIC_CONFIG_DIR", "default (…)". */
  origin: string;
}

function home(env: Env): string {
  return readEnv(env, 'HOME') ?? readEnv(env, 'USERPROFILE') ?? homedir();
}

/**
 * The SDKs' config directory (spec §4): ANTHROPIC_CONFIG_DIR; Windows %APPDATA%\Anthropic;
 * else $XDG_CONFIG_HOME/anthropic; else ~/.config/anthropic.
 */
export function resolveConfigDir(env: Env, flag?: string, platform: NodeJS.Platform = process.platform): Located {
  if (flag) return { value: resolve(flag), origin: 'flag --config-dir' };
  const fromEnv = readEnv(env, 'ANTHROPIC_CONFIG_DIR');
  if (fromEnv) return { value: resolve(fromEnv), origin: 'env ANTHROPIC_CONFIG_DIR' };
  if (platform === 'win32') {
    const appData = readEnv(env, 'APPDATA');
    if (appData) return { value: join(appData, 'Anthropic'), origin: 'default (%APPDATA%\\Anthropic)' };
    return { value: join(home(env), 'AppData', 'Roaming', 'Anthropic'), origin: 'default (%USERPROFILE%\\AppData\\Roaming\\Anthropic)' };
  }
  const xdg = readEnv(env, 'XDG_CONFIG_HOME');
  if (xdg) return { value: join(xdg, 'anthropic'), origin: 'env XDG_CONFIG_HOME' };
  return { value: join(home(env), '.config', 'anthropic'), origin: 'default (~/.config/anthropic)' };
}

/**
 * The Python SDK ignores XDG_CONFIG_HOME, so when both candidate directories hold profiles the
 * SDKs disagree about which ones exist. Returns a warning to show, or undefined.
 */
export function xdgDisagreement(env: Env, chosen: Located): string | undefined {
  if (chosen.origin !== 'env XDG_CONFIG_HOME') return undefined;
  const other = join(home(env), '.config', 'anthropic');
  if (resolve(other) === resolve(chosen.value)) return undefined;
  const hasProfiles = (dir: string) => {
    try {
      return readdirSync(join(dir, 'configs')).some((f) => f.endsWith('.json'));
    } catch {
      return false;
    }
  };
  if (hasProfiles(chosen.value) && hasProfiles(other)) {
    return `profiles exist in both ${chosen.value} (XDG_CONFIG_HOME, used here and by the TypeScript and Go SDKs) and ${other} (used by the Python SDK, which ignores XDG_CONFIG_HOME); set ANTHROPIC_CONFIG_DIR to make every client agree`;
  }
  return undefined;
}

/** claude-wif's own cache (ledger, locks, env-only tokens): CLAUDE_WIF_CACHE_DIR, XDG_CACHE_HOME, ~/.cache. */
export function resolveCacheDir(env: Env, platform: NodeJS.Platform = process.platform): Located {
  const explicit = readEnv(env, 'CLAUDE_WIF_CACHE_DIR');
  if (explicit) return { value: resolve(explicit), origin: 'env CLAUDE_WIF_CACHE_DIR' };
  if (platform === 'win32') {
    const local = readEnv(env, 'LOCALAPPDATA');
    if (local) return { value: join(local, 'claude-wif', 'cache'), origin: 'default (%LOCALAPPDATA%\\claude-wif\\cache)' };
  }
  const xdg = readEnv(env, 'XDG_CACHE_HOME');
  if (xdg) return { value: join(xdg, 'claude-wif'), origin: 'env XDG_CACHE_HOME' };
  return { value: join(home(env), '.cache', 'claude-wif'), origin: 'default (~/.cache/claude-wif)' };
}

const PROFILE_NAME = /^[A-Za-z0-9_.-]+$/;

/** Profile names as the SDKs accept them (spec §4), and nothing that could escape the directory. */
export function validateProfileName(name: string, origin: string): void {
  const bad = (why: string) =>
    new WifError('config_invalid', `profile name ${JSON.stringify(name)} (from ${origin}) ${why}`, {
      hint: 'profile names use letters, digits, "_", "." and "-", and do not start with a dot',
    });
  if (!name) throw bad('is empty');
  if (name === '.' || name === '..') throw bad('is not allowed');
  if (name.startsWith('.')) throw bad('starts with a dot');
  if (!PROFILE_NAME.test(name)) throw bad('contains characters other than letters, digits, "_", "." and "-"');
}

export function profilePath(configDir: string, name: string): string {
  const p = join(configDir, 'configs', `${name}.json`);
  // Defence in depth: the pattern above already forbids separators.
  if (!resolve(p).startsWith(resolve(configDir, 'configs') + sep)) {
    throw new WifError('config_invalid', `profile name ${JSON.stringify(name)} resolves outside ${configDir}`);
  }
  return p;
}

export function defaultCredentialsPath(configDir: string, name: string): string {
  return join(configDir, 'credentials', `${name}.json`);
}
