import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolvePlan } from '../../src/core/resolve.js';
import { WifError } from '../../src/util/errors.js';
import { tempHome, type TempHome } from '../helpers/env.js';

const ORG = '11111111-2222-4333-8444-555555555555';
let h: TempHome;
beforeEach(() => {
  h = tempHome();
});
afterEach(() => h.cleanup());

function writeProfile(name: string, body: Record<string, unknown>, dir = h.configDir): string {
  mkdirSync(join(dir, 'configs'), { recursive: true });
  const p = join(dir, 'configs', `${name}.json`);
  writeFileSync(p, JSON.stringify(body));
  return p;
}

const fed = (extra: Record<string, unknown> = {}, auth: Record<string, unknown> = {}) => ({
  version: '1.0',
  organization_id: ORG,
  authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_profile', identity_token: { source: 'file', path: '/p/token' }, ...auth },
  ...extra,
});

const envFed = { ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_env', ANTHROPIC_ORGANIZATION_ID: ORG, ANTHROPIC_IDENTITY_TOKEN_FILE: '/e/token' };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof WifError) return err.code;
    throw err;
  }
  return 'no error';
}

describe('config dir', () => {
  it('follows ANTHROPIC_CONFIG_DIR, then XDG_CONFIG_HOME, then ~/.config/anthropic', () => {
    writeProfile('default', fed());
    expect(resolvePlan({ env: { HOME: h.home } }).configDir).toEqual({ value: h.configDir, origin: 'default (~/.config/anthropic)' });
    const xdg = join(h.home, 'xdg');
    writeProfile('default', fed(), join(xdg, 'anthropic'));
    expect(resolvePlan({ env: { HOME: h.home, XDG_CONFIG_HOME: xdg } }).configDir.value).toBe(join(xdg, 'anthropic'));
    const explicit = join(h.home, 'explicit');
    writeProfile('default', fed(), explicit);
    expect(resolvePlan({ env: { HOME: h.home, XDG_CONFIG_HOME: xdg, ANTHROPIC_CONFIG_DIR: explicit } }).configDir.origin).toBe('env ANTHROPIC_CONFIG_DIR');
    expect(resolvePlan({ env: { HOME: h.home }, configDir: explicit }).configDir.origin).toBe('flag --config-dir');
  });

  it('uses %APPDATA%\\Anthropic on Windows', () => {
    const appdata = join(h.home, 'AppData');
    writeProfile('default', fed(), join(appdata, 'Anthropic'));
    expect(resolvePlan({ env: { HOME: h.home, APPDATA: appdata }, platform: 'win32' }).configDir.value).toBe(join(appdata, 'Anthropic'));
  });

  it('warns when XDG and ~/.config both hold profiles (the Python SDK ignores XDG_CONFIG_HOME)', () => {
    const xdg = join(h.home, 'xdg');
    writeProfile('default', fed(), join(xdg, 'anthropic'));
    writeProfile('default', fed());
    const plan = resolvePlan({ env: { HOME: h.home, XDG_CONFIG_HOME: xdg } });
    expect(plan.warnings.join('\n')).toMatch(/Python SDK/);
  });
});

describe('precedence (spec §4)', () => {
  it('an explicitly named profile beats the federation env vars', () => {
    writeProfile('named', fed());
    const plan = resolvePlan({ env: { HOME: h.home, ...envFed, ANTHROPIC_PROFILE: 'named' } });
    expect(plan.selection.via).toBe('env ANTHROPIC_PROFILE');
    expect(plan.federationRuleId).toEqual({ value: 'fdrl_profile', origin: `profile ${join(h.configDir, 'configs', 'named.json')} (authentication.federation_rule_id)` });
    const viaFlag = resolvePlan({ env: { HOME: h.home, ...envFed, ANTHROPIC_PROFILE: 'other' }, profile: 'named' });
    expect(viaFlag.selection.via).toBe('flag --profile');
  });

  it('a missing named profile is an error (profile_not_found), never a fallback', () => {
    expect(codeOf(() => resolvePlan({ env: { HOME: h.home, ...envFed, ANTHROPIC_PROFILE: 'nope' } }))).toBe('profile_not_found');
    expect(codeOf(() => resolvePlan({ env: { HOME: h.home }, profile: 'nope' }))).toBe('profile_not_found');
  });

  it('federation env vars beat the implicit profile, and say that they did', () => {
    writeProfile('default', fed());
    const plan = resolvePlan({ env: { HOME: h.home, ...envFed } });
    expect(plan.selection.via).toBe('federation env vars');
    expect(plan.federationRuleId?.value).toBe('fdrl_env');
    expect(plan.cache.kind).toBe('claude-wif-cache');
    expect(plan.notes.join('\n')).toMatch(/implicit profile "default".*also exists/);
  });

  it('env vars without an identity token do not beat the implicit profile', () => {
    writeProfile('default', fed());
    const { ANTHROPIC_IDENTITY_TOKEN_FILE: _omit, ...partial } = envFed;
    const plan = resolvePlan({ env: { HOME: h.home, ...partial } });
    expect(plan.selection.via).toBe('default profile');
    expect(plan.federationRuleId?.value).toBe('fdrl_profile');
  });

  it('active_config names the implicit profile', () => {
    writeProfile('ci', fed());
    writeFileSync(join(h.configDir, 'active_config'), '  ci\n');
    const plan = resolvePlan({ env: { HOME: h.home } });
    expect(plan.selection.via).toBe('active_config');
    expect(plan.profile?.name).toBe('ci');
  });

  it('inside a profile, env vars fill gaps and never override', () => {
    writeProfile('default', fed({ workspace_id: 'wrkspc_file' }, { identity_token: undefined }));
    const plan = resolvePlan({
      env: { HOME: h.home, ANTHROPIC_WORKSPACE_ID: 'wrkspc_env', ANTHROPIC_SERVICE_ACCOUNT_ID: 'svac_env', ANTHROPIC_IDENTITY_TOKEN_FILE: '/env/file', ANTHROPIC_BASE_URL: 'https://example.test/' },
    });
    expect(plan.workspaceId?.value).toBe('wrkspc_file');
    expect(plan.serviceAccountId).toEqual({ value: 'svac_env', origin: 'env ANTHROPIC_SERVICE_ACCOUNT_ID' });
    expect(plan.identity?.options['path']).toBe('/env/file');
    expect(plan.identity?.optionOrigins['path']).toBe('env ANTHROPIC_IDENTITY_TOKEN_FILE');
    expect(plan.baseUrl).toEqual({ value: 'https://example.test', origin: 'env ANTHROPIC_BASE_URL' });
  });

  it('empty values count as unset', () => {
    writeProfile('default', fed());
    const plan = resolvePlan({ env: { HOME: h.home, ANTHROPIC_PROFILE: '', ANTHROPIC_WORKSPACE_ID: '', ANTHROPIC_FEDERATION_RULE_ID: '' } });
    expect(plan.selection.via).toBe('default profile');
    expect(plan.workspaceId).toBeUndefined();
  });

  it('nothing configured is config_missing with a fix', () => {
    let err: WifError | undefined;
    try {
      resolvePlan({ env: { HOME: h.home } });
    } catch (e) {
      err = e as WifError;
    }
    expect(err?.code).toBe('config_missing');
    expect(err?.exitCode).toBe(2);
    expect(err?.hint).toMatch(/claude-wif configure|sandbox/);
  });
});

describe('validation', () => {
  it.each([
    ['profile name with a slash', { profile: '../etc' }],
    ['profile name with a leading dot', { profile: '.hidden' }],
  ])('rejects %s', (_n, input) => {
    expect(codeOf(() => resolvePlan({ env: { HOME: h.home }, ...input }))).toBe('config_invalid');
  });

  it.each([
    ['federation_rule_id', fed({}, { federation_rule_id: 'rule-1' })],
    ['service_account_id', fed({}, { service_account_id: 'sa_1' })],
    ['workspace_id', fed({ workspace_id: 'ws_1' })],
    ['organization_id', fed({ organization_id: 'acme' })],
    ['identity_token.source', fed({}, { identity_token: { source: 'github' } })],
    ['authentication.type', { authentication: { type: 'api_key' } }],
    ['base_url', fed({ base_url: 'ftp://x' })],
  ])('rejects a malformed %s in the profile', (_n, body) => {
    writeProfile('default', body as Record<string, unknown>);
    expect(codeOf(() => resolvePlan({ env: { HOME: h.home } }))).toBe('config_invalid');
  });

  it('accepts the literal "default" workspace and rejects malformed env ids', () => {
    writeProfile('default', fed({ workspace_id: 'default' }));
    expect(resolvePlan({ env: { HOME: h.home } }).workspaceId?.value).toBe('default');
    expect(codeOf(() => resolvePlan({ env: { HOME: h.home, ...envFed, ANTHROPIC_FEDERATION_RULE_ID: 'nope' } }))).toBe('config_invalid');
  });

  it('invalid JSON names the file', () => {
    mkdirSync(join(h.configDir, 'configs'), { recursive: true });
    writeFileSync(join(h.configDir, 'configs', 'default.json'), '{ nope');
    expect(() => resolvePlan({ env: { HOME: h.home } })).toThrow(/default\.json.*not valid JSON/);
  });

  it('keeps claude-wif settings under "claude_wif" and validates them', () => {
    writeProfile('default', fed({ claude_wif: { identity: { source: 'env', variable: 'MY_JWT' }, check_jti: false } }));
    const plan = resolvePlan({ env: { HOME: h.home } });
    expect(plan.identity?.source.value).toBe('env');
    expect(plan.identity?.options['variable']).toBe('MY_JWT');
    expect(plan.checkJti.enabled).toBe(false);
    writeProfile('default', fed({ claude_wif: { cache: 'vault' } }));
    expect(codeOf(() => resolvePlan({ env: { HOME: h.home } }))).toBe('config_invalid');
  });
});

describe('identity source', () => {
  it('flag beats env beats profile beats identity_token', () => {
    writeProfile('default', fed({ claude_wif: { identity: { source: 'env' } } }));
    expect(resolvePlan({ env: { HOME: h.home } }).identity?.source.value).toBe('env');
    expect(resolvePlan({ env: { HOME: h.home, CLAUDE_WIF_IDENTITY_SOURCE: 'file' } }).identity?.source.origin).toBe('env CLAUDE_WIF_IDENTITY_SOURCE');
    expect(resolvePlan({ env: { HOME: h.home, CLAUDE_WIF_IDENTITY_SOURCE: 'env' }, identitySource: 'file' }).identity?.source.origin).toBe('flag --identity-source');
  });

  it('unknown sources are usage errors listing the known ones', () => {
    writeProfile('default', fed());
    let err: WifError | undefined;
    try {
      resolvePlan({ env: { HOME: h.home }, identitySource: 'carrier-pigeon' });
    } catch (e) {
      err = e as WifError;
    }
    expect(err?.code).toBe('usage_error');
    expect(err?.hint).toMatch(/choose one of: .*file.*env/);
  });

  it('falls back to ANTHROPIC_IDENTITY_TOKEN, then auto', () => {
    writeProfile('default', fed({}, { identity_token: undefined }));
    expect(resolvePlan({ env: { HOME: h.home, ANTHROPIC_IDENTITY_TOKEN: 'x' } }).identity?.source.value).toBe('env');
    expect(resolvePlan({ env: { HOME: h.home } }).identity?.source.value).toBe('auto');
  });
});

describe('cache plan', () => {
  it('file-backed profiles use the SDK credentials file; the key changes with every token-shaping input', () => {
    writeProfile('default', fed());
    const a = resolvePlan({ env: { HOME: h.home } });
    expect(a.cache.path).toBe(join(h.configDir, 'credentials', 'default.json'));
    const b = resolvePlan({ env: { HOME: h.home, ANTHROPIC_WORKSPACE_ID: 'wrkspc_other' } });
    expect(b.cache.path).toBe(a.cache.path);
    expect(b.cache.key).not.toBe(a.cache.key);
  });

  it('honours authentication.credentials_path', () => {
    writeProfile('default', fed({}, { credentials_path: '/somewhere/creds.json' }));
    expect(resolvePlan({ env: { HOME: h.home } }).cache.path).toBe('/somewhere/creds.json');
  });

  it('env-only plans get a keyed file in the claude-wif cache dir', () => {
    const plan = resolvePlan({ env: { HOME: h.home, ...envFed } });
    expect(plan.cache.path).toBe(join(h.cacheDir, 'tokens', `${plan.cache.key}.json`));
    const other = resolvePlan({ env: { HOME: h.home, ...envFed, ANTHROPIC_WORKSPACE_ID: 'wrkspc_b' } });
    expect(other.cache.path).not.toBe(plan.cache.path);
  });
});

describe('warnings', () => {
  it('warns about variables that shadow federation', () => {
    writeProfile('default', fed());
    const plan = resolvePlan({ env: { HOME: h.home, ANTHROPIC_API_KEY: 'sk-ant-api03-x', ANTHROPIC_AUTH_TOKEN: 't' } });
    expect(plan.warnings.filter((w) => /ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN/.test(w))).toHaveLength(2);
    expect(plan.warnings.join('\n')).not.toContain('sk-ant-api03-x');
  });
});
