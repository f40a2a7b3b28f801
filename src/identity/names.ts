import { WifError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';

/**
 * The names of the identity sources, apart from the registry in source.ts: resolving a plan (which
 * the hot path does) only needs the names, and importing the registry would bundle every source
 * module into the hot-path entry. source.ts's registry is typed against this list, so the two
 * cannot drift apart.
 */
export const SOURCE_LIST = [
  'file',
  'env',
  'command',
  'github-actions',
  'gitlab',
  'kubernetes',
  'gcp',
  'azure-imds',
  'azure-app-service',
  'azure-workload-identity',
  'aws',
  'spiffe',
  'okta',
  'circleci',
  'buildkite',
  'terraform-cloud',
] as const;

export type SourceName = (typeof SOURCE_LIST)[number];

/** Every name a user may choose, `auto` (the default: detection) included. */
export const SOURCE_NAMES = (): string[] => [...SOURCE_LIST, 'auto'];

/** The one error for a source name that does not exist, with the closest names. */
export function unknownSourceError(name: string, origin: string, code: 'usage_error' | 'config_invalid' = 'usage_error'): WifError {
  return new WifError(code, `unknown identity source "${name}" (from ${origin})${didYouMean(name, SOURCE_NAMES())}`, {
    hint: `choose one of: ${SOURCE_NAMES().join(', ')}`,
  });
}

export function isKnownSource(name: string): boolean {
  return name === 'auto' || (SOURCE_LIST as readonly string[]).includes(name);
}
