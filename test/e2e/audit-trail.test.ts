import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { assertNoSecrets } from '../helpers/cli.js';
import { PROFILE, nodeChild, runToEnd, spawnBin, startWorld, type Spawned, type WifWorld } from './exec-helpers.js';

// The audit trail from every exchange path of the built binary (token, env, exec, agent, proxy),
// and the Prometheus /metrics of agent and proxy, parsed with a real parser and held against what
// the sandbox saw.

let world: WifWorld | undefined;
let daemon: Spawned | undefined;
afterEach(async () => {
  if (daemon && daemon.child.exitCode === null && daemon.child.signalCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  daemon = undefined;
  await world?.stop();
  world = undefined;
});

interface Ev {
  component: string;
  outcome: string;
  sub: string | null;
  request_id: string | null;
  profile: string | null;
  process: { pid: number };
}
const events = (file: string): Ev[] => readFileSync(file, 'utf8').trimEnd().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Ev);

type Family = { name: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> };
async function scrape(url: string): Promise<Map<string, Family>> {
  const r = await fetch(`${url}/metrics`);
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(await r.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}
const sum = (f: Family | undefined, match: Record<string, string> = {}): number =>
  (f?.metrics ?? []).filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v)).reduce((a, m) => a + Number(m.value), 0);

async function proxied(url: string, secret: string, agentId: string | undefined, path = '/v1/models'): Promise<number> {
  const r = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${secret}`, 'anthropic-version': '2023-06-01', ...(agentId ? { 'x-claude-code-agent-id': agentId } : {}) } });
  await r.arrayBuffer();
  return r.status;
}

describe('audit trail and metrics (built binary)', () => {
  it('token, env and exec each write one event per exchange, matching the sandbox, with no secret', async () => {
    world = await startWorld();
    const w = world;
    const log = join(w.home.home, 'audit.jsonl');
    const env = { ...w.env, CLAUDE_WIF_AUDIT_LOG: log };
    const cache = join(w.home.configDir, 'credentials', `${PROFILE}.json`);
    const token = await runToEnd(['token'], env);
    expect(token.code, token.stderr).toBe(0);
    rmSync(cache, { force: true });
    await w.rotate();
    const envRun = await runToEnd(['env'], env);
    expect(envRun.code, envRun.stderr).toBe(0);
    rmSync(cache, { force: true });
    await w.rotate();
    const exec = await runToEnd(['exec', '--mode', 'token', '--', ...nodeChild('process.exit(0)')], env);
    expect(exec.code, exec.stderr).toBe(0);
    // Served from the cache: no exchange, no event.
    expect((await runToEnd(['token'], env)).code).toBe(0);

    const ev = events(log);
    expect(ev.map((e) => e.component)).toEqual(['token', 'env', 'exec']);
    expect(ev.every((e) => e.outcome === 'success' && e.profile === PROFILE && e.sub)).toBe(true);
    expect(ev.map((e) => e.request_id)).toEqual(w.sandbox.exchanges.map((x) => x.request_id));
    expect(new Set(ev.map((e) => e.process.pid)).size).toBe(3);
    expect(statSync(log).mode & 0o777).toBe(0o600);
    assertNoSecrets(readFileSync(log, 'utf8'), w.secrets());
  });

  it('agent: events per refresh, /metrics counters match the sandbox, proxied requests by status and agent id', async () => {
    world = await startWorld();
    const w = world;
    const log = join(w.home.home, 'agent-audit.jsonl');
    const dir = join(w.home.home, 'agent');
    daemon = spawnBin(['agent', '--dir', dir, '--health', '127.0.0.1:0', '--proxy', '127.0.0.1:0'], { ...w.env, CLAUDE_WIF_AUDIT_LOG: log });
    const a = daemon;
    await a.waitFor(() => a.stdout().includes('\n') || a.child.exitCode !== null, 'the agent to start');
    expect(a.child.exitCode, a.stderr()).toBeNull();
    const info = JSON.parse(a.stdout().split('\n')[0]!) as { health: string; proxy: { url: string; secret_file: string } };
    const secret = readFileSync(info.proxy.secret_file, 'utf8').trim();
    expect(await proxied(info.proxy.url, secret, 'agent-a')).toBe(200);
    expect(await proxied(info.proxy.url, secret, 'agent-a')).toBe(200);
    expect(await proxied(info.proxy.url, secret, 'agent-b')).toBe(200);
    expect(await proxied(info.proxy.url, secret, undefined)).toBe(200);
    expect(await proxied(info.proxy.url, secret, 'agent-b', '/v1/no-such-endpoint')).toBe(404);
    expect(await proxied(info.proxy.url, 'wrong-secret', 'agent-c')).toBe(401);

    const m = await scrape(info.health);
    const exchanges = w.sandbox.exchanges.length;
    expect(exchanges).toBeGreaterThanOrEqual(1);
    expect(m.get('claude_wif_exchanges_total')!.type).toBe('COUNTER');
    expect(sum(m.get('claude_wif_exchanges_total'), { outcome: 'success', profile: PROFILE })).toBe(exchanges);
    expect(sum(m.get('claude_wif_identity_fetch_failures_total'))).toBe(0);
    const expiry = m.get('claude_wif_token_expiry_seconds')!.metrics.find((x) => x.labels?.['profile'] === PROFILE)!;
    expect(Number(expiry.value)).toBeGreaterThan(30);
    const last = Number(m.get('claude_wif_last_successful_refresh_timestamp_seconds')!.metrics[0]!.value);
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(120);
    const p = m.get('claude_wif_proxied_requests_total');
    expect(sum(p, { agent_id: 'agent-a', status: '200' })).toBe(2);
    expect(sum(p, { agent_id: 'agent-b', status: '200' })).toBe(1);
    expect(sum(p, { agent_id: 'agent-b', status: '404' })).toBe(1);
    expect(sum(p, { agent_id: 'none', status: '200' })).toBe(1);
    expect(sum(p, { agent_id: 'agent-c', status: '401' })).toBe(1);
    // What the proxy forwarded is exactly what the API saw.
    expect(sum(p) - sum(p, { status: '401' })).toBe(w.sandbox.apiCalls.length);

    const ev = events(log);
    expect(ev.length).toBe(exchanges);
    expect(ev.every((e) => e.component === 'agent' && e.outcome === 'success')).toBe(true);
    assertNoSecrets(readFileSync(log, 'utf8'), [...w.secrets(), secret]);
  });

  it('proxy --health: /metrics and an event for its exchange', async () => {
    world = await startWorld();
    const w = world;
    const log = join(w.home.home, 'proxy-audit.jsonl');
    daemon = spawnBin(['proxy', '--health', '127.0.0.1:0', '--print-secret'], { ...w.env, CLAUDE_WIF_AUDIT_LOG: log });
    const d = daemon;
    await d.waitFor(() => d.stdout().includes('\n') || d.child.exitCode !== null, 'the proxy to start');
    expect(d.child.exitCode, d.stderr()).toBeNull();
    const info = JSON.parse(d.stdout().split('\n')[0]!) as { url: string; secret: string; health: string };
    expect(await proxied(info.url, info.secret, 'sub-1')).toBe(200);
    expect((await fetch(`${info.health}/readyz`)).status).toBe(200);
    const m = await scrape(info.health);
    expect(sum(m.get('claude_wif_exchanges_total'), { outcome: 'success' })).toBe(w.sandbox.exchanges.length);
    expect(sum(m.get('claude_wif_proxied_requests_total'), { agent_id: 'sub-1', status: '200' })).toBe(1);
    expect(events(log).map((e) => e.component)).toEqual(['proxy']);
    assertNoSecrets(readFileSync(log, 'utf8'), [...w.secrets(), info.secret]);
  });

  it('exec --otel-identity puts the service account, rule and subject in the child\'s OTEL_RESOURCE_ATTRIBUTES, from an exchange and from the cache', async () => {
    world = await startWorld();
    const w = world;
    const env = { ...w.env, OTEL_RESOURCE_ATTRIBUTES: 'service.name=reviewer,anthropic.federation_rule_id=stale' };
    const child = nodeChild('process.stdout.write(process.env.OTEL_RESOURCE_ATTRIBUTES ?? "")');
    const first = await runToEnd(['exec', '--otel-identity', '--mode', 'token', '--', ...child], env);
    expect(first.code, first.stderr).toBe(0);
    const second = await runToEnd(['exec', '--mode', 'token', '--', ...child], { ...env, CLAUDE_WIF_OTEL_IDENTITY: '1' });
    expect(second.code, second.stderr).toBe(0);
    expect(w.sandbox.exchanges.length).toBe(1);
    const { decodeJwt } = await import('jose');
    const sub = String(decodeJwt((w.sandbox.exchanges[0]!.body as { assertion: string }).assertion).sub);
    for (const out of [first.stdout, second.stdout]) {
      const attrs = Object.fromEntries(out.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), decodeURIComponent(kv.slice(kv.indexOf('=') + 1))]));
      expect(attrs).toEqual({
        'service.name': 'reviewer',
        'anthropic.federation_rule_id': 'fdrl_sandbox',
        'anthropic.service_account_id': 'svac_sandbox',
        'anthropic.organization_id': w.sandbox.config.organization_id,
        'anthropic.identity.subject': sub,
      });
    }
    // Without the flag the child's attributes are left alone.
    const off = await runToEnd(['exec', '--mode', 'token', '--', ...child], env);
    expect(off.stdout).toBe('service.name=reviewer,anthropic.federation_rule_id=stale');
  });
});
