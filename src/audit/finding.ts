import { createHash } from 'node:crypto';
import { defaultTarget, recipeFor, rule, type Platform, type Recipe, type RuleId, type Severity, type Status, type Target } from './rules.js';

/** The kinds of Anthropic credential value, by prefix. */
export type KeyType = 'api03' | 'admin01' | 'oat01' | 'ort01';

/** One access path: the JSON document's `findings[]` entry (shape documented in the README). */
export interface Finding {
  rule: RuleId;
  status: Status;
  severity: Severity;
  /** A file path, `env:<NAME>` for the audit's own environment, or `process:<pid>:<NAME>`. */
  path: string;
  line?: number;
  column?: number;
  /** How the credential is carried here: dotenv, shell, dockerfile-env, kubernetes-secret-data, … */
  context: string;
  /** The variable or key that carries it, when there is one. */
  variable?: string;
  /** For key values: the prefix type and a short fingerprint (first 12 hex of sha256), never the value. */
  key_type?: KeyType;
  fingerprint?: string;
  message: string;
  target: Target;
  migration: Recipe;
}

/** First 12 hex digits of the value's SHA-256: enough to tell two keys apart, useless to an attacker. */
export function fingerprint(value: string): string {
  return `sha256:${createHash('sha256').update(value).digest('hex').slice(0, 12)}`;
}

export function makeFinding(
  id: RuleId,
  where: { path: string; line?: number; column?: number; context: string; variable?: string | undefined },
  message: string,
  platform: Platform,
  extra: { key?: { type: KeyType; value: string }; target?: Partial<Target> } = {},
): Finding {
  const r = rule(id);
  const f: Finding = {
    rule: id,
    status: r.status,
    severity: r.severity,
    path: where.path,
    ...(where.line !== undefined ? { line: where.line } : {}),
    ...(where.column !== undefined ? { column: where.column } : {}),
    context: where.context,
    ...(where.variable ? { variable: where.variable } : {}),
    ...(extra.key ? { key_type: extra.key.type, fingerprint: fingerprint(extra.key.value) } : {}),
    message,
    target: { ...defaultTarget(platform), ...extra.target },
    migration: recipeFor(platform),
  };
  return f;
}
