import { newProxySecret, proxyClientEnv, startProxy } from '../injecting-proxy.js';
import { startKeeper } from '../keeper.js';
import { parseListen } from '../listen.js';
import type { ExecModeStrategy } from './modes.js';

/**
 * `--mode proxy`: the child gets a loopback URL and a per-session secret, never a token. The
 * credential-injecting proxy (injecting-proxy.ts) forwards its requests upstream with the token
 * keeper's current token.
 */
export const proxyMode: ExecModeStrategy = {
  firstTokenTtl: (minTtl) => minTtl,
  async start({ token, plan, deps, tokens, target, proxySocket, cwd }) {
    const keeper = startKeeper({ initial: token!, fetch: tokens, clock: deps.clock, log: deps.log });
    try {
      const secret = newProxySecret();
      const socket = proxySocket ? parseListen(`unix:${proxySocket}`, { flag: '--proxy-socket', defaultHost: '127.0.0.1', loopbackOnly: true, cwd }) : undefined;
      const proxy = await startProxy({
        upstream: plan.baseUrl.value,
        secret,
        tokens: () => keeper,
        listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0 }, ...(socket ? [socket] : [])],
        clock: deps.clock,
        log: deps.log,
        env: deps.env,
      });
      deps.log.debug(`proxy mode: the child talks to ${proxy.url}; requests are forwarded to ${plan.baseUrl.value}`);
      return {
        env: proxyClientEnv(secret, target, socket?.kind === 'unix' ? socket.path : undefined),
        baseUrl: proxy.url!,
        async close() {
          keeper.stop();
          // The child is gone: whatever it left running gets no more than a moment.
          await proxy.close(200);
        },
      };
    } catch (err) {
      keeper.stop();
      throw err;
    }
  },
};
