import { DEFAULT_AUDIENCE } from '../protocol.js';
import { WifError } from '../util/errors.js';

/** Reading a source's options (the profile's "claude_wif.identity" merged with flags and env). */

/** A non-blank string option, else undefined. */
export function optionString(options: Record<string, unknown>, key: string): string | undefined {
  const v = options[key];
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** The audience option, else the recommended default (spec §6: everywhere except Entra). */
export function audienceOf(options: Record<string, unknown>): string {
  return optionString(options, 'audience') ?? DEFAULT_AUDIENCE;
}

/** A positive integer option (accepts numeric strings, as env and flags give them). */
export function intOption(options: Record<string, unknown>, key: string, source: string, min: number, max: number): number | undefined {
  const v = options[key];
  if (v === undefined || v === null || v === '') return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new WifError('config_invalid', `${source}: option ${key} must be an integer between ${min} and ${max} (got ${JSON.stringify(v)})`);
  }
  return n;
}
