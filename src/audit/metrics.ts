import type { IncomingMessage, ServerResponse } from 'node:http';
import { redact } from '../util/redact.js';
import { onExchange } from './trail.js';

/**
 * Prometheus metrics for the long-running processes (`agent`, `proxy`), served as `/metrics` on
 * their health listener. prom-client is imported here only, and this module only when a health
 * listener starts: nothing of it loads on `token` or any short command.
 *
 *   claude_wif_exchanges_total{profile,outcome,error_code}       exchanges this process made
 *   claude_wif_identity_fetch_failures_total{profile,source}     exchanges that failed getting or checking the identity JWT
 *   claude_wif_last_successful_refresh_timestamp_seconds{profile}
 *   claude_wif_token_expiry_seconds{profile}                      seconds until the current token expires
 *   claude_wif_proxied_requests_total{status,agent_id}            proxied requests by response status and
 *                                                                 Claude Code's x-claude-code-agent-id header
 */

export interface Metrics {
  /** Serves GET /metrics (the Prometheus text format). */
  serve(req: IncomingMessage, res: ServerResponse): void;
  /** The proxy's per-response hook. */
  observeProxied(status: number, agentId: string | string[] | undefined): void;
  close(): void;
}

/** Agent ids are per subagent: past this many distinct values, new ones count as "other". */
const MAX_AGENT_IDS = 200;

export async function startMetrics(opts: { tokens: () => Array<{ profile: string; expiresAt: number | null }>; now: () => number }): Promise<Metrics> {
  const prom = await import('./prom.js');
  const registry = new prom.Registry();
  const exchanges = new prom.Counter({ name: 'claude_wif_exchanges_total', help: 'Token exchanges made by this process, by outcome and error code', labelNames: ['profile', 'outcome', 'error_code'] as const, registers: [registry] });
  const identityFailures = new prom.Counter({ name: 'claude_wif_identity_fetch_failures_total', help: 'Exchanges that failed obtaining or checking the identity JWT', labelNames: ['profile', 'source'] as const, registers: [registry] });
  const lastRefresh = new prom.Gauge({ name: 'claude_wif_last_successful_refresh_timestamp_seconds', help: 'Unix time of the last successful exchange', labelNames: ['profile'] as const, registers: [registry] });
  new prom.Gauge({
    name: 'claude_wif_token_expiry_seconds',
    help: 'Seconds until the current token expires',
    labelNames: ['profile'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const now = opts.now() / 1000;
      for (const t of opts.tokens()) if (t.expiresAt !== null) this.set({ profile: t.profile }, Math.round(t.expiresAt - now));
    },
  });
  const proxied = new prom.Counter({ name: 'claude_wif_proxied_requests_total', help: 'Requests through the proxy, by response status and Claude Code agent id (x-claude-code-agent-id)', labelNames: ['status', 'agent_id'] as const, registers: [registry] });
  const agentIds = new Set<string>();

  const off = onExchange((e) => {
    const profile = e.profile ?? '(environment)';
    exchanges.inc({ profile, outcome: e.outcome, error_code: e.error_code ?? '' });
    if (e.outcome === 'success') lastRefresh.set({ profile }, Date.parse(e.time) / 1000);
    else if (e.error_code?.startsWith('identity_')) identityFailures.inc({ profile, source: e.identity_source ?? '' });
  });

  return {
    serve(req, res) {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : text);
        },
        (err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`metrics failed: ${redact((err as Error).message)}\n`);
        },
      );
    },
    observeProxied(status, header) {
      const raw = Array.isArray(header) ? header[0] : header;
      let id = raw === undefined || raw === '' ? 'none' : redact(raw).slice(0, 64);
      if (id !== 'none' && !agentIds.has(id)) {
        if (agentIds.size >= MAX_AGENT_IDS) id = 'other';
        else agentIds.add(id);
      }
      proxied.inc({ status: String(status), agent_id: id });
    },
    close() {
      off();
    },
  };
}
