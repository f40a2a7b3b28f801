import type { Env } from '../config/paths.js';
import { readEnv } from '../config/paths.js';
import type { AccessToken } from '../core/credentials.js';
import { DEFAULT_BASE_URL, OAUTH_BETA } from '../protocol.js';

export type Target = 'sdk' | 'claude-code';
export const TARGETS: readonly Target[] = ['sdk', 'claude-code'];

export interface EnvAssignment {
  name: string;
  /** null = remove the variable (an empty variable would still take its precedence slot in some clients). */
  value: string | null;
}

/** Variables holding the token's expiry, for scripts that want to know when to ask again. */
export const EXPIRES_AT_VAR = 'CLAUDE_WIF_TOKEN_EXPIRES_AT';

/**
 * Adds oauth-2025-04-20 to the anthropic-beta line of an ANTHROPIC_CUSTOM_HEADERS value (one
 * "Name: value" per line), keeping the user's other headers and betas.
 */
export function mergeBetaHeader(existing: string | undefined, beta = OAUTH_BETA): string {
  const lines = (existing ?? '').split(/\r?\n/).filter((l) => l.trim() !== '');
  let merged = false;
  const out = lines.map((line) => {
    const m = /^\s*anthropic-beta\s*:(.*)$/i.exec(line);
    if (!m) return line;
    merged = true;
    const betas = m[1]!.split(',').map((b) => b.trim()).filter(Boolean);
    if (!betas.includes(beta)) betas.push(beta);
    return `anthropic-beta: ${betas.join(',')}`;
  });
  if (!merged) out.push(`anthropic-beta: ${beta}`);
  return out.join('\n');
}

/**
 * The environment that makes a client send `Authorization: Bearer <token>` *with* the oauth beta
 * (spec §5): SDK apps read ANTHROPIC_AUTH_TOKEN and need the beta through ANTHROPIC_CUSTOM_HEADERS;
 * Claude Code replaces custom betas with its own list and lets ANTHROPIC_AUTH_TOKEN outrank
 * CLAUDE_CODE_OAUTH_TOKEN, so for it only CLAUDE_CODE_OAUTH_TOKEN is set and the others removed.
 */
export function credentialEnv(token: AccessToken, baseUrl: string, target: Target, current: Env): EnvAssignment[] {
  const vars: EnvAssignment[] = [];
  if (target === 'sdk') {
    vars.push({ name: 'ANTHROPIC_AUTH_TOKEN', value: token.token });
    vars.push({ name: 'ANTHROPIC_CUSTOM_HEADERS', value: mergeBetaHeader(readEnv(current, 'ANTHROPIC_CUSTOM_HEADERS')) });
    vars.push({ name: 'CLAUDE_CODE_OAUTH_TOKEN', value: null });
  } else {
    vars.push({ name: 'CLAUDE_CODE_OAUTH_TOKEN', value: token.token });
    vars.push({ name: 'ANTHROPIC_AUTH_TOKEN', value: null });
  }
  // Both outrank federation and bearer tokens everywhere.
  vars.push({ name: 'ANTHROPIC_API_KEY', value: null });
  for (const fd of ['CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR', 'CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR']) {
    if (current[fd] !== undefined) vars.push({ name: fd, value: null });
  }
  // The token is bound to the base URL it was minted at; API calls must go to the same place.
  if (baseUrl !== DEFAULT_BASE_URL) vars.push({ name: 'ANTHROPIC_BASE_URL', value: baseUrl });
  if (token.expiresAt !== null) vars.push({ name: EXPIRES_AT_VAR, value: String(token.expiresAt) });
  return vars;
}
