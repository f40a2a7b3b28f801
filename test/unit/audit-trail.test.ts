import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { getAccessToken, type CoreDeps } from '../../src/core/credentials.js';
import { resolvePlan } from '../../src/core/resolve.js';
import { auditSink, recordExchange } from '../../src/audit/trail.js';
import type { ExchangeEvent } from '../../src/audit/event.js';
import { createLogger } from '../../src/util/log.js';
import { assertNoSecrets, failure, fakeClock } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';
import { sandboxWithProfile, type SandboxSetup } from '../helpers/sandbox.js';

let h: TempHome;
let s: SandboxSetup;
const clock = fakeClock(Date.now());
let stderr = '';
const deps = (env: Record<string, string>, component = 'token'): CoreDeps => ({
  env: { HOME: h.home, ...env },
  clock,
  log: createLogger({ write: (x: string) => (stderr += x) }, 'info'),
  userAgent: 'claude-wif-test',
  component,
});
const lines = (file: string): ExchangeEvent[] => readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as ExchangeEvent);

beforeAll(async () => {
  h = tempHome();
  s = await sandboxWithProfile(h.configDir, { now: () => clock.now() });
  s.writeProfile('default');
  const base = s.sandbox.profile({ identityTokenPath: s.identityFile }) as { authentication: Record<string, unknown> };
  // A rule the endpoint does not know: a real 401 denial from the sandbox.
  s.writeProfile('denied', { authentication: { ...base.authentication, federation_rule_id: 'fdrl_nosuchrule' } });
});
afterAll(async () => {
  await s.sandbox.close();
  h.cleanup();
});
beforeEach(() => {
  stderr = '';
});

describe('audit trail', () => {
  it('writes one event per exchange that joins with what the token endpoint saw, and never a secret', async () => {
    const log = join(h.home, 'audit', 'exchanges.jsonl');
    const env = { CLAUDE_WIF_AUDIT_LOG: log };
    const jwt = await s.rotate();
    const before = s.sandbox.exchanges.length;
    const t = await getAccessToken(resolvePlan({ env: { HOME: h.home, ...env } }), { forceRefresh: true }, deps(env));
    // A cache hit is no exchange, and writes nothing.
    await getAccessToken(resolvePlan({ env: { HOME: h.home, ...env } }), {}, deps(env));
    expect(s.sandbox.exchanges.length - before).toBe(1);
    const events = lines(log);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    const seen = s.sandbox.exchanges[s.sandbox.exchanges.length - 1]!;
    const claims = decodeJwt(jwt);
    expect(e).toMatchObject({
      v: 1,
      event: 'exchange',
      component: 'token',
      outcome: 'success',
      error_code: null,
      profile: 'default',
      identity_source: 'file',
      iss: claims.iss,
      sub: claims.sub,
      aud: [claims.aud].flat(),
      jti_sha256: createHash('sha256').update(String(claims.jti)).digest('hex').slice(0, 16),
      federation_rule_id: 'fdrl_sandbox',
      endpoint_host: new URL(s.sandbox.url).host,
      request_id: seen.request_id,
      token_expires_at: new Date(t.expiresAt! * 1000).toISOString(),
      process: { pid: process.pid, ppid: process.ppid },
    });
    expect(Date.parse(e.time)).toBe(clock.now());
    expect(statSync(log).mode & 0o777).toBe(0o600);
    assertNoSecrets(readFileSync(log, 'utf8'), [jwt, t.token, String(claims.jti)]);
  });

  it('records a refused exchange with its error code, status and request-id', async () => {
    const log = join(h.home, 'audit', 'denied.jsonl');
    const env = { CLAUDE_WIF_AUDIT_LOG: log };
    const jwt = await s.rotate();
    const err = await failure(getAccessToken(resolvePlan({ env: { HOME: h.home, ...env }, profile: 'denied' }), {}, deps(env, 'env')));
    expect(err.code).toBe('exchange_denied');
    const [e] = lines(log);
    expect(e).toMatchObject({ component: 'env', outcome: 'failure', error_code: 'exchange_denied', http_status: 401, profile: 'denied', federation_rule_id: 'fdrl_nosuchrule', token_expires_at: null, request_id: s.sandbox.exchanges[s.sandbox.exchanges.length - 1]!.request_id });
    assertNoSecrets(readFileSync(log, 'utf8'), [jwt]);
  });

  it('records an identity failure (nothing was sent)', async () => {
    const log = join(h.home, 'audit', 'identity.jsonl');
    const env = { CLAUDE_WIF_AUDIT_LOG: log, ANTHROPIC_IDENTITY_TOKEN_FILE: join(h.home, 'missing.jwt') };
    const p = resolvePlan({ env: { HOME: h.home, ...env }, identitySource: 'file' });
    // The default profile names its own file; point it at one that does not exist.
    writeFileSync(s.identityFile, 'not a jwt\n', { mode: 0o600 });
    await failure(getAccessToken(p, { forceRefresh: true }, deps(env, 'exec')));
    const [e] = lines(log);
    expect(e).toMatchObject({ component: 'exec', outcome: 'failure', sub: null, request_id: null });
    expect(e!.error_code).toMatch(/^identity_/);
    await s.rotate();
  });

  it('takes the sink from the profile (claude_wif.audit_log) when the environment names none; stderr works too', () => {
    const file = s.writeProfile('logged', { claude_wif: { audit_log: '~/logs/wif.jsonl' } });
    const plan = resolvePlan({ env: { HOME: h.home }, profile: 'logged' });
    expect(auditSink({ HOME: h.home }, plan.profile?.file.own, file)).toEqual({ kind: 'file', path: join(h.home, 'logs', 'wif.jsonl'), origin: `profile ${file} (claude_wif.audit_log)` });
    expect(auditSink({ HOME: h.home, CLAUDE_WIF_AUDIT_LOG: 'stderr' }, plan.profile?.file.own, file)?.kind).toBe('stderr');
    expect(auditSink({ HOME: h.home, CLAUDE_WIF_AUDIT_LOG: 'off' }, plan.profile?.file.own, file)).toBeUndefined();
    expect(auditSink({ HOME: h.home })).toBeUndefined();
  });

  it('refuses a log file others can read, a symlink, and one owned by nobody it trusts; the exchange still succeeds', async () => {
    const loose = join(h.home, 'loose.jsonl');
    writeFileSync(loose, '', { mode: 0o644 });
    chmodSync(loose, 0o644);
    const warnings: string[] = [];
    const input = { component: 'test', startedMs: 0, endedMs: 1, outcome: 'success' as const };
    recordExchange(input, { env: { CLAUDE_WIF_AUDIT_LOG: loose }, log: { warn: (m) => warnings.push(m) } });
    expect(readFileSync(loose, 'utf8')).toBe('');
    expect(warnings.join('\n')).toMatch(/mode 644/);
    const link = join(h.home, 'link.jsonl');
    symlinkSync(join(h.home, 'target.jsonl'), link);
    recordExchange(input, { env: { CLAUDE_WIF_AUDIT_LOG: link } });
    expect(existsSync(join(h.home, 'target.jsonl'))).toBe(false);
  });

  it('survives a storm of concurrent writers: every line whole, none lost, file 0600', async () => {
    // The trail module as a standalone bundle, driven by many processes at once.
    const bundle = join(h.home, 'trail.mjs');
    await build({ entryPoints: [join(__dirname, '../../src/audit/trail.ts')], bundle: true, platform: 'node', format: 'esm', outfile: bundle, logLevel: 'warning' });
    const log = join(h.home, 'storm', 'audit.jsonl');
    const WRITERS = 24;
    const EACH = 150;
    // Large lines (~3 KB) make a torn write likely if appends were not atomic.
    const code = `const { recordExchange } = await import(${JSON.stringify(pathToFileURL(bundle).href)});
      const pad = 'x'.repeat(280);
      for (let i = 0; i < ${EACH}; i++) recordExchange({ component: 'storm', startedMs: Date.now(), endedMs: Date.now(), outcome: 'success', claims: { sub: 'writer-' + process.env.W + '-' + i, iss: pad, aud: [pad, pad, pad, pad] }, context: { a: pad, b: pad, c: pad, d: pad, seq: i } }, { env: { CLAUDE_WIF_AUDIT_LOG: ${JSON.stringify(log)} } });`;
    const runs = Array.from({ length: WRITERS }, (_, w) =>
      new Promise<number | null>((resolve, reject) => {
        const c = spawn(process.execPath, ['--input-type=module', '-e', code], { env: { PATH: process.env['PATH'] ?? '', W: String(w) }, stdio: ['ignore', 'ignore', 'inherit'] });
        c.on('error', reject);
        c.on('close', resolve);
      }),
    );
    expect(await Promise.all(runs)).toEqual(Array(WRITERS).fill(0));
    const text = readFileSync(log, 'utf8');
    const raw = text.split('\n');
    expect(raw.pop()).toBe('');
    expect(raw).toHaveLength(WRITERS * EACH);
    const subs = new Set<string>();
    for (const l of raw) {
      const e = JSON.parse(l) as ExchangeEvent;
      subs.add(e.sub!);
      expect(l.length).toBeGreaterThan(2000);
      expect(l.length).toBeLessThan(4096);
    }
    expect(subs.size).toBe(WRITERS * EACH);
    expect(statSync(log).mode & 0o777).toBe(0o600);
  }, 120_000);
});
