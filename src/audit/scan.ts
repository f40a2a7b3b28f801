import type { FileKind } from './classify.js';
import { makeFinding, type Finding, type KeyType } from './finding.js';
import type { Platform, RuleId } from './rules.js';

/**
 * Line-oriented recognisers for one file's text. Line-oriented on purpose: every finding needs a
 * line number, a 50 000-file tree must be read in seconds, and the files involved (.env, shell,
 * Dockerfile, compose, manifests, workflows) are line-structured in practice.
 */

/** An Anthropic credential value. The body is base64url; real keys are far longer than 8. */
const KEY_RE = /sk-ant-(api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{8,}/g;
/** base64 of "sk-ant-" at offset 0 (a Kubernetes Secret's `data` value, a base64 blob). */
const B64_RE = /c2stYW50LW[A-Za-z0-9+/]{12,}={0,2}/g;
/** Names that carry a static credential: ANTHROPIC_API_KEY, anthropic_api_key, anthropicApiKey, CLAUDE_CODE_OAUTH_TOKEN, an admin key, … */
const VAR_SRC = String.raw`[A-Za-z0-9_-]*(?:anthropic|claude)[A-Za-z0-9_-]*?(?:api[_-]?key|admin[_-]?(?:api[_-]?)?key|auth[_-]?token|oauth[_-]?token)`;
const VAR_RE = new RegExp(`(?<![A-Za-z0-9_-])${VAR_SRC}(?![A-Za-z0-9_-])`, 'i');
const FEDERATION_VARS = /\b(ANTHROPIC_FEDERATION_RULE_ID|ANTHROPIC_IDENTITY_TOKEN_FILE)\b/;
/** A claude-wif invocation: `claude-wif [options] exec|agent|…` (words after the name, not `claude-wif-agent`). */
const CLAUDE_WIF_RUN = /(?<![\w.\/-])claude-wif(?:\s+(?:-\S+|"[^"]*"|'[^']*'|[\w.\/:=-]+))*?\s+(exec|env|token|configure|agent|proxy|credential-process)\b/;
const PROFILE_TYPE = /"type"\s*:\s*"oidc_federation"/;

/** Byte strings whose absence proves a file holds nothing this module recognises (the fast pre-filter). */
export const NEEDLES = ['sk-ant-', 'NTHROPIC', 'nthropic', 'c2stYW50LW', 'apiKeyHelper', 'oidc_federation', 'claude-wif', 'claude_wif', 'CLAUDE_', 'claude_code', 'claudeCode', 'ClaudeCode'].map((s) => Buffer.from(s, 'latin1'));

export function mayMatter(buf: Buffer): boolean {
  for (const n of NEEDLES) if (buf.indexOf(n) !== -1) return true;
  return false;
}

const RULE_FOR_KEY: Record<KeyType, RuleId> = {
  api03: 'static-api-key',
  admin01: 'static-admin-key',
  oat01: 'static-oauth-token',
  ort01: 'static-refresh-token',
};

const KEY_WORDS: Record<KeyType, string> = {
  api03: 'an Anthropic API key',
  admin01: 'an Anthropic Admin API key',
  oat01: 'an OAuth access token',
  ort01: 'an OAuth refresh token',
};

/** Documentation placeholders such as sk-ant-api03-xxxxxxxxxxxx are not keys. */
function isPlaceholder(value: string): boolean {
  const body = value.slice(value.indexOf('-', 7) + 1);
  return new Set(body.replace(/[-_]/g, '')).size < 4;
}

export interface ScanContext {
  /** Display path for findings. */
  path: string;
  kind: FileKind;
  /** `owner/repo` of the GitHub remote of the repository holding this file, when known. */
  githubRepo?: string | undefined;
  /** The file lies in a home directory's start-up files. */
  workstation?: boolean;
}

/** Kinds whose pods run as a service account (the identity a key there should move to). */
const WORKLOADS = new Set(['Pod', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'CronJob']);

interface YamlDoc {
  start: number;
  end: number;
  k8sKind?: string | undefined;
  namespace?: string | undefined;
  serviceAccount?: string | undefined;
}

function yamlDocs(lines: string[]): YamlDoc[] {
  const docs: YamlDoc[] = [];
  let cur: YamlDoc = { start: 0, end: lines.length };
  let hasApi = false;
  const close = (end: number) => {
    cur.end = end;
    if (!hasApi) cur.k8sKind = undefined;
    docs.push(cur);
  };
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^---/.test(l)) {
      close(i);
      cur = { start: i + 1, end: lines.length };
      hasApi = false;
      continue;
    }
    if (/^apiVersion:\s*\S/.test(l)) hasApi = true;
    const k = /^kind:\s*["']?(\w+)/.exec(l);
    if (k) cur.k8sKind = k[1];
    const ns = /^\s+namespace:\s*["']?([a-z0-9][a-z0-9.-]*)/.exec(l);
    if (ns && !cur.namespace) cur.namespace = ns[1];
    const sa = /^\s*serviceAccountName:\s*["']?([a-z0-9][a-z0-9.-]*)/.exec(l);
    if (sa && !cur.serviceAccount) cur.serviceAccount = sa[1];
  }
  close(lines.length);
  return docs;
}

function platformFor(kind: FileKind, ctx: ScanContext, k8s: boolean): Platform {
  switch (kind) {
    case 'github-workflow':
    case 'github-action':
      return 'github-actions';
    case 'gitlab-ci':
      return 'gitlab';
    case 'circleci':
      return 'circleci';
    case 'buildkite':
      return 'buildkite';
    case 'ci':
      return 'ci';
    case 'dockerfile':
      return 'container';
    case 'compose':
      return 'compose';
    case 'helm-values':
      return 'kubernetes';
    case 'yaml':
      return k8s ? 'kubernetes' : 'application';
    case 'systemd':
      return 'process';
    case 'claude-settings':
      return 'claude-code';
    case 'sdk-profile':
    case 'sdk-credentials':
    case 'claude-login':
      return 'workstation';
    default:
      return ctx.workstation ? 'workstation' : 'application';
  }
}

/**
 * The variable a value is assigned to on this line, if any: NAME=…, name = "…", key: … at the
 * start of a line, "key": "…", ENV/export/set -gx NAME … . Prose before a value names nothing.
 */
function variableBefore(line: string, at: number): string | undefined {
  const before = line.slice(0, at);
  return (
    /(?:^|[\s,{(;])["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*=\s*["']?$/.exec(before)?.[1] ??
    /^\s*(?:-\s*)?["']?([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*:\s*["']?$/.exec(before)?.[1] ??
    /[{,]\s*"([A-Za-z_][A-Za-z0-9_.-]*)"\s*:\s*"$/.exec(before)?.[1] ??
    /^\s*(?:set\s+-[a-zA-Z]+|ENV|export)\s+([A-Za-z_][A-Za-z0-9_]*)\s+["']?$/i.exec(before)?.[1]
  );
}

export function scanText(text: string, ctx: ScanContext): Finding[] {
  const findings: Finding[] = [];
  const kind = ctx.kind;
  const lines = text.split(/\r?\n/);
  const yamlish = kind === 'yaml' || kind === 'helm-values' || kind === 'compose';
  const docs = yamlish ? yamlDocs(lines) : [{ start: 0, end: lines.length } as YamlDoc];
  const ci = kind === 'github-workflow' || kind === 'github-action' || kind === 'gitlab-ci' || kind === 'circleci' || kind === 'buildkite' || kind === 'ci';
  const assigning = kind === 'dotenv' || kind === 'shell' || kind === 'dockerfile' || kind === 'compose' || kind === 'systemd';
  let federatedMarked = false;

  for (const doc of docs) {
    const k8s = doc.k8sKind !== undefined;
    const platform = platformFor(kind, ctx, k8s);
    const target =
      platform === 'kubernetes' && doc.namespace && (doc.serviceAccount || WORKLOADS.has(doc.k8sKind ?? ''))
        ? { subject: `system:serviceaccount:${doc.namespace}:${doc.serviceAccount ?? 'default'}`, identity: `the Kubernetes service account ${doc.namespace}/${doc.serviceAccount ?? 'default'} (a projected token with audience https://api.anthropic.com)` }
        : platform === 'github-actions' && ctx.githubRepo
          ? { subject: `repo:${ctx.githubRepo}:ref:refs/heads/<branch>`, identity: `the GitHub Actions OIDC identity of ${ctx.githubRepo} (issuer https://token.actions.githubusercontent.com)` }
          : undefined;
    const isSecret = doc.k8sKind === 'Secret';
    let secretBlock: 'data' | 'stringData' | undefined;

    for (let i = doc.start; i < doc.end; i++) {
      const line = lines[i]!;
      const lineNo = i + 1;
      if (isSecret) {
        const top = /^([A-Za-z]+):/.exec(line);
        if (top) secretBlock = top[1] === 'data' ? 'data' : top[1] === 'stringData' ? 'stringData' : undefined;
      }
      const trimmed = line.trimStart();
      const comment = trimmed.startsWith('#') || trimmed.startsWith('//');
      const where = (col: number, context: string, variable?: string) => ({ path: ctx.path, line: lineNo, column: col + 1, context, variable });
      const valueContext = (): string => {
        if (isSecret && secretBlock) return `kubernetes-secret-${secretBlock}`;
        if (kind === 'dockerfile') {
          const ins = /^\s*(ENV|ARG)\b/i.exec(line);
          return ins ? `dockerfile-${ins[1]!.toLowerCase()}` : 'dockerfile';
        }
        if (kind === 'compose') return 'compose-environment';
        if (kind === 'yaml' && k8s) return 'kubernetes-manifest';
        return kind === 'other' ? 'config' : kind;
      };

      // 1. Credential values, literal.
      let sawValue = false;
      if (line.includes('sk-ant-')) {
        for (const m of line.matchAll(KEY_RE)) {
          const type = m[1] as KeyType;
          if (isPlaceholder(m[0])) continue;
          sawValue = true;
          const variable = variableBefore(line, m.index);
          if (kind === 'sdk-credentials' && (type === 'oat01' || type === 'ort01')) {
            findings.push(
              makeFinding('federated-token-cache', where(m.index, 'sdk-credentials', variable), `${KEY_WORDS[type]} in a credentials cache, where short-lived tokens belong`, 'workstation', { key: { type, value: m[0] } }),
            );
            continue;
          }
          if (kind === 'claude-login') {
            findings.push(makeFinding('user-login-cache', where(m.index, 'claude-login', variable), `${KEY_WORDS[type]} of a person's Claude Code login`, 'workstation', { key: { type, value: m[0] } }));
            continue;
          }
          const context = valueContext();
          findings.push(
            makeFinding(
              RULE_FOR_KEY[type],
              where(m.index, context, variable),
              `${KEY_WORDS[type]}${variable ? ` in ${variable}` : ''} (${describeContext(context)})${comment ? ', in a comment' : ''}`,
              platform,
              { key: { type, value: m[0] }, ...(target ? { target } : {}) },
            ),
          );
        }
      }
      // 2. Credential values, base64 (Kubernetes Secret data, or any blob).
      if (line.includes('c2stYW50LW')) {
        for (const m of line.matchAll(B64_RE)) {
          const decoded = Buffer.from(m[0], 'base64').toString('latin1');
          const k = /^sk-ant-(api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{8,}/.exec(decoded);
          if (!k || isPlaceholder(k[0])) continue;
          sawValue = true;
          const type = k[1] as KeyType;
          const variable = variableBefore(line, m.index);
          const context = isSecret && secretBlock ? `kubernetes-secret-${secretBlock}` : `${valueContext()} (base64)`;
          findings.push(
            makeFinding(RULE_FOR_KEY[type], where(m.index, context, variable), `${KEY_WORDS[type]}, base64-encoded${variable ? ` in ${variable}` : ''} (${describeContext(context)})`, platform, {
              key: { type, value: k[0] },
              ...(target ? { target } : {}),
            }),
          );
        }
      }
      if (sawValue || comment) continue;

      // 3. References that make the path depend on a stored key.
      const v = VAR_RE.exec(line);
      if (v) {
        const name = v[0];
        if (ci) {
          const secretRef = /\b(?:secrets|vars)\.([A-Za-z0-9_]+)/.exec(line);
          if (kind === 'github-workflow' || kind === 'github-action') {
            const input = /^\s*-?\s*([A-Za-z0-9_-]+)\s*:/.exec(line)?.[1];
            if (secretRef && (VAR_RE.test(secretRef[1]!) || (input !== undefined && VAR_RE.test(input)))) {
              findings.push(
                makeFinding(
                  'workflow-secret-reference',
                  where(secretRef.index, 'github-workflow', input ?? secretRef[1]),
                  input && /^(anthropic_api_key|claude_code_oauth_token)$/.test(input)
                    ? `claude-code-action input ${input} is fed from \${{ ${secretRef[0]} }}`
                    : `the workflow puts \${{ ${secretRef[0]} }}${input ? ` in ${input}` : ''}`,
                  platform,
                  target ? { target } : {},
                ),
              );
              continue;
            }
          } else if (/\$\{?[A-Za-z_]|\$\(|%[A-Za-z_]+%|credentials\(|secrets\.|env\./.test(line) && new RegExp(`(?:\\$\\{?|\\$\\(|%|env\\.|secrets\\.|credentials\\(\\s*['"])${escapeRe(name)}`, 'i').test(line)) {
            findings.push(makeFinding('ci-variable-reference', where(v.index, kind, name), `the job reads the stored variable ${name}`, platform, target ? { target } : {}));
            continue;
          }
        }
        if (kind === 'claude-settings') {
          const kv = new RegExp(`"${escapeRe(name)}"\\s*:\\s*"([^"]*)"`).exec(line);
          if (kv && kv[1] !== '') {
            findings.push(makeFinding('claude-settings-env-credential', where(v.index, 'claude-settings-env', name), `Claude Code settings set ${name} (from a reference, not a literal key)`, 'claude-code'));
            continue;
          }
        }
        if (assigning) {
          const assigned = assignment(line, kind, name);
          if (assigned) {
            findings.push(makeFinding('api-key-variable', where(v.index, assigned.context, name), `${name} is ${assigned.how}`, platform, target ? { target } : {}));
            continue;
          }
        }
      }
      if (yamlish && /secretKeyRef\s*:/.test(line)) {
        // env: - name: ANTHROPIC_API_KEY / valueFrom: / secretKeyRef: { name: anthropic, key: api-key }
        if (lookaround(lines, i, 3, VAR_RE) || lookaround(lines, i, 3, /name:\s*["']?[\w.-]*(anthropic|claude)[\w.-]*/i)) {
          let envName: string | undefined;
          for (let j = i - 1; j >= Math.max(0, i - 3) && !envName; j--) envName = /^\s*-\s*name:\s*["']?([A-Za-z_][A-Za-z0-9_]*)/.exec(lines[j]!)?.[1];
          findings.push(makeFinding('kubernetes-secret-key-ref', where(line.indexOf('secretKeyRef'), 'kubernetes-secret-key-ref', envName), `${envName ?? 'a variable'} comes from a Kubernetes Secret holding an Anthropic key (secretKeyRef)`, 'kubernetes', target ? { target } : {}));
          continue;
        }
      }
      if (yamlish && /secretRef\s*:/.test(line) && !/secretKeyRef/.test(line)) {
        // envFrom: - secretRef: { name: anthropic-api-key } — every key of the Secret becomes a variable.
        const near = lookaround(lines, i, 2, /name:\s*["']?[\w.-]*(anthropic|claude)[\w.-]*/i);
        if (near) findings.push(makeFinding('kubernetes-secret-key-ref', where(line.indexOf('secretRef'), 'kubernetes-secret-env-from', undefined), 'envFrom loads an Anthropic Secret into the environment', 'kubernetes', target ? { target } : {}));
      }
      if (kind === 'claude-settings' && /"apiKeyHelper"\s*:\s*"[^"]+"/.test(line) && !/claude-wif/.test(line)) {
        findings.push(makeFinding('claude-settings-api-key-helper', where(line.indexOf('apiKeyHelper'), 'claude-settings', 'apiKeyHelper'), 'apiKeyHelper is set: Claude Code authenticates with its output instead of a federated token', 'claude-code'));
        continue;
      }

      // 4. Federated paths (the good state): one per file.
      if (!federatedMarked) {
        const fed = federatedMarker(line, kind, k8s);
        if (fed) {
          federatedMarked = true;
          findings.push(makeFinding(fed.rule, where(Math.max(0, fed.at), fed.context), fed.message, platform, target ? { target } : {}));
        }
      }
    }
  }
  return findings;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function lookaround(lines: string[], i: number, span: number, re: RegExp): boolean {
  for (let j = Math.max(0, i - span); j <= Math.min(lines.length - 1, i + span); j++) if (j !== i && re.test(lines[j]!)) return true;
  return false;
}

/** Is NAME assigned a (non-empty) value on this line, for this kind of file? */
function assignment(line: string, kind: FileKind, name: string): { context: string; how: string } | undefined {
  const n = escapeRe(name);
  switch (kind) {
    case 'dotenv':
    case 'shell': {
      const m = new RegExp(`^\\s*(?:export\\s+|set\\s+-[a-zA-Z]*x[a-zA-Z]*\\s+|declare\\s+-x\\s+|local\\s+)?${n}(?:=|\\s+)(.*)$`).exec(line);
      if (!m) return undefined;
      const value = m[1]!.trim().replace(/^["']|["']$/g, '');
      if (!value || /^#/.test(value)) return undefined;
      return { context: kind, how: `set from ${/\$\(|`/.test(value) ? 'a command' : /\$/.test(value) ? 'another variable' : 'a value'} (${kind === 'shell' ? 'shell export' : '.env file'})` };
    }
    case 'dockerfile': {
      const arg = new RegExp(`^\\s*ARG\\s+${n}\\b`, 'i').exec(line);
      if (arg) return { context: 'dockerfile-arg', how: 'a build argument: its value ends up in the image history' };
      const env = new RegExp(`^\\s*ENV\\s+(?:.*\\s)?${n}(?:=|\\s+)\\S`, 'i').exec(line);
      if (env) return { context: 'dockerfile-env', how: 'baked into the image environment (Dockerfile ENV)' };
      return undefined;
    }
    case 'compose': {
      const m = new RegExp(`^\\s*(?:-\\s*["']?${n}(?:=(.*))?["']?\\s*$|["']?${n}["']?\\s*:\\s*(.*)$)`).exec(line);
      if (!m) return undefined;
      const value = (m[1] ?? m[2] ?? '').trim();
      if (m[2] !== undefined && (value === '' || value === '""' || value === "''")) return undefined;
      return { context: 'compose-environment', how: `passed to the container by docker-compose${value ? '' : ' from the host environment'}` };
    }
    case 'systemd': {
      if (!new RegExp(`^\\s*Environment\\s*=.*\\b${n}=\\S`).test(line)) return undefined;
      return { context: 'systemd-environment', how: 'set in a systemd unit (Environment=)' };
    }
    default:
      return undefined;
  }
}

function federatedMarker(full: string, kind: FileKind, k8s: boolean): { rule: RuleId; at: number; context: string; message: string } | undefined {
  // Words in a trailing comment ("# lets claude-wif request …") are not a configuration.
  const line = kind === 'json' || kind === 'sdk-profile' ? full : full.replace(/\s#.*$/, '');
  if (kind === 'json' || kind === 'sdk-profile' || ((kind === 'yaml' || kind === 'helm-values') && PROFILE_TYPE.test(line))) {
    const m = PROFILE_TYPE.exec(line);
    if (m) return { rule: 'federated-profile', at: m.index, context: kind === 'sdk-profile' ? 'sdk-profile' : 'profile-file', message: 'an oidc_federation profile: the SDKs and claude-wif exchange the workload identity for short-lived tokens' };
    return undefined;
  }
  const ci = kind === 'github-workflow' || kind === 'github-action' || kind === 'gitlab-ci' || kind === 'circleci' || kind === 'buildkite' || kind === 'ci';
  if (ci) {
    const m = CLAUDE_WIF_RUN.exec(line) ?? FEDERATION_VARS.exec(line) ?? /^\s*id_tokens\s*:/.exec(line);
    if (m) return { rule: 'federated-ci', at: m.index, context: kind, message: `the job federates (${m[0].trim().slice(0, 60)})` };
    return undefined;
  }
  if (kind === 'yaml' || kind === 'helm-values' || kind === 'compose' || kind === 'systemd' || kind === 'dockerfile') {
    const m =
      CLAUDE_WIF_RUN.exec(line) ??
      (k8s || kind === 'helm-values' ? /audience:\s*["']?https:\/\/api\.anthropic\.com/.exec(line) : null) ??
      FEDERATION_VARS.exec(line) ??
      (/["']claude-wif["']\s*,\s*["'](agent|proxy|exec)["']/.exec(line) as RegExpExecArray | null);
    if (m) return { rule: 'federated-manifest', at: m.index, context: kind === 'yaml' ? (k8s ? 'kubernetes-manifest' : 'yaml') : kind, message: `the deployment federates (${m[0].trim().slice(0, 60)})` };
    return undefined;
  }
  if (kind === 'dotenv' || kind === 'shell') {
    const m = /^\s*(?:export\s+)?ANTHROPIC_FEDERATION_RULE_ID=\S/.exec(line);
    if (m) return { rule: 'federated-environment', at: m.index, context: kind, message: 'the federation variables are set here' };
  }
  return undefined;
}

function describeContext(context: string): string {
  const words: Record<string, string> = {
    dotenv: '.env file',
    shell: 'shell script or start-up file',
    'dockerfile-env': 'Dockerfile ENV, baked into every image layer after it',
    'dockerfile-arg': 'Dockerfile ARG, recorded in the image history',
    dockerfile: 'Dockerfile',
    'compose-environment': 'docker-compose environment',
    'kubernetes-secret-data': 'Kubernetes Secret data',
    'kubernetes-secret-stringData': 'Kubernetes Secret stringData',
    'kubernetes-manifest': 'Kubernetes manifest',
    'helm-values': 'Helm values',
    'claude-settings': 'Claude Code settings',
    'github-workflow': 'GitHub workflow',
    'github-action': 'GitHub action',
    'gitlab-ci': 'GitLab CI configuration',
    circleci: 'CircleCI configuration',
    buildkite: 'Buildkite pipeline',
    ci: 'CI configuration',
    systemd: 'systemd unit',
    script: 'source code or script',
    json: 'JSON configuration',
    yaml: 'YAML configuration',
    'sdk-profile': 'SDK profile',
    config: 'configuration file',
  };
  return words[context] ?? words[context.replace(/ \(base64\)$/, '')] ?? context;
}
