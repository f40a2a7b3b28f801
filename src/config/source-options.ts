// names.ts, not the registry: the names are all configure and the completions need.
import { SOURCE_NAMES } from '../identity/names.js';
import { DEFAULT_AUDIENCE } from '../protocol.js';

/**
 * What `configure` asks and accepts for each identity source: the option keys stored under
 * "claude_wif": {"identity": {…}} (the README's configure table), their flags and prompts.
 * The list of sources itself comes from identity/names.ts, so a source added there is offered
 * by `configure`, `doctor` and the completions without a change here; its options can always be
 * given with --identity-option key=value, and a line here adds a dedicated flag and prompt.
 */
export interface SourceOption {
  /** Key under claude_wif.identity (or the SDK's identity_token.path for the file source). */
  key: string;
  /** configure flag, without the leading dashes. */
  flag: string;
  /** Prompt text and flag help. */
  label: string;
  /** Value shown in brackets when nothing is configured yet. */
  suggested?: string;
  required?: boolean;
  /** "json-array" accepts a JSON array or whitespace-separated words (argv). */
  kind?: 'string' | 'number' | 'json-array';
}

const AUDIENCE: SourceOption = { key: 'audience', flag: 'audience', label: 'Audience the JWT is requested for', suggested: DEFAULT_AUDIENCE };
const AZURE: SourceOption[] = [
  { key: 'resource', flag: 'resource', label: 'Entra application (resource) the JWT is for, api://<APP_ID>', required: true },
  { key: 'client_id', flag: 'client-id', label: 'Client id of a user-assigned managed identity (optional)' },
];

export const SOURCE_OPTIONS: Record<string, SourceOption[]> = {
  file: [{ key: 'path', flag: 'identity-token-file', label: 'Identity token file (a JWT something keeps fresh)', required: true }],
  env: [{ key: 'variable', flag: 'identity-variable', label: 'Environment variable holding the JWT', suggested: 'ANTHROPIC_IDENTITY_TOKEN' }],
  command: [
    { key: 'command', flag: 'identity-command', label: 'Command that prints a JWT (JSON array or words)', required: true, kind: 'json-array' },
    { key: 'timeout_ms', flag: 'identity-timeout-ms', label: 'Command timeout in milliseconds (optional)', kind: 'number' },
    AUDIENCE,
  ],
  'github-actions': [AUDIENCE],
  gitlab: [{ key: 'variable', flag: 'identity-variable', label: 'Name of the id_tokens variable in .gitlab-ci.yml', required: true }],
  kubernetes: [{ key: 'path', flag: 'identity-token-file', label: 'Projected service-account token file', suggested: '/var/run/secrets/anthropic.com/token' }],
  gcp: [AUDIENCE],
  'azure-imds': AZURE,
  'azure-app-service': AZURE,
  'azure-workload-identity': [
    { key: 'scope', flag: 'identity-scope', label: 'Entra scope, api://<APP_ID>/.default', required: true },
    { key: 'client_id', flag: 'client-id', label: 'Client id (default: $AZURE_CLIENT_ID)' },
    { key: 'tenant_id', flag: 'tenant-id', label: 'Tenant id (default: $AZURE_TENANT_ID)' },
  ],
  aws: [
    { key: 'region', flag: 'region', label: 'AWS region of the STS endpoint (default: the SDK chain)' },
    AUDIENCE,
    { key: 'signing_algorithm', flag: 'signing-algorithm', label: 'Signing algorithm (RS256 or ES384)', suggested: 'RS256' },
    { key: 'duration_seconds', flag: 'duration-seconds', label: 'JWT lifetime in seconds (60–3600)', suggested: '300', kind: 'number' },
  ],
  spiffe: [{ key: 'socket', flag: 'socket', label: 'Workload API socket (default: $SPIFFE_ENDPOINT_SOCKET)' }, AUDIENCE],
  okta: [
    { key: 'issuer', flag: 'issuer', label: 'Okta custom authorization server issuer URL', required: true },
    { key: 'client_id', flag: 'client-id', label: 'Okta service app client id', required: true },
    { key: 'private_key_path', flag: 'private-key-path', label: "Path to the app's private key (PEM or JWK)", required: true },
    { key: 'key_id', flag: 'key-id', label: 'Key id (kid) registered for that key (optional)' },
    { key: 'scope', flag: 'identity-scope', label: 'Scope to request' },
  ],
  circleci: [{ ...AUDIENCE, suggested: undefined, label: 'Audience (optional; without it $CIRCLE_OIDC_TOKEN_V2 is used)' }],
  buildkite: [AUDIENCE],
  'terraform-cloud': [{ key: 'tag', flag: 'identity-tag', label: 'Workload identity tag (TFC_WORKLOAD_IDENTITY_TOKEN_<TAG>; optional)' }],
  auto: [{ ...AUDIENCE, label: 'Audience for sources that mint on demand' }],
};

/** Every source name the registry knows, "auto" included. */
export function sourceNames(): string[] {
  return SOURCE_NAMES();
}

export function optionsFor(source: string): SourceOption[] {
  return SOURCE_OPTIONS[source] ?? [];
}

/** Each distinct flag once (several sources share --audience, --client-id, …). */
export function allSourceFlags(): SourceOption[] {
  const seen = new Map<string, SourceOption>();
  for (const opts of Object.values(SOURCE_OPTIONS)) for (const o of opts) if (!seen.has(o.flag)) seen.set(o.flag, o);
  return [...seen.values()];
}

/** commander's camelCase attribute name of a flag ("identity-token-file" → "identityTokenFile"). */
export function flagAttribute(flag: string): string {
  return flag.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * configure's help line for a source flag: the label as written (not re-cased: "AWS", "JWT",
 * "Okta" keep their capitals) and the sources that use it, since one flag can serve several.
 */
export function sourceFlagHelp(o: SourceOption): string {
  const sources = Object.entries(SOURCE_OPTIONS)
    .filter(([name, opts]) => name !== 'auto' && opts.some((x) => x.flag === o.flag))
    .map(([name]) => name);
  return `${o.label.replace(/ \(optional[^)]*\)$/, '')} [${sources.join(', ')}: claude_wif.identity.${o.key}]`;
}
