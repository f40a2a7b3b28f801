import { ID_PATTERNS } from '../config/ids.js';
import { DEFAULT_AUDIENCE, DEFAULT_BASE_URL } from '../protocol.js';
import { requireSecureEndpoint } from '../exchange/token-endpoint.js';
import type { WifError } from '../util/errors.js';
import { CsiMountError } from './errors.js';

/**
 * What one Mount asks for, read from MountRequest.attributes: the SecretProviderClass
 * `parameters` (all strings) merged by the driver with the keys it adds about the pod.
 */

/** Keys the driver adds (podInfoOnMount and tokenRequests on the CSIDriver object). */
export const DRIVER_KEYS = {
  podName: 'csi.storage.k8s.io/pod.name',
  podNamespace: 'csi.storage.k8s.io/pod.namespace',
  podUid: 'csi.storage.k8s.io/pod.uid',
  serviceAccountName: 'csi.storage.k8s.io/serviceAccount.name',
  serviceAccountTokens: 'csi.storage.k8s.io/serviceAccount.tokens',
} as const;

/** The audience Anthropic federation rules expect by default (spec §6). */
export const DEFAULT_CSI_AUDIENCE = DEFAULT_AUDIENCE;
export const DEFAULT_CSI_PROFILE = 'default';

export interface MountParams {
  organizationId: string;
  federationRuleId: string;
  serviceAccountId: string | undefined;
  workspaceId: string | undefined;
  baseUrl: string;
  audience: string;
  /** The profile name of the SDK config directory in the volume. */
  profile: string;
  /** Mode of the world-facing files (`token`, `token.json`); undefined: the driver's `permission`. */
  tokenFileMode: number | undefined;
  pod: { name: string | undefined; namespace: string | undefined; uid: string };
  serviceAccountName: string | undefined;
  /** The pod-bound service-account JWT for `audience`, and its expiry as the driver reported it. */
  serviceAccountToken: string;
  audiencesOffered: string[];
}

const missing = (name: string, hint: string) => new CsiMountError('parameter_missing', `SecretProviderClass parameter "${name}" is missing`, hint);
const invalid = (name: string, why: string, hint?: string) => new CsiMountError('parameter_invalid', `parameter "${name}" ${why}`, hint);

/** The attributes JSON: an object of strings, as the driver builds it (a map[string]string). */
export function parseAttributes(text: string): Record<string, string> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CsiMountError('attributes_invalid', 'MountRequest.attributes is not JSON', 'the driver sends the SecretProviderClass parameters as a JSON object; check the driver version');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new CsiMountError('attributes_invalid', 'MountRequest.attributes is not a JSON object');
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v !== 'string') throw invalid(k, `must be a string (SecretProviderClass parameters are strings; quote "${k}" in the YAML)`);
    out[k] = v;
  }
  return out;
}

const PROFILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

/** Validates the parameters; every problem is a CsiMountError naming the parameter. */
export function parseMountParams(attrs: Record<string, string>): MountParams {
  const get = (k: string): string | undefined => (attrs[k] === undefined || attrs[k] === '' ? undefined : attrs[k]);
  const idParam = (name: string, kind: keyof typeof ID_PATTERNS, required: boolean): string | undefined => {
    const v = get(name);
    if (v === undefined) {
      if (required) throw missing(name, `add ${name} to spec.parameters of the SecretProviderClass (the value is in the Claude Console)`);
      return undefined;
    }
    if (!ID_PATTERNS[kind].test(v)) throw invalid(name, `is not a valid ${kind.replace(/_/g, ' ')}: ${JSON.stringify(v.slice(0, 80))}`, 'copy the id from the Claude Console (Settings → Workload identity federation)');
    return v;
  };
  const organizationId = idParam('organizationId', 'organization_id', true)!;
  const federationRuleId = idParam('federationRuleId', 'federation_rule_id', true)!;
  const serviceAccountId = idParam('serviceAccountId', 'service_account_id', false);
  const workspaceId = idParam('workspaceId', 'workspace_id', false);

  let baseUrl = get('baseUrl') ?? DEFAULT_BASE_URL;
  try {
    const url = new URL(baseUrl);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw invalid('baseUrl', `is not an http(s) URL: ${JSON.stringify(baseUrl.slice(0, 200))}`);
  }
  baseUrl = baseUrl.replace(/\/+$/, '');
  try {
    requireSecureEndpoint(baseUrl);
  } catch (err) {
    throw new CsiMountError('insecure_endpoint', `parameter "baseUrl": ${(err as WifError).message}`, (err as WifError).hint);
  }

  const audience = get('audience') ?? DEFAULT_CSI_AUDIENCE;
  const profile = get('profile') ?? DEFAULT_CSI_PROFILE;
  if (!PROFILE_NAME.test(profile) || profile === '.' || profile === '..') {
    throw invalid('profile', `must be a profile name (letters, digits, "_", "-", "."; no leading dot): ${JSON.stringify(profile.slice(0, 80))}`);
  }
  const tokenFileMode = parseMode(get('tokenFileMode'), 'tokenFileMode');

  const uid = get(DRIVER_KEYS.podUid);
  if (!uid) throw missing(DRIVER_KEYS.podUid, 'the CSIDriver object must set podInfoOnMount: true (the driver\'s Helm chart does)');
  const pod = { name: get(DRIVER_KEYS.podName), namespace: get(DRIVER_KEYS.podNamespace), uid };

  const tokensText = get(DRIVER_KEYS.serviceAccountTokens);
  const tokenHint = `add tokenRequests: [{audience: "${audience}"}] to the CSIDriver secrets-store.csi.k8s.io (Helm: --set tokenRequests[0].audience=${audience}) so kubelet hands the driver a service-account token for that audience`;
  if (!tokensText) {
    throw new CsiMountError('service_account_token_missing', `the driver sent no service-account token (${DRIVER_KEYS.serviceAccountTokens} is absent)`, tokenHint);
  }
  let tokens: unknown;
  try {
    tokens = JSON.parse(tokensText);
  } catch {
    throw invalid(DRIVER_KEYS.serviceAccountTokens, 'is not JSON');
  }
  if (!tokens || typeof tokens !== 'object' || Array.isArray(tokens)) throw invalid(DRIVER_KEYS.serviceAccountTokens, 'is not a JSON object of audience → {token, expirationTimestamp}');
  const offered = Object.keys(tokens as Record<string, unknown>);
  const entry = (tokens as Record<string, unknown>)[audience];
  if (entry === undefined) {
    throw new CsiMountError(
      'service_account_token_missing',
      `the driver sent no service-account token for audience "${audience}"${offered.length ? ` (it sent tokens for: ${offered.map((a) => `"${a}"`).join(', ')})` : ''}`,
      `either set the SecretProviderClass parameter audience to one of those, or ${tokenHint}`,
    );
  }
  const token = entry && typeof entry === 'object' ? (entry as Record<string, unknown>)['token'] : undefined;
  if (typeof token !== 'string' || !token) throw invalid(DRIVER_KEYS.serviceAccountTokens, `has no "token" string for audience "${audience}"`);

  return {
    organizationId,
    federationRuleId,
    serviceAccountId,
    workspaceId,
    baseUrl,
    audience,
    profile,
    tokenFileMode,
    pod,
    serviceAccountName: get(DRIVER_KEYS.serviceAccountName),
    serviceAccountToken: token,
    audiencesOffered: offered,
  };
}

/** An octal file mode string ("0640", "640") → number; at most 0644 (never writable by others, never executable). */
export function parseMode(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^0?[0-7]{3}$/.test(value)) throw invalid(name, `must be an octal file mode such as "0640": ${JSON.stringify(value.slice(0, 20))}`);
  const mode = parseInt(value, 8);
  if (mode & 0o133) throw invalid(name, `${value} would let others write or execute the token file; use 0600, 0640 or 0644`);
  return mode;
}

/** The driver's `permission` (a JSON number in decimal, e.g. "420" = 0644); 0644 when absent or odd. */
export function driverPermission(permission: string): number {
  const n = Number(permission);
  if (!permission || !Number.isInteger(n) || n < 0 || n > 0o777) return 0o644;
  // Never hand the driver a mode that lets others write or execute a token.
  return n & ~0o133;
}
