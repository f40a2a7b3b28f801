import { WifError } from '../util/errors.js';

/** Shapes of the ids the token endpoint accepts; a malformed id is a 400 there, so catch it here. */
export const ID_PATTERNS = {
  federation_rule_id: /^fdrl_[A-Za-z0-9]+$/,
  service_account_id: /^svac_[A-Za-z0-9]+$/,
  workspace_id: /^(wrkspc_[A-Za-z0-9]+|default)$/,
  organization_id: /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/,
} as const;

const EXAMPLES: Record<keyof typeof ID_PATTERNS, string> = {
  federation_rule_id: 'fdrl_…',
  service_account_id: 'svac_…',
  workspace_id: 'wrkspc_… or the literal "default"',
  organization_id: 'a UUID such as 00000000-0000-0000-0000-000000000000',
};

export function validateId(kind: keyof typeof ID_PATTERNS, value: string, origin: string): void {
  if (!ID_PATTERNS[kind].test(value)) {
    throw new WifError('config_invalid', `${kind} ${JSON.stringify(value)} (from ${origin}) is not a valid id: expected ${EXAMPLES[kind]}`, {
      hint: `copy the ${kind.replace(/_/g, ' ')} from the Claude Console (Settings → Workload identity federation)`,
    });
  }
}

export function validateBaseUrl(value: string, origin: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WifError('config_invalid', `base_url ${JSON.stringify(value)} (from ${origin}) is not a URL`, {
      hint: 'use a URL such as https://api.anthropic.com',
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new WifError('config_invalid', `base_url ${JSON.stringify(value)} (from ${origin}) must be http(s)`);
  }
  // A user name or password in the URL is a credential that status, doctor and every log would
  // print, and that some clients send as Basic auth to whoever the host is. Refused, never echoed.
  if (url.username || url.password) {
    throw new WifError('config_invalid', `base_url (from ${origin}) carries a user name or password (${url.protocol}//…@${url.host}); credentials do not belong in base_url`, {
      hint: `remove the "user:password@" part (base_url ${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}); the API is authenticated by the federated token`,
    });
  }
  // The SDKs strip trailing slashes before appending /v1/oauth/token.
  return value.replace(/\/+$/, '');
}
