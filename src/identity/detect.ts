import { readEnv, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';

export interface Detection {
  source: string;
  /** Why this source was chosen, for `status` and `identity`. */
  reason: string;
  /** Options the signal implies (e.g. the file path). */
  options: Record<string, unknown>;
}

interface Detector {
  /** What is checked, for the "nothing found" message. */
  checks: string;
  /** The one-line fix for this platform. */
  fix: string;
  detect(env: Env): Detection | undefined;
}

/**
 * Auto-detection, in order, from unambiguous local signals only (no network). Platform
 * detectors are added here as their sources land.
 */
export const DETECTORS: Detector[] = [
  {
    checks: 'ANTHROPIC_IDENTITY_TOKEN_FILE',
    fix: 'export ANTHROPIC_IDENTITY_TOKEN_FILE=/path/to/jwt',
    detect: (env) => {
      const path = readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN_FILE');
      return path ? { source: 'file', reason: 'ANTHROPIC_IDENTITY_TOKEN_FILE is set', options: { path } } : undefined;
    },
  },
  {
    checks: 'ANTHROPIC_IDENTITY_TOKEN',
    fix: 'export ANTHROPIC_IDENTITY_TOKEN=<jwt>',
    detect: (env) =>
      readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN')
        ? { source: 'env', reason: 'ANTHROPIC_IDENTITY_TOKEN is set', options: { variable: 'ANTHROPIC_IDENTITY_TOKEN' } }
        : undefined,
  },
];

export function detectSource(env: Env): Detection {
  for (const d of DETECTORS) {
    const found = d.detect(env);
    if (found) return found;
  }
  const lines = DETECTORS.map((d) => `  - ${d.checks}: not found (fix: ${d.fix})`).join('\n');
  throw new WifError('identity_unavailable', `no identity source was detected; checked:\n${lines}`, {
    hint: 'name a source with --identity-source or "claude_wif": {"identity": {"source": …}} in the profile',
  });
}
