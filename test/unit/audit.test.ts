import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RULES } from '../../src/audit/rules.js';
import { assertNoSecrets, runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';
import { plantHome, plantRepository, type Expected } from '../helpers/audit-trees.js';
import { validateSarif } from '../helpers/sarif.js';

interface JsonFinding {
  rule: string;
  status: string;
  severity: string;
  path: string;
  line?: number;
  column?: number;
  context: string;
  variable?: string;
  key_type?: string;
  fingerprint?: string;
  message: string;
  target: { platform: string; identity: string; subject?: string };
  migration: { doc: string; steps: string };
}

function matches(f: JsonFinding, e: Expected): boolean {
  return (
    f.rule === e.rule &&
    f.path === e.path &&
    (e.line === undefined || f.line === e.line) &&
    (e.variable === undefined || f.variable === e.variable) &&
    (e.context === undefined || f.context === e.context) &&
    (e.subject === undefined || f.target.subject === e.subject)
  );
}

/** Every planted secret, also as base64 (a Secret's data) and by its distinctive tail. */
function assertNothingLeaks(text: string, secrets: string[]): void {
  assertNoSecrets(text, secrets);
  for (const s of secrets) {
    expect(text.includes(Buffer.from(s).toString('base64'))).toBe(false);
    expect(text.includes(s.slice(-12))).toBe(false);
  }
  // Only the public prefix of any key kind may appear, never a body.
  expect(text).not.toMatch(/sk-ant-(api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{6,}/);
}

const fp = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex').slice(0, 12)}`;

describe('claude-wif audit', () => {
  let h: TempHome;
  let cwd: string;
  beforeEach(() => {
    h = tempHome();
    cwd = join(h.home, 'work');
    mkdirSync(cwd, { recursive: true });
  });
  afterEach(() => h.cleanup());

  it('finds every planted path in a repository and a home directory, with the identity and the recipe for each; prints no secret in any format', async () => {
    const repo = plantRepository(cwd);
    const home = plantHome(h.home, h.configDir);
    const envKey = fakeAnthropicToken('api03', 'environment');
    const env = cleanEnv(h.home, { ANTHROPIC_API_KEY: envKey });
    const secrets = [...repo.secrets, ...home.secrets, envKey];

    const r = await runCli(['audit', 'shop', '--format', 'json'], env, { cwd });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(7);
    const doc = JSON.parse(r.stdout) as { version: number; exit_code: number; findings: JsonFinding[]; scanned: { skipped: Record<string, number> }; summary: { static: number } };
    expect(doc.version).toBe(1);
    expect(doc.exit_code).toBe(7);

    const expected: Expected[] = [...repo.expected, ...home.expected, { rule: 'environment-credential', path: 'env:ANTHROPIC_API_KEY', variable: 'ANTHROPIC_API_KEY' }];
    const missing = expected.filter((e) => !doc.findings.some((f) => matches(f, e)));
    expect(missing).toEqual([]);
    // Nothing static beyond what was planted (the skipped .git, node_modules, binary and large
    // file, and the README's placeholder, produce nothing).
    const unexpected = doc.findings.filter((f) => f.status === 'static' && !expected.some((e) => matches(f, e)));
    expect(unexpected).toEqual([]);
    expect(doc.summary.static).toBe(expected.filter((e) => RULES[e.rule as keyof typeof RULES].status === 'static').length);
    expect(doc.scanned.skipped['large']).toBe(1);
    expect(doc.scanned.skipped['binary']).toBeGreaterThanOrEqual(1);
    expect(doc.scanned.skipped['directories']).toBeGreaterThanOrEqual(2);

    for (const f of doc.findings) {
      expect(f.target.identity.length).toBeGreaterThan(10);
      expect(f.migration.steps.length).toBeGreaterThan(20);
      expect(f.migration.doc).toMatch(/^README\.md#/);
      expect(RULES[f.rule as keyof typeof RULES]).toBeDefined();
      if (f.fingerprint) expect(f.fingerprint).toMatch(/^sha256:[0-9a-f]{12}$/);
    }
    // Fingerprints identify the key without revealing it.
    const dotenv = doc.findings.find((f) => f.path === 'shop/.env')!;
    expect(dotenv.fingerprint).toBe(fp(repo.secrets[0]!));
    expect(dotenv.key_type).toBe('api03');
    expect(doc.findings.find((f) => f.context === 'kubernetes-secret-data')!.fingerprint).toBe(fp(repo.secrets[4]!));
    // Per-platform targets.
    expect(doc.findings.find((f) => f.rule === 'workflow-secret-reference' && f.path.endsWith('review.yml'))!.target.platform).toBe('github-actions');
    expect(doc.findings.find((f) => f.path === 'shop/.gitlab-ci.yml')!.target.platform).toBe('gitlab');
    expect(doc.findings.find((f) => f.path === 'shop/Dockerfile')!.target.platform).toBe('container');
    expect(doc.findings.find((f) => f.path === join(h.home, '.bashrc'))!.target.platform).toBe('workstation');
    // Prose before a pasted token names no variable; a Secret has no service account of its own.
    expect(doc.findings.find((f) => f.path === 'shop/notes/debug.txt')!.variable).toBeUndefined();
    expect(doc.findings.find((f) => f.context === 'kubernetes-secret-data')!.target.subject).toBeUndefined();

    assertNothingLeaks(r.stdout + r.stderr, secrets);
    const text = await runCli(['audit', 'shop'], env, { cwd });
    expect(text.code).toBe(7);
    expect(text.stdout).toContain('Static credential paths');
    expect(text.stdout).toContain('shop/.env:2:');
    expect(text.stdout).toContain('How to migrate');
    expect(text.stderr).toContain('static credential path(s) remain');
    assertNothingLeaks(text.stdout + text.stderr, secrets);
    const sarif = await runCli(['audit', 'shop', '--format', 'sarif'], env, { cwd });
    expect(sarif.code).toBe(7);
    assertNothingLeaks(sarif.stdout + sarif.stderr, secrets);
    expect(validateSarif(JSON.parse(sarif.stdout))).toEqual([]);
  });

  it('emits SARIF 2.1.0 that validates against the SARIF schema, with rule ids, line numbers and help', async () => {
    plantRepository(cwd);
    const r = await runCli(['audit', 'shop', '--format', 'sarif'], cleanEnv(h.home), { cwd });
    expect(r.code).toBe(7);
    const log = JSON.parse(r.stdout);
    expect(validateSarif(log)).toEqual([]);
    expect(log.version).toBe('2.1.0');
    const run = log.runs[0];
    const ruleIds = run.tool.driver.rules.map((x: { id: string }) => x.id);
    expect(ruleIds).toEqual(Object.keys(RULES));
    for (const rule of run.tool.driver.rules) {
      expect(rule.help.text.length).toBeGreaterThan(20);
      expect(rule.shortDescription.text.length).toBeGreaterThan(5);
    }
    const fails = run.results.filter((x: { kind: string }) => x.kind === 'fail');
    expect(fails.length).toBeGreaterThan(15);
    for (const res of fails) {
      expect(ruleIds[res.ruleIndex]).toBe(res.ruleId);
      expect(['error', 'warning', 'note']).toContain(res.level);
      const loc = res.locations[0].physicalLocation;
      expect(loc.artifactLocation.uriBaseId).toBe('SRCROOT');
      expect(loc.artifactLocation.uri).toMatch(/^shop\//);
      expect(loc.region.startLine).toBeGreaterThan(0);
      expect(res.message.text).toMatch(/Move it to .*README\.md#/);
    }
    const passes = run.results.filter((x: { kind: string }) => x.kind === 'pass');
    expect(passes.length).toBeGreaterThan(3);
    for (const res of passes) expect(res.level).toBe('none');
    expect(run.originalUriBaseIds.SRCROOT.uri).toBe(`file://${cwd}/`);
  });

  it('exits 0 on a clean tree, reporting the federated paths (the examples) as the good state', async () => {
    const r0 = join(cwd, 'clean');
    mkdirSync(join(r0, 'src'), { recursive: true });
    writeFileSync(join(r0, 'src', 'index.ts'), 'import Anthropic from "@anthropic-ai/sdk";\nconst client = new Anthropic();\n');
    writeFileSync(join(r0, 'README.md'), '# clean\nUses ANTHROPIC_API_KEY? No: see claude-wif.\n');
    const { cpSync } = await import('node:fs');
    const { ROOT } = await import('../helpers/cli.js');
    cpSync(join(ROOT, 'examples'), join(r0, 'examples'), { recursive: true });
    const r = await runCli(['audit', 'clean', '--format', 'json'], cleanEnv(h.home), { cwd });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { exit_code: number; findings: JsonFinding[] };
    expect(doc.exit_code).toBe(0);
    expect(doc.findings.filter((f) => f.status === 'static')).toEqual([]);
    expect(doc.findings.filter((f) => f.status === 'federated').map((f) => f.path).sort()).toEqual(
      ['clean/examples/github-actions/claude.yml', 'clean/examples/gitlab/.gitlab-ci.yml', 'clean/examples/kubernetes/agent-sidecar.yaml', 'clean/examples/kubernetes/proxy-sidecar.yaml', 'clean/examples/systemd/claude-wif-agent.service', 'clean/examples/systemd/prod.json'],
    );
    const text = await runCli(['audit', 'clean'], cleanEnv(h.home), { cwd });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('no static credential path found');
    const sarif = await runCli(['audit', 'clean', '--format', 'sarif'], cleanEnv(h.home), { cwd });
    expect(sarif.code).toBe(0);
    expect(validateSarif(JSON.parse(sarif.stdout))).toEqual([]);
  });

  it('a short-lived token inside claude-wif exec is expected; the same token in a file is a finding', async () => {
    const token = fakeAnthropicToken('oat01', 'exec');
    writeFileSync(join(cwd, 'run.sh'), `#!/bin/sh\ncurl -H "authorization: Bearer ${token}" https://api.anthropic.com\n`);
    const env = cleanEnv(h.home, { ANTHROPIC_AUTH_TOKEN: token, CLAUDE_WIF_EXEC_PROFILE: 'default' });
    const r = await runCli(['audit', '--format', 'json'], env, { cwd });
    const doc = JSON.parse(r.stdout) as { findings: JsonFinding[] };
    expect(doc.findings.find((f) => f.path === 'env:ANTHROPIC_AUTH_TOKEN')!.rule).toBe('federated-environment');
    expect(doc.findings.find((f) => f.path === 'run.sh')!.rule).toBe('static-oauth-token');
    expect(r.code).toBe(7);
    assertNothingLeaks(r.stdout + r.stderr, [token]);
  });

  it('--processes reads the environments of this user\'s processes', async () => {
    const admin = fakeAnthropicToken('admin01', 'process');
    const child = spawn('sleep', ['30'], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ANTHROPIC_ADMIN_KEY: admin }, stdio: 'ignore' });
    try {
      await new Promise<void>((res, rej) => child.once('spawn', () => res()).once('error', rej));
      const r = await runCli(['audit', '--processes', '--format', 'json'], cleanEnv(h.home), { cwd });
      const doc = JSON.parse(r.stdout) as { findings: JsonFinding[]; locations: { processes: number } };
      expect(doc.locations.processes).toBeGreaterThan(0);
      const hit = doc.findings.find((f) => f.path === `process:${child.pid}:ANTHROPIC_ADMIN_KEY`);
      expect(hit?.rule).toBe('environment-credential');
      expect(hit?.fingerprint).toBe(fp(admin));
      expect(hit?.message).toMatch(/sleep/);
      expect(r.code).toBe(7);
      assertNothingLeaks(r.stdout + r.stderr, [admin]);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a bad --max-file-size and an unknown format (exit 2)', async () => {
    expect((await runCli(['audit', '--max-file-size', 'lots'], cleanEnv(h.home), { cwd })).code).toBe(2);
    expect((await runCli(['audit', '--format', 'xml'], cleanEnv(h.home), { cwd })).code).toBe(2);
  });
});
