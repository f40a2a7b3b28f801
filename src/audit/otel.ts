import { readFileSync } from 'node:fs';
import { readEnv, type Env } from '../config/paths.js';
import type { Plan } from '../core/resolve.js';

/**
 * `exec --otel-identity`: the federated identity as OpenTelemetry resource attributes, so that
 * Claude Code's own telemetry (and any OTel-instrumented child) carries the service account, the
 * rule and the subject it runs as. OTEL_RESOURCE_ATTRIBUTES is `key=value,…` with values
 * percent-encoded (W3C Baggage octets); the user's own attributes are kept, ours replace any of
 * the same name.
 */
export const OTEL_KEYS = {
  serviceAccount: 'anthropic.service_account_id',
  rule: 'anthropic.federation_rule_id',
  subject: 'anthropic.identity.subject',
  organization: 'anthropic.organization_id',
  workspace: 'anthropic.workspace_id',
} as const;

export function otelIdentityWanted(flag: boolean | undefined, env: Env, plan: Plan): boolean {
  if (flag) return true;
  const v = readEnv(env, 'CLAUDE_WIF_OTEL_IDENTITY');
  if (v !== undefined) return v === '1' || v === 'true';
  return plan.profile?.file.own['otel_identity'] === true;
}

/** The subject of the identity behind the cached token (written by the core next to the token). */
export function cachedSubject(plan: Plan): string | undefined {
  try {
    const doc = JSON.parse(readFileSync(plan.cache.path, 'utf8')) as { claude_wif?: { subject?: unknown } };
    return typeof doc.claude_wif?.subject === 'string' ? doc.claude_wif.subject : undefined;
  } catch {
    return undefined;
  }
}

export function otelResourceAttributes(existing: string | undefined, plan: Plan, subject: string | undefined): string {
  const ours: Array<[string, string | undefined]> = [
    [OTEL_KEYS.serviceAccount, plan.serviceAccountId?.value],
    [OTEL_KEYS.rule, plan.federationRuleId?.value],
    [OTEL_KEYS.subject, subject],
    [OTEL_KEYS.organization, plan.organizationId?.value],
    [OTEL_KEYS.workspace, plan.workspaceId?.value],
  ];
  const names = new Set(ours.map(([k]) => k));
  const kept = (existing ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && !names.has(s.slice(0, s.indexOf('=') >>> 0).trim()));
  const added = ours.filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${encodeURIComponent(v!)}`);
  return [...kept, ...added].join(',');
}
