import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { decodeJwt } from '../../src/util/jwt.js';
import { assertNoSecrets, BIN, ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { githubPeer, type Peer } from '../helpers/platforms.js';
import { FIXTURES } from './exec-helpers.js';

// The CI examples, run as written: the steps that call claude-wif are executed by bash with the
// job's environment, against local fakes of the platform's token service and the sandbox. `claude`
// is a stand-in that calls the Messages API with the official SDK, the way Claude Code would.

let sandbox: Sandbox;
let h: TempHome;
beforeAll(async () => {
  sandbox = await startSandbox({ port: 0 });
  h = tempHome();
});
afterAll(async () => {
  await sandbox.close();
  h.cleanup();
});

type Obj = Record<string, any>;

/** PATH with `claude-wif` (the built binary) and a `claude` that records its argv and calls the API once. */
function fakeBin(dir: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'claude-wif'), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'claude'), `#!/bin/sh\nprintf '%s\\n' "$@" > "${dir}/claude.argv"\nRUN_FOR_MS=0 exec "${process.execPath}" "${join(FIXTURES, 'sdk-child.mjs')}"\n`, { mode: 0o755 });
  return `${dir}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
}

function bash(script: string, env: Record<string, string>, cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn('bash', ['-e', '-o', 'pipefail', '-c', script], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    c.on('error', reject);
    c.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const ids = () => ({ rule: 'fdrl_sandbox', org: sandbox.config.organization_id, sa: 'svac_sandbox' });

describe('examples/github-actions/claude.yml', () => {
  let gh: Peer | undefined;
  afterAll(async () => gh?.close());

  it('runs its claude-wif step against a fake Actions OIDC service: one exchange, Claude gets a working token', async () => {
    const wf = parse(readFileSync(join(ROOT, 'examples/github-actions/claude.yml'), 'utf8')) as Obj;
    const job = Object.values(wf['jobs'] as Obj)[0] as Obj;
    const vars: Record<string, string> = { ANTHROPIC_FEDERATION_RULE_ID: ids().rule, ANTHROPIC_ORGANIZATION_ID: ids().org, ANTHROPIC_SERVICE_ACCOUNT_ID: ids().sa };
    // ${{ vars.NAME }} → the repository variable.
    const jobEnv = Object.fromEntries(Object.entries(job['env'] as Record<string, string>).map(([k, v]) => [k, v.replace(/\$\{\{\s*vars\.([A-Z_]+)\s*\}\}/g, (_, n: string) => vars[n]!)]));
    const requestToken = 'gh-request-token-examples-0001';
    gh = await githubPeer((o) => sandbox.mint(o), requestToken);
    const ws = join(h.home, 'gh-workspace');
    mkdirSync(ws, { recursive: true });
    const summary = join(h.home, 'step-summary.md');
    writeFileSync(summary, '');
    const env = cleanEnv(h.home, {
      ...jobEnv,
      PATH: fakeBin(join(h.home, 'gh-bin')),
      GITHUB_ACTIONS: 'true',
      ACTIONS_ID_TOKEN_REQUEST_URL: `${gh.url}/_apis/token?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken,
      GITHUB_STEP_SUMMARY: summary,
      // The one difference from the real job: the sandbox instead of api.anthropic.com.
      ANTHROPIC_BASE_URL: sandbox.url,
    });
    const steps = (job['steps'] as Obj[]).filter((s) => typeof s['run'] === 'string' && /claude-wif exec/.test(s['run']));
    expect(steps).toHaveLength(1);
    const before = { ex: sandbox.exchanges.length, api: sandbox.apiCalls.length };
    const r = await bash(steps[0]!['run'], env, ws);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(ws, 'summary.md'), 'utf8')).toMatch(/"ok":1,"failed":0/);
    expect(readFileSync(summary, 'utf8')).toMatch(/"ok":1/);
    expect(readFileSync(join(h.home, 'gh-bin', 'claude.argv'), 'utf8').split('\n')[0]).toBe('-p');
    const ex = sandbox.exchanges.slice(before.ex);
    expect(ex.map((e) => e.status)).toEqual([200]);
    expect(decodeJwt(ex[0]!.assertion!).payload['sub']).toBe('repo:example/app:ref:refs/heads/main');
    expect(gh.requests.every((q) => q.url.includes('audience=https%3A%2F%2Fapi.anthropic.com'))).toBe(true);
    expect(sandbox.apiCalls.slice(before.api).map((c) => c.status)).toEqual([200]);
    assertNoSecrets(r.stderr, [ex[0]!.assertion!, (ex[0]!.response as { access_token: string }).access_token]);
  });
});

describe('examples/gitlab/.gitlab-ci.yml', () => {
  it('runs its script with the job\'s id_tokens variable: one exchange, Claude gets a working token', async () => {
    const ci = parse(readFileSync(join(ROOT, 'examples/gitlab/.gitlab-ci.yml'), 'utf8')) as Obj;
    const job = ci['claude-summary'] as Obj;
    const placeholders: Record<string, string> = { fdrl_REPLACEME: ids().rule, svac_REPLACEME: ids().sa, '00000000-0000-0000-0000-000000000000': ids().org };
    const variables = Object.fromEntries(Object.entries(job['variables'] as Record<string, string>).map(([k, v]) => [k, placeholders[v] ?? v]));
    // GitLab subjects look like project_path:<group>/<project>:ref_type:branch:ref:<ref>.
    const rule = sandbox.config.rules.find((x) => x.id === 'fdrl_sandbox')!;
    const savedMatch = rule.match;
    rule.match = { ...rule.match, subject_prefix: 'project_path:example/app:*' };
    try {
      // What the runner does for id_tokens: a JWT from the instance's issuer, with the declared audience.
      const [name, spec] = Object.entries(job['id_tokens'] as Record<string, { aud: string }>)[0]!;
      const jwt = await sandbox.mint({ aud: spec.aud, sub: 'project_path:example/app:ref_type:branch:ref:main' });
      // A job of its own: a fresh HOME (and so an empty token cache), as on a CI runner.
      const gl = join(h.home, 'gl-home');
      const ws = join(gl, 'workspace');
      mkdirSync(ws, { recursive: true });
      const env = cleanEnv(gl, {
        ...variables,
        PATH: fakeBin(join(gl, 'bin')),
        GITLAB_CI: 'true',
        CI: 'true',
        CI_SERVER_URL: sandbox.issuerUrl,
        [name]: jwt,
        ANTHROPIC_BASE_URL: sandbox.url,
      });
      const lines = (job['script'] as string[]).filter((l) => /claude-wif/.test(l));
      expect(lines).toHaveLength(1);
      const before = { ex: sandbox.exchanges.length, api: sandbox.apiCalls.length };
      const r = await bash(lines.join('\n'), env, ws);
      expect(r.code, r.stderr).toBe(0);
      expect(readFileSync(join(ws, 'summary.md'), 'utf8')).toMatch(/"ok":1,"failed":0/);
      const ex = sandbox.exchanges.slice(before.ex);
      expect(ex.map((e) => [e.status, e.assertion === jwt])).toEqual([[200, true]]);
      expect(sandbox.apiCalls.slice(before.api).map((c) => c.status)).toEqual([200]);
      assertNoSecrets(r.stderr, [jwt, (ex[0]!.response as { access_token: string }).access_token]);
    } finally {
      rule.match = savedMatch;
    }
  });
});
