import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IDENTITY_MATERIAL, type IdentityMaterial } from '../../src/identity/material.js';
import { SOURCE_LIST } from '../../src/identity/names.js';
import { identityMaterial, looksLikeJwt } from '../../src/run/identity-material.js';
import { buildChildEnv, childEnvPlan } from '../../src/run/exec/child.js';
import { ROOT } from '../helpers/cli.js';

const JWT = `${Buffer.from('{"alg":"RS256","kid":"k"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2ln`;

/** Every name a declaration covers, material or config. */
function declared(m: IdentityMaterial): { names: Set<string>; prefixes: string[] } {
  const names = new Set<string>([...(m.vars ?? []), ...(m.pathVars ?? []), ...(m.config ?? []), ...(m.whenActive?.vars ?? []), ...(m.whenActive?.pathVars ?? [])]);
  return { names, prefixes: [...(m.prefixes ?? [])] };
}

describe('identity material declarations (a new source cannot forget its variables)', () => {
  it('every source in the registry has a declaration', () => {
    for (const s of SOURCE_LIST) expect(IDENTITY_MATERIAL[s], s).toBeDefined();
  });

  it('every upper-case variable name a source file mentions is declared as material or config', () => {
    const dir = join(ROOT, 'src', 'identity');
    const all = Object.values(IDENTITY_MATERIAL).map(declared);
    const problems: string[] = [];
    let seen = 0;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && n !== 'material.ts')) {
      const text = readFileSync(join(dir, f), 'utf8');
      if (!/\benv\b/.test(text)) continue; // never reads the environment (grpc.ts: status names)
      const base = f.replace(/\.ts$/, '');
      const own = (SOURCE_LIST as readonly string[]).includes(base) ? IDENTITY_MATERIAL[base as (typeof SOURCE_LIST)[number]] : undefined;
      // A source's own file must declare its names itself; shared helpers (detect, common, …) may rely on any source's.
      const scopes = own ? [declared(own)] : all;
      for (const m of text.matchAll(/['"`]([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+_?)['"`]/g)) {
        const name = m[1]!;
        if (/^(ERR_[A-Z_]+|MODULE_NOT_FOUND)$/.test(name)) continue; // Node's error codes, not variables
        seen++;
        const ok = scopes.some((d) => d.names.has(name) || d.prefixes.some((p) => name === p || name.startsWith(`${p}_`) || `${name}` === `${p}_`));
        if (!ok) problems.push(`${f}: ${name}`);
      }
    }
    expect(seen).toBeGreaterThan(30); // the scan really reads the sources
    expect(problems).toEqual([]);
  });
});

describe('identityMaterial', () => {
  const ISSUE_LIST = {
    ACTIONS_ID_TOKEN_REQUEST_URL: 'https://pipelines.example/idtoken?api-version=2.0',
    ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'ghs-request-token',
    IDENTITY_ENDPOINT: 'http://127.0.0.1:41000/msi/token',
    IDENTITY_HEADER: 'azure-header-secret',
    AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
    TFC_WORKLOAD_IDENTITY_TOKEN: JWT,
    TFC_WORKLOAD_IDENTITY_TOKEN_ANTHROPIC: JWT,
    CIRCLE_OIDC_TOKEN: JWT,
    CIRCLE_OIDC_TOKEN_V2: JWT,
    SPIFFE_ENDPOINT_SOCKET: 'unix:///run/spire/sockets/agent.sock',
    ANTHROPIC_IDENTITY_TOKEN: JWT,
    ANTHROPIC_IDENTITY_TOKEN_FILE: '/var/run/secrets/anthropic.com/token',
    BUILDKITE_AGENT_ACCESS_TOKEN: 'bk-agent-token',
    MY_GITLAB_JWT: JWT,
    // kept: not identity material
    AZURE_CLIENT_ID: 'client',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    PATH: '/usr/bin',
  };

  it('removes every platform identity variable, and any variable holding a JWT', () => {
    const m = identityMaterial({ env: { ...ISSUE_LIST, HOME: '/home/u' } });
    expect(m.vars).toEqual(
      [
        'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
        'ACTIONS_ID_TOKEN_REQUEST_URL',
        'ANTHROPIC_IDENTITY_TOKEN',
        'ANTHROPIC_IDENTITY_TOKEN_FILE',
        'AZURE_FEDERATED_TOKEN_FILE',
        'BUILDKITE_AGENT_ACCESS_TOKEN',
        'CIRCLE_OIDC_TOKEN',
        'CIRCLE_OIDC_TOKEN_V2',
        'IDENTITY_ENDPOINT',
        'IDENTITY_HEADER',
        'MY_GITLAB_JWT',
        'SPIFFE_ENDPOINT_SOCKET',
        'TFC_WORKLOAD_IDENTITY_TOKEN',
        'TFC_WORKLOAD_IDENTITY_TOKEN_ANTHROPIC',
      ].sort(),
    );
    // the files and sockets those variables name, and the fixed platform files
    expect(m.files).toEqual(
      expect.arrayContaining([
        '/var/run/secrets/azure/tokens/azure-identity-token',
        '/run/spire/sockets/agent.sock',
        '/var/run/secrets/anthropic.com/token',
        '/var/run/secrets/kubernetes.io/serviceaccount/token',
      ]),
    );
    // AWS keys are general-purpose: kept unless the plan's source is aws
    expect(m.vars).not.toContain('AWS_ACCESS_KEY_ID');
    expect(m.files).not.toContain('/home/u/.aws');
    expect(m.endpoints).toContain('http://169.254.169.254');
  });

  it('the GitLab id-token variable the profile names, and the active source’s files', () => {
    const env = { CI_SERVER_URL: 'https://gitlab.example', ANTHROPIC_JWT: 'not-yet-a-jwt', HOME: '/home/u' };
    expect(identityMaterial({ env, identity: { source: 'gitlab', options: { variable: 'ANTHROPIC_JWT' } } }).vars).toEqual(['ANTHROPIC_JWT']);
    expect(identityMaterial({ env, identity: { source: 'okta', options: { private_key_path: '~/okta/key.pem' } } }).files).toContain('/home/u/okta/key.pem');
    const aws = identityMaterial({ env: { AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'eu-west-1', HOME: '/home/u' }, identity: { source: 'aws', options: {} } });
    expect(aws.vars).toEqual(['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']);
    expect(aws.files).toContain('/home/u/.aws');
  });

  it('--pass-env lets one named variable (and the file it names) through, nothing else', () => {
    const m = identityMaterial({ env: ISSUE_LIST, pass: ['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'AZURE_FEDERATED_TOKEN_FILE', 'PATH'] });
    expect(m.passed).toEqual(['ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'ACTIONS_ID_TOKEN_REQUEST_URL', 'AZURE_FEDERATED_TOKEN_FILE']);
    expect(m.vars).not.toContain('ACTIONS_ID_TOKEN_REQUEST_TOKEN');
    expect(m.vars).toContain('IDENTITY_HEADER');
    expect(m.files).not.toContain('/var/run/secrets/azure/tokens/azure-identity-token');
  });

  it('the child environment: material deleted, the mode’s own assignments still win', () => {
    const parent = { ...ISSUE_LIST };
    const m = identityMaterial({ env: parent });
    const plan = childEnvPlan(parent, { mode: [{ name: 'ANTHROPIC_IDENTITY_TOKEN_FILE', value: '/private/jwt' }], baseUrl: 'https://api.anthropic.com', marker: 'p', scrub: true, identity: m.vars });
    const child = buildChildEnv(parent, plan);
    expect(child['ANTHROPIC_IDENTITY_TOKEN_FILE']).toBe('/private/jwt');
    for (const name of m.vars.filter((n) => n !== 'ANTHROPIC_IDENTITY_TOKEN_FILE')) expect(child, name).not.toHaveProperty(name);
    expect(child['AZURE_CLIENT_ID']).toBe('client');
  });

  it('looksLikeJwt', () => {
    expect(looksLikeJwt(JWT)).toBe(true);
    expect(looksLikeJwt(`${JWT}\n`)).toBe(true);
    expect(looksLikeJwt('a.b.c')).toBe(false);
    expect(looksLikeJwt('www.example.com')).toBe(false);
    expect(looksLikeJwt('1.2.3')).toBe(false);
    expect(looksLikeJwt(`${Buffer.from('{"typ":"x"}').toString('base64url')}.e30.sig`)).toBe(false);
  });
});
