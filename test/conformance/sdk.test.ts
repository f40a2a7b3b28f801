// Conformance with the real @anthropic-ai/sdk (an independent client): same exchange request,
// our credentials files are its cache, our `env` output authenticates it, same precedence.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

const SDK_CHILD = `
import Anthropic from '@anthropic-ai/sdk';
const client = new Anthropic({ maxRetries: 0 });
try {
  const msg = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
  console.log(JSON.stringify({ ok: true, text: msg.content[0].text }));
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: String(err && err.message || err) }));
}
`;

function runSdk(env: Record<string, string>): Promise<{ ok: boolean; text?: string; error?: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', SDK_CHILD], { cwd: ROOT, env });
    let out = '';
    let err = '';
    c.stdout.on('data', (d) => (out += d));
    c.stderr.on('data', (d) => (err += d));
    c.on('error', reject);
    c.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(new Error(`SDK child printed no result: ${out} ${err}`));
      }
    });
  });
}

let h: TempHome;
let s: SandboxSetup;
const ENV_RULE = 'fdrl_envrule';
beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir);
  // A second rule, used only through the federation env vars, so we can tell which input won.
  const base = s.sandbox.config.rules[0]!;
  s.sandbox.config.rules.push({ ...structuredClone(base), id: ENV_RULE });
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});

const strip = (rec: { headers: Record<string, string>; body: unknown }) => {
  const { assertion: _a, ...body } = rec.body as Record<string, unknown>;
  return { body, beta: rec.headers['anthropic-beta'], contentType: rec.headers['content-type'] };
};

describe('@anthropic-ai/sdk conformance', () => {
  it('sends the same exchange request as the SDK for the same profile and environment', async () => {
    const sdkHome = tempHome();
    const ourHome = tempHome();
    try {
      for (const home of [sdkHome, ourHome]) {
        mkdirSync(join(home.configDir, 'configs'), { recursive: true });
        writeFileSync(join(home.configDir, 'configs', 'wif.json'), JSON.stringify(s.sandbox.profile({ identityTokenPath: s.identityFile })));
      }
      const env = { ANTHROPIC_PROFILE: 'wif', ANTHROPIC_WORKSPACE_ID: 'default' };
      await s.rotate();
      const n0 = s.sandbox.exchanges.length;
      const sdk = await runSdk(cleanEnv(sdkHome.home, env));
      expect(sdk).toMatchObject({ ok: true });
      await s.rotate();
      const ours = await runBin(['token'], cleanEnv(ourHome.home, env));
      expect(ours.code).toBe(0);
      const [sdkRec, ourRec] = s.sandbox.exchanges.slice(n0);
      expect(sdkRec!.status).toBe(200);
      expect(strip(ourRec!)).toEqual(strip(sdkRec!));
      expect(strip(ourRec!).body).toMatchObject({ workspace_id: 'default', service_account_id: 'svac_sandbox' });
      expect(ourRec!.headers['user-agent']).toMatch(/^claude-wif\//);
    } finally {
      sdkHome.cleanup();
      ourHome.cleanup();
    }
  });

  it('uses a credentials file claude-wif wrote, without a new exchange', async () => {
    s.writeProfile('shared');
    await s.rotate();
    const env = cleanEnv(h.home, { ANTHROPIC_PROFILE: 'shared' });
    const ours = await runBin(['token'], env);
    expect(ours.code).toBe(0);
    const token = ours.stdout.trim();
    const n = s.sandbox.exchanges.length;
    const sdk = await runSdk(env);
    expect(sdk).toMatchObject({ ok: true });
    expect(s.sandbox.exchanges.length).toBe(n);
    expect(s.sandbox.apiCalls.at(-1)?.token_prefix).toBe(`${token.slice(0, 16)}…`);
    // And the SDK did not rewrite it into something we no longer accept.
    expect(JSON.parse(readFileSync(join(h.configDir, 'credentials', 'shared.json'), 'utf8')).access_token).toBe(token);
  });

  it('`env` output makes an SDK client authenticate (Bearer + oauth beta), even with ANTHROPIC_API_KEY set before', async () => {
    s.writeProfile('envout');
    await s.rotate();
    const out = await runBin(['--profile', 'envout', 'env', '--format', 'json'], cleanEnv(h.home));
    const vars = JSON.parse(out.stdout) as Record<string, string | null>;
    const childEnv: Record<string, string> = cleanEnv(h.home, { ANTHROPIC_API_KEY: 'sk-ant-api03-should-be-removed' });
    for (const [k, v] of Object.entries(vars)) {
      if (v === null) delete childEnv[k];
      else childEnv[k] = v;
    }
    const sdk = await runSdk(childEnv);
    expect(sdk).toMatchObject({ ok: true });
    const call = s.sandbox.apiCalls.at(-1)!;
    expect(call.headers['anthropic-beta']).toContain('oauth-2025-04-20');
    expect(call.headers['x-api-key']).toBeUndefined();
  });

  it('agrees on precedence: federation env vars over an implicit profile, and status says so', async () => {
    const both = tempHome();
    try {
      mkdirSync(join(both.configDir, 'configs'), { recursive: true });
      writeFileSync(join(both.configDir, 'configs', 'default.json'), JSON.stringify(s.sandbox.profile({ identityTokenPath: s.identityFile })));
      const env = cleanEnv(both.home, {
        ANTHROPIC_FEDERATION_RULE_ID: ENV_RULE,
        ANTHROPIC_ORGANIZATION_ID: s.sandbox.config.organization_id,
        ANTHROPIC_IDENTITY_TOKEN_FILE: s.identityFile,
        ANTHROPIC_BASE_URL: s.sandbox.url,
      });
      await s.rotate();
      const n = s.sandbox.exchanges.length;
      expect(await runSdk(env)).toMatchObject({ ok: true });
      const sdkRule = (s.sandbox.exchanges[n]!.body as Record<string, string>)['federation_rule_id'];
      const status = JSON.parse((await runBin(['status', '--json'], env)).stdout);
      expect(status.federation_rule_id.value).toBe(sdkRule);
      expect(sdkRule).toBe(ENV_RULE);
      expect(status.selection.via).toBe('federation env vars');
      expect(status.notes.join(' ')).toMatch(/implicit profile "default".*also exists.*older @anthropic-ai\/sdk releases preferred the profile/);
    } finally {
      both.cleanup();
    }
  });
});
