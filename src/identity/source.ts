import type { Env } from '../config/paths.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';

/** Recommended audience everywhere except Entra (spec §6). */
export const DEFAULT_AUDIENCE = 'https://api.anthropic.com';

export interface IdentityContext {
  env: Env;
  clock: Clock;
  log: Logger;
  /** The source's options: the profile's "claude_wif.identity" object merged with flags/env. */
  options: Record<string, unknown>;
  /** Per-request deadline for network sources. */
  timeoutMs: number;
}

export interface IdentityToken {
  jwt: string;
  /** Where it came from, for messages ("file /var/run/…", "env ANTHROPIC_IDENTITY_TOKEN"). Never the JWT. */
  origin: string;
}

export interface IdentitySource {
  name: string;
  /**
   * True when every fetch can return a new, never-exchanged JWT (GitHub Actions, GCP metadata, …).
   * False for files and variables that rotate on their own schedule: the core then never re-sends
   * a JWT it already exchanged and explains the single-use trade-off instead.
   */
  mintsOnDemand: boolean;
  /** What the source will read, without doing any I/O (for `status`). */
  describe(options: Record<string, unknown>, env: Env): string;
  fetch(ctx: IdentityContext): Promise<IdentityToken>;
}

/**
 * The registry. Each source is one file, imported only when used, so the hot path (a fresh
 * cached token) never loads any of them. A new platform is one file plus one line here.
 */
export const SOURCES: Record<string, () => Promise<{ default: IdentitySource }>> = {
  file: () => import('./file.js'),
  env: () => import('./env.js'),
};

export const SOURCE_NAMES = (): string[] => [...Object.keys(SOURCES), 'auto'];

export function isKnownSource(name: string): boolean {
  return name === 'auto' || Object.prototype.hasOwnProperty.call(SOURCES, name);
}

export async function loadSource(name: string): Promise<IdentitySource> {
  const loader = SOURCES[name];
  if (!loader) throw new Error(`unknown identity source ${name}`);
  return (await loader()).default;
}

export function optionString(options: Record<string, unknown>, key: string): string | undefined {
  const v = options[key];
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}
