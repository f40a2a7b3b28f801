import { createServer, type Server } from 'node:http';
import type { Clock } from '../util/clock.js';
import type { TokenKeeper } from '../run/keeper.js';
import { listenHealth } from '../run/agent.js';
import type { ListenAddress } from '../run/listen.js';
import { startMetrics, type Metrics } from './metrics.js';

/**
 * `claude-wif proxy --health <addr>`: the proxy's own health listener, shaped like the agent's:
 * /livez (the process answers), /readyz (the current token has more than 30 s left, the
 * consumers' pick-up window), /metrics (Prometheus).
 */
export async function startProxyHealth(
  at: ListenAddress,
  o: { keeper: () => Pick<TokenKeeper, 'current'> | undefined; profile: string; clock: Clock },
): Promise<{ url: string; metrics: Metrics; close(): Promise<void> }> {
  const metrics = await startMetrics({ tokens: () => { const k = o.keeper(); return k ? [{ profile: o.profile, expiresAt: k.current().expiresAt }] : []; }, now: () => o.clock.now() });
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') return metrics.serve(req, res);
    const t = o.keeper()?.current();
    const ready = t !== undefined && (t.expiresAt === null || t.expiresAt - o.clock.now() / 1000 > 30);
    const send = (code: number, body: unknown) => {
      const text = `${JSON.stringify(body)}\n`;
      res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : text);
    };
    if (path === '/livez' || path === '/healthz') return send(200, { status: 'alive' });
    if (path === '/readyz') return send(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready' });
    send(404, { error: 'not found: use /livez, /readyz or /metrics' });
  });
  const url = await listenHealth(server, at);
  return {
    url,
    metrics,
    close: () =>
      new Promise<void>((r) => {
        metrics.close();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
