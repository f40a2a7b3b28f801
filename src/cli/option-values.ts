import type { Target } from '../output/credential-env.js';
import { ENV_FORMATS, type EnvFormat } from '../output/shells.js';
import { WifError } from '../util/errors.js';

/**
 * The values of claude-wif's options: their parsers, lists and the typed option objects commands
 * receive. Free of commander (options.ts builds commander's Options from these), so a small entry
 * that parses its own arguments (the hot path) validates with the same rules.
 */

/** The longest --min-ttl: a day. */
export const MAX_MIN_TTL_SECONDS = 86_400;

export function parseMinTtl(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isFinite(n) || n > MAX_MIN_TTL_SECONDS) {
    throw new WifError('usage_error', `--min-ttl ${JSON.stringify(value)} is not a number of seconds between 0 and ${MAX_MIN_TTL_SECONDS}`);
  }
  return n;
}

/** A value from a fixed list, refused with `--flag "x" is not one of a, b` (and a hint) otherwise. */
export function choiceParser<T extends string>(flag: string, choices: readonly T[], hint?: string): (value: string) => T {
  return (value) => {
    if ((choices as readonly string[]).includes(value)) return value as T;
    throw new WifError('usage_error', `${flag} ${JSON.stringify(value)} is not one of ${choices.join(', ')}`, hint ? { hint } : {});
  };
}

/** Output formats of `token`. */
export const TOKEN_FORMATS = ['raw', 'json'] as const;
export type TokenFormat = (typeof TOKEN_FORMATS)[number];
/** Output formats of `env`: the shells' syntaxes plus GitHub Actions' $GITHUB_ENV. */
export const ENV_COMMAND_FORMATS: readonly (EnvFormat | 'github')[] = [...ENV_FORMATS, 'github'];

/** Typed options of the token-producing commands. */
export interface TokenCommandOptions {
  minTtl?: number;
  forceRefresh?: boolean;
}
export interface TokenOptions extends TokenCommandOptions {
  format: TokenFormat;
}
export interface EnvOptions extends TokenCommandOptions {
  /** Absent: the syntax of the shell that runs claude-wif. */
  format?: EnvFormat | 'github';
  target: Target;
}
