import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { decodeJwt } from '../../src/util/jwt.js';
import { assertNoSecrets, BIN, ROOT } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
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
  it('runs as the runner would: the claude-wif action (main), the claude-wif exec step, the post step; one exchange per fresh OIDC token, Claude gets a working token, no token left on disk', async () => {
    const wf = parse(readFileSync(join(ROOT, 'examples/github-actions/claude.yml'), 'utf8')) as Obj;
    const job = Object.values(wf['jobs'] as Obj)[0] as Obj;
    const vars: Record<string, string> = { ANTHROPIC_FEDERATION_RULE_ID: ids().rule, ANTHROPIC_ORGANIZATION_ID: ids().org, ANTHROPIC_SERVICE_ACCOUNT_ID: ids().sa };
    // ${{ vars.NAME }} → the repository variable.
    const expand = (v: string): string => v.replace(/\$\{\{\s*vars\.([A-Z_]+)\s*\}\}/g, (_, n: string) => vars[n]!);
    const steps = job['steps'] as Obj[];
    const actionStep = steps.find((s) => /\/claude-wif@/.test(s['uses'] ?? ''))!;
    const runStep = steps.find((s) => typeof s['run'] === 'string' && /claude-wif exec/.test(s['run']))!;
    expect(steps.indexOf(actionStep)).toBeLessThan(steps.indexOf(runStep));

    const runner = join(h.home, 'gh-runner');
    const ws = join(runner, 'workspace');
    const temp = join(runner, 'temp');
    mkdirSync(ws, { recursive: true });
    mkdirSync(temp, { recursive: true });
    const files = { GITHUB_ENV: join(runner, 'env'), GITHUB_OUTPUT: join(runner, 'output'), GITHUB_STATE: join(runner, 'state'), GITHUB_PATH: join(runner, 'path'), GITHUB_STEP_SUMMARY: join(runner, 'summary.md') };
    for (const f of Object.values(files)) writeFileSync(f, '');
    const jobEnv = cleanEnv(join(runner, 'home'), {
      PATH: fakeBin(join(runner, 'bin')),
      GITHUB_ACTIONS: 'true',
      RUNNER_TEMP: temp,
      ...files,
      ACTIONS_ID_TOKEN_REQUEST_URL: sandbox.github.requestUrl,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: sandbox.github.requestToken,
    });
    mkdirSync(jobEnv['HOME']!, { recursive: true });
    // The one difference from the real job: the sandbox instead of api.anthropic.com.
    const inputs: Record<string, string> = { ...Object.fromEntries(Object.entries(actionStep['with'] as Record<string, string>).map(([k, v]) => [k, expand(String(v))])), 'base-url': sandbox.url };
    const actionEnv = { ...jobEnv };
    for (const [k, v] of Object.entries(inputs)) actionEnv[`INPUT_${k.toUpperCase()}`] = v;

    const before = { ex: sandbox.exchanges.length, api: sandbox.apiCalls.length, oidc: sandbox.github.issued() };
    const main = await bash(`exec "${process.execPath}" "${join(ROOT, 'action', 'main.cjs')}"`, actionEnv, ws);
    expect(main.code, main.stdout + main.stderr).toBe(0);

    // The next step sees what the action exported and put on PATH.
    const exported: Record<string, string> = {};
    const lines = readFileSync(files.GITHUB_ENV, 'utf8').split('\n');
    for (let i = 0; i < lines.length; i++) {
      const m = /^([A-Z_]+)<<(.+)$/.exec(lines[i]!);
      if (m) {
        const start = ++i;
        while (lines[i] !== m[2]) i++;
        exported[m[1]!] = lines.slice(start, i).join('\n');
      } else if (/^[A-Z_]+=$/.test(lines[i]!)) exported[lines[i]!.slice(0, -1)] = '';
    }
    expect(exported['CLAUDE_CODE_OAUTH_TOKEN']).toMatch(/^sk-ant-oat01-/);
    const stepEnv: Record<string, string> = { ...jobEnv, ...exported, PATH: `${readFileSync(files.GITHUB_PATH, 'utf8').trim()}:${jobEnv['PATH']}` };
    for (const [k, v] of Object.entries(exported)) if (v === '') delete stepEnv[k];
    const r = await bash(runStep['run'], stepEnv, ws);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(ws, 'summary.md'), 'utf8')).toMatch(/"ok":1,"failed":0/);
    expect(readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8')).toMatch(/"ok":1/);
    expect(readFileSync(join(runner, 'bin', 'claude.argv'), 'utf8').split('\n')[0]).toBe('-p');

    // One exchange, by the action: exec finds its token fresh in the profile's cache and reuses it.
    const ex = sandbox.exchanges.slice(before.ex);
    expect(ex.map((e) => e.status)).toEqual([200]);
    expect(sandbox.github.issued()).toBe(before.oidc + 1);
    expect(decodeJwt(ex[0]!.assertion!).payload['sub']).toBe('repo:example/app:ref:refs/heads/main');
    expect(decodeJwt(ex[0]!.assertion!).payload['aud']).toBe('https://api.anthropic.com');
    expect(sandbox.apiCalls.slice(before.api).map((c) => c.status)).toEqual([200]);
    const tokens = ex.map((e) => (e.response as { access_token: string }).access_token);
    assertNoSecrets(main.stderr + r.stderr, [...ex.map((e) => e.assertion!), ...tokens]);

    const stateEnv = { ...jobEnv };
    const state = readFileSync(files.GITHUB_STATE, 'utf8').split('\n');
    for (let i = 0; i < state.length; i++) {
      const m = /^([a-z_]+)<<(.+)$/.exec(state[i]!);
      if (m) stateEnv[`STATE_${m[1]}`] = state[++i]!;
    }
    const post = await bash(`exec "${process.execPath}" "${join(ROOT, 'action', 'post.cjs')}"`, stateEnv, ws);
    expect(post.code, post.stdout + post.stderr).toBe(0);
    expect(readdirSync(temp)).toEqual([]);
    const left = spawnSync('grep', ['-rlF', '-e', tokens[0]!, jobEnv['HOME']!, temp], { encoding: 'utf8' });
    expect(left.stdout).toBe('');
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
