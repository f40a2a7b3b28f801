// `configure`: flags off a terminal (failing fast, naming the missing flags), interactive on a real
// pseudo-terminal (tmux), edits that keep unknown keys and show a diff, and profiles that the
// real @anthropic-ai/sdk loads unchanged.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BIN, ROOT, assertNoSecrets, runBin } from '../helpers/cli.js';
import { cleanEnv, tempHome, type TempHome } from '../helpers/env.js';
import { sharedSandbox, type SandboxSetup } from '../helpers/sandbox.js';
import { missingTool, Tmux } from '../helpers/tty.js';

const ORG = '00000000-0000-4000-8000-000000000001';

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

function runSdk(env: Record<string, string>): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', SDK_CHILD], { cwd: ROOT, env });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('error', reject);
    c.on('close', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!));
      } catch {
        reject(new Error(`SDK child printed no result: ${out}`));
      }
    });
  });
}

let s: SandboxSetup;
sharedSandbox((setup) => (s = setup));

let h: TempHome;
let env: Record<string, string>;
beforeEach(() => {
  h = tempHome();
  env = cleanEnv(h.home);
  return () => h.cleanup();
});

const profileFile = (name = 'default') => join(h.configDir, 'configs', `${name}.json`);
const readProfile = (name = 'default') => JSON.parse(readFileSync(profileFile(name), 'utf8')) as Record<string, any>;

describe('configure with flags (not on a terminal)', () => {
  it('writes an SDK profile atomically, prints its path, activates it, and the SDK uses it unchanged', async () => {
    const r = await runBin(
      ['configure', '--profile', 'ci', '--organization-id', ORG, '--federation-rule-id', 'fdrl_sandbox', '--service-account-id', 'svac_sandbox', '--workspace-id', 'default', '--base-url', s.sandbox.url, '--identity-token-file', s.identityFile, '--activate'],
      env,
      { cwd: h.home },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${profileFile('ci')}\n`);
    expect(r.stderr).toMatch(/wrote .*ci\.json/);
    expect(readProfile('ci')).toEqual({
      version: '1.0',
      organization_id: ORG,
      workspace_id: 'default',
      base_url: s.sandbox.url,
      authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_sandbox', service_account_id: 'svac_sandbox', identity_token: { source: 'file', path: s.identityFile } },
    });
    expect(readFileSync(join(h.configDir, 'active_config'), 'utf8').trim()).toBe('ci');
    // No temp file left behind by the atomic write.
    expect(readFileSync(profileFile('ci'), 'utf8').endsWith('}\n')).toBe(true);

    await s.rotate();
    const n0 = s.sandbox.exchanges.length;
    const sdk = await runSdk(cleanEnv(h.home));
    expect(sdk).toMatchObject({ ok: true });
    expect(s.sandbox.exchanges.length - n0).toBe(1);
    expect(s.sandbox.exchanges.at(-1)!.status).toBe(200);
    // … and claude-wif reads the same profile (and the SDK's cached token).
    const tok = await runBin(['token'], cleanEnv(h.home));
    expect(tok.code).toBe(0);
    expect(s.sandbox.exchanges.length - n0).toBe(1);
  });

  it('fails fast off a terminal, naming every missing flag', async () => {
    const r = await runBin(['configure', '--profile', 'p', '--identity-source', 'file'], env, { cwd: h.home });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/needs --organization-id, --federation-rule-id, --identity-token-file: stdin and stderr are not both a terminal/);
    expect(r.stderr).toContain('(usage_error, exit 2)');
    expect(existsSync(profileFile('p'))).toBe(false);
  });

  it('validates ids, base URLs and option flags as given', async () => {
    const base = ['configure', '--organization-id', ORG, '--federation-rule-id', 'fdrl_x'];
    const badRule = await runBin(['configure', '--organization-id', ORG, '--federation-rule-id', 'rule_1'], env, { cwd: h.home });
    expect(badRule.code).toBe(2);
    expect(badRule.stderr).toMatch(/federation_rule_id "rule_1" \(from flag --federation-rule-id\) is not a valid id: expected fdrl_/);
    const badOrg = await runBin(['configure', '--organization-id', 'acme', '--federation-rule-id', 'fdrl_x'], env, { cwd: h.home });
    expect(badOrg.stderr).toMatch(/organization_id "acme".*UUID/);
    const http = await runBin([...base, '--base-url', 'http://api.example.test'], env, { cwd: h.home });
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/must use https/);
    const wrongOption = await runBin([...base, '--identity-source', 'file', '--identity-token-file', '/x', '--audience', 'a'], env, { cwd: h.home });
    expect(wrongOption.stderr).toMatch(/--audience does not apply to the file identity source/);
    const unknown = await runBin([...base, '--identity-source', 'carrier-pigeon'], env, { cwd: h.home });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown identity source "carrier-pigeon"/);
    expect(existsSync(profileFile())).toBe(false);
  });

  it('edits in place: keeps unknown keys, shows a diff first, changes only what was given', async () => {
    mkdirSync(join(h.configDir, 'configs'), { recursive: true });
    const before = {
      version: '1.0',
      organization_id: ORG,
      team_note: 'kept',
      authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_old', identity_token: { source: 'file', path: '/var/run/t' }, x_vendor: 1 },
      claude_wif: { check_jti: false, future_setting: { a: 1 } },
    };
    writeFileSync(profileFile(), JSON.stringify(before, null, 2));
    const r = await runBin(['configure', '--federation-rule-id', 'fdrl_new', '--identity-source', 'env', '--identity-variable', 'MY_JWT'], env, { cwd: h.home });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Changes to .*default\.json:/);
    expect(r.stderr).toMatch(/^- +"federation_rule_id": "fdrl_old",$/m);
    expect(r.stderr).toMatch(/^\+ +"federation_rule_id": "fdrl_new"/m);
    const after = readProfile();
    expect(after).toEqual({
      version: '1.0',
      organization_id: ORG,
      team_note: 'kept',
      authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_new', x_vendor: 1 },
      claude_wif: { check_jti: false, future_setting: { a: 1 }, identity: { source: 'env', variable: 'MY_JWT' } },
    });
    // Unchanged run: nothing to write, no diff.
    const again = await runBin(['configure', '--federation-rule-id', 'fdrl_new'], env, { cwd: h.home });
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/is unchanged/);
    // The SDK still loads it (claude_wif is ignored; the identity token comes from its env var).
    const { defaultCredentials } = await import('@anthropic-ai/sdk/lib/credentials/credential-chain');
    const prev = { ...process.env };
    try {
      Object.assign(process.env, { HOME: h.home, ANTHROPIC_PROFILE: 'default', ANTHROPIC_IDENTITY_TOKEN_FILE: s.identityFile });
      const creds = await defaultCredentials({ baseURL: 'https://api.anthropic.com' } as never);
      expect(creds?.provider).toBeTypeOf('function');
    } finally {
      for (const k of Object.keys(process.env)) if (!(k in prev)) delete process.env[k];
      Object.assign(process.env, prev);
    }
  });

  it('never writes an identity_token source the SDKs reject, whatever the source', async () => {
    const base = ['configure', '--organization-id', ORG, '--federation-rule-id', 'fdrl_x'];
    for (const [source, extra] of [
      ['auto', []],
      ['env', []],
      ['file', ['--identity-token-file', 'rel/token.jwt']],
    ] as const) {
      const r = await runBin([...base, '--identity-source', source, ...extra], env, { cwd: h.home });
      expect(r.code, r.stderr).toBe(0);
      const p = readProfile();
      const it = p['authentication']['identity_token'];
      if (source === 'file') expect(it).toEqual({ source: 'file', path: join(h.home, 'rel/token.jwt') });
      else expect(it).toBeUndefined();
      if (source !== 'file') expect(p['claude_wif']['identity']['source']).toBe(source);
    }
  });

  it('--dry-run prints the document and writes nothing; unreadable profiles are never overwritten', async () => {
    const r = await runBin(['configure', '--organization-id', ORG, '--federation-rule-id', 'fdrl_x', '--dry-run'], env, { cwd: h.home });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ organization_id: ORG, authentication: { federation_rule_id: 'fdrl_x' } });
    expect(existsSync(profileFile())).toBe(false);
    mkdirSync(join(h.configDir, 'configs'), { recursive: true });
    writeFileSync(profileFile(), '{ not json');
    const bad = await runBin(['configure', '--organization-id', ORG, '--federation-rule-id', 'fdrl_x'], env, { cwd: h.home });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/not valid JSON.*will not overwrite/);
    expect(readFileSync(profileFile(), 'utf8')).toBe('{ not json');
  });
});

const noTmux = missingTool('tmux', 'needed to drive configure on a pseudo-terminal');
describe.skipIf(noTmux)(`configure on a terminal${noTmux ? ` — skipped: ${noTmux}` : ''}`, () => {
  it('asks on stderr with defaults, validates ids as typed, offers the detected source, and writes after a diff', async () => {
    const term = new Tmux(h.home);
    try {
      const ttyEnv = { ...env, TERM: 'xterm', ANTHROPIC_IDENTITY_TOKEN_FILE: s.identityFile, NO_COLOR: '1' };
      term.start([process.execPath, BIN, 'configure'], ttyEnv, h.home);
      await term.waitFor(/Profile name \[default\]: $/m);
      term.send('inter', 'Enter');
      await term.waitFor(/Creating profile "inter"/);
      await term.waitFor(/Organization ID \(a UUID\): $/m);
      term.send('not-a-uuid', 'Enter');
      await term.waitFor(/organization_id "not-a-uuid" is not a valid id/);
      term.send(ORG, 'Enter');
      await term.waitFor(/Federation rule ID \(fdrl_…\): $/m);
      term.send('fdrl_sandbox', 'Enter');
      await term.waitFor(/Service account ID \(svac_…\) \(optional\): $/m);
      term.send('svac_sandbox', 'Enter');
      await term.waitFor(/Workspace ID .*\(optional\): $/m);
      term.send('default', 'Enter');
      await term.waitFor(/Base URL \[https:\/\/api\.anthropic\.com\]: $/m);
      term.send(s.sandbox.url, 'Enter');
      const detected = await term.waitFor(/Identity source \[file\]: $/m);
      expect(detected).toMatch(/auto-detection finds file here \(ANTHROPIC_IDENTITY_TOKEN_FILE is set\)/);
      term.send('kubernets', 'Enter');
      await term.waitFor(/"kubernets" is not a choice \(did you mean "kubernetes"\?\); choose one of: /);
      term.send('', 'Enter');
      await term.waitFor(new RegExp(`Identity token file .*\\[${s.identityFile.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\]: $`, 'm'));
      term.send('', 'Enter');
      await term.waitFor(/Token cache \[file\]: $/m);
      term.send('', 'Enter');
      await term.waitFor(/Make "inter" the active profile .*\[y\/N\]: $/m);
      term.send('y', 'Enter');
      expect(await term.exitStatus()).toBe(0);
      const screen = term.screen();
      expect(screen).toMatch(/wrote .*inter\.json/);
      assertNoSecrets(screen, [readFileSync(s.identityFile, 'utf8').trim()]);
    } finally {
      term.kill();
    }
    expect(readProfile('inter')).toEqual({
      version: '1.0',
      organization_id: ORG,
      workspace_id: 'default',
      base_url: s.sandbox.url,
      authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_sandbox', service_account_id: 'svac_sandbox', identity_token: { source: 'file', path: s.identityFile } },
    });
    expect(readFileSync(join(h.configDir, 'active_config'), 'utf8').trim()).toBe('inter');
    await s.rotate();
    expect(await runSdk(cleanEnv(h.home))).toMatchObject({ ok: true });

    // Editing it again: the diff is shown, and "n" writes nothing.
    const term2 = new Tmux(h.home, 'edit');
    try {
      term2.start([process.execPath, BIN, '--profile', 'inter', 'configure', '--identity-source', 'file', '--cache', 'file'], { ...env, TERM: 'xterm', NO_COLOR: '1' }, h.home);
      await term2.waitFor(/Organization ID \(a UUID\) \[00000000-0000-4000-8000-000000000001\]: $/m);
      term2.send('', 'Enter');
      await term2.waitFor(/Federation rule ID .*\[fdrl_sandbox\]: $/m);
      term2.send('fdrl_other', 'Enter');
      await term2.waitFor(/Service account ID .*\("-" to clear\) \[svac_sandbox\]: $/m);
      term2.send('-', 'Enter');
      await term2.waitFor(/Workspace ID .*\[default\]: $/m);
      term2.send('', 'Enter');
      await term2.waitFor(/Base URL/);
      term2.send('', 'Enter');
      const diff = await term2.waitFor(/Write these changes\? \[Y\/n\]: $/m);
      expect(diff).toMatch(/^- +"federation_rule_id": "fdrl_sandbox",$/m);
      expect(diff).toMatch(/^\+ +"federation_rule_id": "fdrl_other"/m);
      expect(diff).toMatch(/^- +"service_account_id": "svac_sandbox",$/m);
      term2.send('n', 'Enter');
      expect(await term2.exitStatus()).toBe(0);
    } finally {
      term2.kill();
    }
    expect(readProfile('inter')['authentication']['federation_rule_id']).toBe('fdrl_sandbox');
  }, 60_000);

  it('Ctrl-D cancels without writing', async () => {
    const term = new Tmux(h.home);
    try {
      term.start([process.execPath, BIN, '--profile', 'x', 'configure'], { ...env, TERM: 'xterm' }, h.home);
      await term.waitFor(/Organization ID/);
      term.send('', 'C-d');
      expect(await term.exitStatus()).toBe(2);
      expect(term.screen()).toMatch(/configure was cancelled; nothing was written/);
    } finally {
      term.kill();
    }
    expect(existsSync(profileFile('x'))).toBe(false);
  }, 30_000);
});
