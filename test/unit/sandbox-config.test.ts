import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultSandboxConfig, loadSandboxConfig, startSandbox } from '../../src/sandbox/index.js';

const dir = mkdtempSync(join(tmpdir(), 'claude-wif-sandbox-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(content: unknown): string {
  const path = join(dir, `config-${++n}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

const rule = { id: 'fdrl_ci', issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox' };

describe('loadSandboxConfig', () => {
  it('returns a valid partial configuration as written', async () => {
    const cfg = { rules: [{ ...rule, match: { subject_prefix: 'repo:acme/*', claims: { ref: 'refs/heads/main' } }, token_lifetime_seconds: 600 }] };
    expect(await loadSandboxConfig(file(cfg))).toEqual(cfg);
  });

  it.each<[string, unknown, RegExp]>([
    ['not JSON', '{ rules: [', /not valid JSON/],
    ['not an object', '[]', /must be a JSON object/],
    ['unknown top-level key', { rule: [] }, /rule is not a known field/],
    ['bad organization_id', { organization_id: 'acme' }, /organization_id must look like a UUID/],
    ['bad default workspace', { default_workspace_id: 'default' }, /default_workspace_id must look like wrkspc_/],
    ['issuers not an array', { issuers: {} }, /issuers must be an array/],
    ['issuer id without tag', { issuers: [{ id: 'sandbox' }] }, /issuers\[0\]\.id must look like fdis_/],
    ['issuer_url not a URL', { issuers: [{ id: 'fdis_x', issuer_url: 'not a url' }] }, /issuers\[0\]\.issuer_url must be an absolute URL/],
    ['max_jwt_lifetime out of range', { issuers: [{ id: 'fdis_x', max_jwt_lifetime_seconds: 200000 }] }, /issuers\[0\]\.max_jwt_lifetime_seconds must be an integer from 1 to 176400/],
    ['check_jti not boolean', { issuers: [{ id: 'fdis_x', check_jti: 'no' }] }, /issuers\[0\]\.check_jti must be true or false/],
    ['duplicate issuer', { issuers: [{ id: 'fdis_x' }, { id: 'fdis_x' }] }, /issuers\[1\]\.id duplicates/],
    ['service account id', { service_accounts: [{ id: 'sa_1' }] }, /service_accounts\[0\]\.id must look like svac_/],
    ['rule id', { rules: [{ ...rule, id: 'rule-1' }] }, /rules\[0\]\.id must look like fdrl_/],
    ['rule without issuer', { rules: [{ id: 'fdrl_x', service_account_id: 'svac_sandbox' }] }, /rules\[0\]\.issuer_id is required/],
    ['lifetime too short', { rules: [{ ...rule, token_lifetime_seconds: 30 }] }, /rules\[0\]\.token_lifetime_seconds must be an integer from 60 to 86400 \(got 30\)/],
    ['unknown scope', { rules: [{ ...rule, oauth_scope: 'admin' }] }, /rules\[0\]\.oauth_scope must be one of/],
    ['empty workspaces', { rules: [{ ...rule, workspaces: [] }] }, /rules\[0\]\.workspaces must be a non-empty array/],
    ['bad workspace', { rules: [{ ...rule, workspaces: ['wrkspc_a', 'ws'] }] }, /rules\[0\]\.workspaces\[1\] must be wrkspc_/],
    ['non-string claim', { rules: [{ ...rule, match: { claims: { n: 1 } } }] }, /rules\[0\]\.match\.claims\.n must be a string/],
    ['unsupported CEL condition', { rules: [{ ...rule, match: { condition: 'true' } }] }, /rules\[0\]\.match\.condition is not supported/],
    ['typo in match', { rules: [{ ...rule, match: { subject: 'x' } }] }, /rules\[0\]\.match\.subject is not a known field/],
  ])('refuses %s, naming the file and the field', async (_name, content, message) => {
    const path = file(content);
    const err = await loadSandboxConfig(path).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(path);
    expect(err!.message).toMatch(message);
  });

  it('reports a missing file clearly', async () => {
    await expect(loadSandboxConfig(join(dir, 'absent.json'))).rejects.toThrow(/absent\.json: cannot be read \(ENOENT\)/);
  });
});

describe('startSandbox configuration', () => {
  it('fills the documented defaults', async () => {
    const sb = await startSandbox();
    try {
      expect(sb.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(sb.config).toEqual({
        organization_id: '00000000-0000-4000-8000-000000000001',
        default_workspace_id: 'wrkspc_sandboxdefault',
        issuers: [{ id: 'fdis_sandbox', issuer_url: sb.issuerUrl, max_jwt_lifetime_seconds: 3600, check_jti: true }],
        service_accounts: [{ id: 'svac_sandbox', name: expect.any(String) }],
        rules: [
          {
            id: 'fdrl_sandbox',
            issuer_id: 'fdis_sandbox',
            service_account_id: 'svac_sandbox',
            match: { subject_prefix: 'repo:example/*', audience: 'https://api.anthropic.com' },
            oauth_scope: 'workspace:inference',
            token_lifetime_seconds: 3600,
            workspaces: ['wrkspc_sandboxdefault'],
            archived: false,
          },
        ],
        require_federation_beta: true,
      });
    } finally {
      await sb.close();
    }
  });

  it('never shares or mutates the caller’s configuration objects', async () => {
    const given = { rules: [{ ...rule }] };
    const sb = await startSandbox({ config: given });
    try {
      expect(given.rules[0]).toEqual(rule);
      expect(sb.config.rules[0]).not.toBe(given.rules[0]);
      expect(defaultSandboxConfig().rules[0]!.id).toBe('fdrl_sandbox');
    } finally {
      await sb.close();
    }
  });

  it('refuses dangling references before listening', async () => {
    await expect(startSandbox({ config: { rules: [{ ...rule, issuer_id: 'fdis_missing' }] } })).rejects.toThrow(/rules\[0\]\.issuer_id names an unknown issuer/);
    await expect(startSandbox({ config: { rules: [{ ...rule, service_account_id: 'svac_missing' }] } })).rejects.toThrow(/rules\[0\]\.service_account_id names an unknown service account/);
  });

  it('applies runtime changes to Sandbox.config on the next request', async () => {
    const sb = await startSandbox();
    try {
      sb.config.rules.push({ id: 'fdrl_added', issuer_id: 'fdis_sandbox', service_account_id: 'svac_sandbox', token_lifetime_seconds: 120 });
      const res = await fetch(`${sb.url}/v1/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'anthropic-beta': 'oidc-federation-2026-04-01' },
        body: JSON.stringify({
          grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
          assertion: await sb.mint(),
          federation_rule_id: 'fdrl_added',
          organization_id: sb.config.organization_id,
        }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { expires_in: number; scope: string })).toMatchObject({ expires_in: 120, scope: 'workspace:inference' });
    } finally {
      await sb.close();
    }
  });

  it('closes promptly even with a delayed fault in flight', async () => {
    const sb = await startSandbox();
    sb.injectFault({ status: 500, delayMs: 60_000 });
    const pending = fetch(`${sb.url}/v1/oauth/token`, { method: 'POST', body: '{}' }).then(
      (r) => r.status,
      () => 'closed',
    );
    // Wait until the sandbox has taken the fault, i.e. the request is parked in its delay.
    for (;;) {
      const state = (await (await fetch(`${sb.url}/_sandbox/state`)).json()) as { pending_faults: number };
      if (state.pending_faults === 0) break;
    }
    const started = performance.now();
    await sb.close();
    expect(performance.now() - started).toBeLessThan(1000);
    await pending;
    await sb.close(); // idempotent
  });
});
