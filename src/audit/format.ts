import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { VERSION } from '../version.js';
import type { AuditReport } from './audit.js';
import type { Finding } from './finding.js';
import { recipeFor, RULES, type RuleId, type Severity } from './rules.js';

/** `--format json`: the stable document (README, "JSON output"). Version 1; fields are only ever added. */
export function auditJson(report: AuditReport, now: Date): Record<string, unknown> {
  return {
    version: 1,
    tool: { name: 'claude-wif', version: VERSION },
    generated_at: now.toISOString(),
    exit_code: report.exit_code,
    roots: report.roots,
    locations: report.locations,
    scanned: report.scanned,
    summary: report.summary,
    findings: report.findings,
  };
}

const LEVEL: Record<Severity, 'error' | 'warning' | 'note'> = { critical: 'error', high: 'error', medium: 'warning', low: 'note', info: 'note' };
/** GitHub code scanning reads `security-severity` (0–10) to rank alerts. */
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0', info: '0.0' };

function pascal(id: string): string {
  return id.replace(/(^|-)([a-z])/g, (_, __, c: string) => c.toUpperCase());
}

function ruleHelp(id: RuleId): { text: string; markdown: string } {
  const r = RULES[id];
  if (r.status !== 'static') return { text: r.why, markdown: r.why };
  return {
    text: `${r.why} Move the path to federation: the identity and the recipe for each platform are in every result's message and in the README's Recipes section (claude-wif audit).`,
    markdown: `${r.why}\n\nMove the path to federation: each result names the identity it should move to and the recipe for its platform; see the README's *Recipes* section. Then revoke the key in the Claude Console.`,
  };
}

/**
 * `--format sarif`: SARIF 2.1.0 for GitHub code scanning and other viewers. Static paths are
 * `kind: fail` results (level error/warning by severity); federated and expected paths are
 * `kind: pass` with level `none`, as the specification requires for non-failures.
 */
export function auditSarif(report: AuditReport, cwd: string): Record<string, unknown> {
  const ids = Object.keys(RULES) as RuleId[];
  const rules = ids.map((id) => {
    const r = RULES[id];
    return {
      id,
      name: pascal(id),
      shortDescription: { text: r.title },
      fullDescription: { text: r.why },
      help: ruleHelp(id),
      defaultConfiguration: { level: r.status === 'static' ? LEVEL[r.severity] : 'none' },
      properties: { tags: ['security', 'credentials', r.status === 'static' ? 'static-credential' : 'federation'], precision: 'high', 'security-severity': SECURITY_SEVERITY[r.severity] },
    };
  });
  const results = report.findings.map((f) => {
    const file = !/^(env|process):/.test(f.path);
    const location = file
      ? {
          physicalLocation: {
            artifactLocation: f.path.startsWith('/') ? { uri: pathToFileURL(f.path).href } : { uri: encodeURI(f.path), uriBaseId: 'SRCROOT' },
            ...(f.line !== undefined ? { region: { startLine: f.line, ...(f.column !== undefined ? { startColumn: f.column } : {}) } } : {}),
          },
        }
      : { logicalLocations: [{ name: f.variable ?? f.path, fullyQualifiedName: f.path, kind: 'variable' }] };
    const fail = f.status === 'static';
    return {
      ruleId: f.rule,
      ruleIndex: ids.indexOf(f.rule),
      kind: fail ? 'fail' : 'pass',
      level: fail ? LEVEL[f.severity] : 'none',
      message: { text: sarifMessage(f) },
      locations: [location],
      partialFingerprints: { 'claudeWifPath/v1': createHash('sha256').update(`${f.rule}\0${f.path}\0${f.variable ?? ''}\0${f.fingerprint ?? ''}`).digest('hex').slice(0, 32) },
      properties: {
        status: f.status,
        severity: f.severity,
        context: f.context,
        ...(f.variable ? { variable: f.variable } : {}),
        ...(f.key_type ? { key_type: f.key_type, fingerprint: f.fingerprint } : {}),
        target: f.target,
        migration: f.migration,
      },
    };
  });
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: 'claude-wif', version: VERSION, semanticVersion: VERSION, rules } },
        originalUriBaseIds: { SRCROOT: { uri: pathToFileURL(cwd.endsWith('/') ? cwd : `${cwd}/`).href } },
        invocations: [{ executionSuccessful: true, exitCode: report.exit_code }],
        results,
        properties: { summary: report.summary, scanned: report.scanned },
      },
    ],
  };
}

function sarifMessage(f: Finding): string {
  if (f.status !== 'static') return `${f.message}.`;
  return `${f.message}. Move it to ${f.target.identity}${f.target.subject ? ` (subject ${f.target.subject})` : ''}: ${f.migration.steps} See ${f.migration.doc}.`;
}

type Paint = { ok(s: string): string; bad(s: string): string; dim(s: string): string; bold(s: string): string };

/** The human report (stdout): static paths first with their migration, then the federated ones. */
export function auditText(report: AuditReport, c: Paint): string {
  const out: string[] = [];
  const where = (f: Finding) => `${f.path}${f.line !== undefined ? `:${f.line}` : ''}${f.column !== undefined ? `:${f.column}` : ''}`;
  const statics = report.findings.filter((f) => f.status === 'static');
  const good = report.findings.filter((f) => f.status !== 'static');
  if (statics.length) {
    out.push(c.bold(`Static credential paths (${statics.length})`));
    const recipes = new Map<string, string>();
    for (const f of statics) {
      out.push(`${c.bad(f.severity.toUpperCase().padEnd(8))} ${where(f)}  ${f.rule}`);
      out.push(`         ${f.message}${f.fingerprint ? c.dim(`  [${f.key_type} ${f.fingerprint}]`) : ''}`);
      out.push(`         move to: ${f.target.identity}${f.target.subject ? ` (sub ${f.target.subject})` : ''}`);
      out.push(`         recipe:  ${f.target.platform} (${f.migration.doc})`);
      recipes.set(f.target.platform, recipeFor(f.target.platform).steps);
    }
    out.push('');
    out.push(c.bold('How to migrate'));
    for (const [platform, steps] of recipes) out.push(`  ${platform}: ${steps}`);
    out.push('');
  }
  if (good.length) {
    out.push(c.bold(`Federated and expected (${good.length})`));
    for (const f of good) out.push(`${c.ok(f.status === 'federated' ? 'OK      ' : 'EXPECTED')} ${where(f)}  ${f.rule}: ${f.message}`);
    out.push('');
  }
  const sk = report.scanned.skipped;
  out.push(
    `${statics.length ? c.bad(`${statics.length} static credential path(s) found`) : c.ok('no static credential path found')}, ${good.length} federated or expected. ` +
      `${report.scanned.files} files (${report.scanned.read} read; skipped ${sk.binary} binary, ${sk.large} large, ${sk.unreadable} unreadable, ${sk.directories} dependency/VCS directories) in ${(report.scanned.duration_ms / 1000).toFixed(1)} s.`,
  );
  return `${out.join('\n')}\n`;
}
