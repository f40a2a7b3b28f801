import { createHash } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/**
 * One exchange, as one JSON Lines record of the audit trail (README, "Audit trail"). The fields
 * join with the Console's authentication history: `time`, `sub` and `request_id`. Never a token,
 * a JWT or a secret: the jti only as a hash, everything passed through the redactor by the writer.
 */
export interface ExchangeEvent {
  v: 1;
  time: string;
  event: 'exchange';
  /** The claude-wif command or component that exchanged: token, env, exec, agent, proxy, csi-provider, … */
  component: string;
  outcome: 'success' | 'failure';
  error_code: string | null;
  http_status: number | null;
  profile: string | null;
  identity_source: string | null;
  iss: string | null;
  sub: string | null;
  aud: string[];
  /** First 16 hex digits of SHA-256(jti): matches across events without revealing the id. */
  jti_sha256: string | null;
  organization_id: string | null;
  federation_rule_id: string | null;
  service_account_id: string | null;
  workspace_id: string | null;
  endpoint_host: string | null;
  request_id: string | null;
  token_expires_at: string | null;
  expires_in: number | null;
  duration_ms: number;
  process: { pid: number; executable: string; ppid: number; parent_executable: string | null };
  host: string;
  /** Extra context a component adds (the CSI provider: the pod). */
  context?: Record<string, string | number | null>;
}

export interface ExchangeInput {
  component: string;
  startedMs: number;
  endedMs: number;
  outcome: 'success' | 'failure';
  error?: { code?: string; details?: Record<string, unknown> } | undefined;
  profile?: string | null | undefined;
  identitySource?: string | null | undefined;
  claims?: { iss?: string | undefined; sub?: string | undefined; aud?: string[] | string | undefined; jti?: string | undefined } | undefined;
  organizationId?: string | null | undefined;
  federationRuleId?: string | null | undefined;
  serviceAccountId?: string | null | undefined;
  workspaceId?: string | null | undefined;
  baseUrl?: string | null | undefined;
  requestId?: string | null | undefined;
  /** Token expiry, epoch seconds. */
  expiresAt?: number | null | undefined;
  context?: Record<string, string | number | null> | undefined;
}

/** Long values are cut so that a whole line stays well under PIPE_BUF (4096 bytes: one atomic write to a pipe). */
const cut = (s: string | null | undefined, n = 300): string | null => (s == null ? null : s.length > n ? `${s.slice(0, n)}…` : s);

let parentExe: string | null | undefined;
function parentExecutable(): string | null {
  if (parentExe !== undefined) return parentExe;
  try {
    parentExe = readlinkSync(`/proc/${process.ppid}/exe`);
  } catch {
    parentExe = null;
  }
  return parentExe;
}

export function buildExchangeEvent(i: ExchangeInput): ExchangeEvent {
  const status = i.error?.details?.['status'];
  const reqId = i.requestId ?? (typeof i.error?.details?.['request_id'] === 'string' ? (i.error.details['request_id'] as string) : null);
  let host: string | null = null;
  try {
    host = i.baseUrl ? new URL(i.baseUrl).host : null;
  } catch {
    host = null;
  }
  const aud = i.claims?.aud === undefined ? [] : Array.isArray(i.claims.aud) ? i.claims.aud : [i.claims.aud];
  const expiresAt = i.expiresAt ?? null;
  return {
    v: 1,
    time: new Date(i.endedMs).toISOString(),
    event: 'exchange',
    component: i.component,
    outcome: i.outcome,
    error_code: i.outcome === 'failure' ? (i.error?.code ?? 'internal_error') : null,
    http_status: typeof status === 'number' ? status : null,
    profile: cut(i.profile ?? null, 100),
    identity_source: i.identitySource ?? null,
    iss: cut(i.claims?.iss ?? null),
    sub: cut(i.claims?.sub ?? null),
    aud: aud.slice(0, 5).map((a) => cut(a, 200)!),
    jti_sha256: i.claims?.jti ? createHash('sha256').update(i.claims.jti).digest('hex').slice(0, 16) : null,
    organization_id: cut(i.organizationId ?? null, 100),
    federation_rule_id: cut(i.federationRuleId ?? null, 100),
    service_account_id: cut(i.serviceAccountId ?? null, 100),
    workspace_id: cut(i.workspaceId ?? null, 100),
    endpoint_host: cut(host, 200),
    request_id: cut(reqId, 200),
    token_expires_at: expiresAt === null ? null : new Date(expiresAt * 1000).toISOString(),
    expires_in: expiresAt === null ? null : Math.round(expiresAt - i.endedMs / 1000),
    duration_ms: Math.max(0, Math.round(i.endedMs - i.startedMs)),
    process: { pid: process.pid, executable: cut(process.argv[1] ?? process.execPath, 300)!, ppid: process.ppid, parent_executable: cut(parentExecutable(), 300) },
    host: cut(hostname(), 100)!,
    ...(i.context ? { context: Object.fromEntries(Object.entries(i.context).slice(0, 10).map(([k, v]) => [k.slice(0, 64), typeof v === 'string' ? cut(v, 200) : v])) } : {}),
  };
}
