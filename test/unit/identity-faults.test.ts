// The shared identity-request rules the fault matrix (test/e2e/fault-matrix.test.ts) found wanting,
// pinned at the unit level: the caller's overall deadline bounds retries and timeouts, a redirect
// is endpoint_failed (never followed), and a gRPC peer that never completes its handshake does not
// leave a socket open behind a reported timeout.
import { mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sourceRequest, statusError } from '../../src/identity/common.js';
import { GrpcTransportError, unaryCall } from '../../src/identity/grpc.js';
import type { IdentityContext } from '../../src/identity/source.js';
import { silentLogger } from '../../src/util/log.js';
import { failure, fakeClock } from '../helpers/cli.js';
import { tempHome, type TempHome } from '../helpers/env.js';
import { faultPeer } from '../helpers/faults.js';

let h: TempHome;
const closers: Array<{ close(): Promise<void> }> = [];
beforeAll(() => {
  h = tempHome();
});
afterAll(async () => {
  for (const c of closers) await c.close();
  h.cleanup();
});

function ctx(clock: ReturnType<typeof fakeClock>, deadline?: number): IdentityContext {
  return { env: {}, clock, log: silentLogger, options: {}, timeoutMs: 2_000, deadline };
}

const request = (url: string) => ({ source: 'test', what: 'the test endpoint', url, timeoutMs: 2_000, fix: 'fix it', proxyEnv: {} });

describe('sourceRequest and the overall deadline', () => {
  it('does not sleep for a Retry-After that ends past the deadline: one request, endpoint_failed', async () => {
    const peer = await faultPeer({ kind: 'status', status: 429, headers: { 'retry-after': '3' } });
    closers.push(peer);
    const clock = fakeClock(Date.now());
    const err = await failure(sourceRequest(ctx(clock, clock.now() + 2_000), request(peer.url)));
    expect(err).toMatchObject({ code: 'endpoint_failed', exitCode: 5 });
    expect(err.message).toMatch(/kept failing: HTTP 429/);
    expect(peer.requests).toHaveLength(1);
    expect(clock.now()).toBeLessThan(Date.now() + 2_000); // never slept towards the 3 s
  });

  it('retries while the deadline allows, and without one keeps the old behaviour (3 attempts)', async () => {
    const peer = await faultPeer({ kind: 'status', status: 503, headers: { 'retry-after': '1' } });
    closers.push(peer);
    const a = fakeClock(Date.now());
    await failure(sourceRequest(ctx(a, a.now() + 1_500), request(peer.url)));
    expect(peer.requests).toHaveLength(2); // slept 1 s once; a second 1 s sleep would pass the deadline
    const b = fakeClock(Date.now());
    await failure(sourceRequest(ctx(b), request(peer.url)));
    expect(peer.requests).toHaveLength(5);
  });

  it('cuts a request short at the deadline (endpoint_timeout, the effective timeout named)', async () => {
    const peer = await faultPeer({ kind: 'hang' });
    closers.push(peer);
    // The clock stands still: 300 ms are left of the deadline, against a 2 s per-request timeout,
    // so the request must be given exactly 300 ms (its socket timer then runs in real time).
    const clock = fakeClock(Date.now());
    const err = await failure(sourceRequest(ctx(clock, clock.now() + 300), request(peer.url)));
    expect(err).toMatchObject({ code: 'endpoint_timeout', exitCode: 5 });
    expect(err.message).toMatch(/did not answer within 300 ms/);
    expect(peer.requests).toHaveLength(1);
  });

  it('does not even ask once the deadline has passed', async () => {
    const peer = await faultPeer({ kind: 'status', status: 200, body: '{}' });
    closers.push(peer);
    const clock = fakeClock(Date.now());
    const err = await failure(sourceRequest(ctx(clock, clock.now() - 1), request(peer.url)));
    expect(err).toMatchObject({ code: 'endpoint_timeout', details: { sent: false } });
    expect(peer.requests).toHaveLength(0);
  });
});

describe('redirects from identity endpoints', () => {
  it('are endpoint_failed (exit 5) naming the target without its query, as the README documents', () => {
    const res = { status: 307, headers: { location: 'https://elsewhere.example/token?sig=secret-ish' }, body: Buffer.from(''), truncated: false };
    const err = statusError('github-actions', 'the GitHub Actions OIDC endpoint', res, 'retry the job');
    expect(err).toMatchObject({ code: 'endpoint_failed', exitCode: 5 });
    expect(err.message).toMatch(/answered HTTP 307, a redirect to https:\/\/elsewhere\.example\/token\?…; redirects are not followed/);
    expect(err.message).not.toContain('sig=');
    // Other statuses keep their meaning.
    expect(statusError('x', 'y', { ...res, status: 403 }, 'z').code).toBe('identity_unavailable');
  });
});

describe('gRPC unary call to a peer that never speaks HTTP/2', () => {
  it('times out and closes its own socket (left open, it kept the CLI alive after reporting the timeout)', async () => {
    const dir = join(h.home, 'silent');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'agent.sock');
    const sockets: Socket[] = [];
    // Accepts and never reads: the client's HTTP/2 preface stays unread, as with a wedged agent.
    // (A peer that reads sees the hang-up either way; this one is where the old code leaked.)
    const server = createServer((s) => {
      sockets.push(s);
      s.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    closers.push({ close: () => new Promise<void>((resolve) => (sockets.forEach((s) => s.destroy()), server.close(() => resolve()))) });
    const pipes = () => process.getActiveResourcesInfo().filter((r) => r === 'PipeWrap').length;
    const before = pipes();
    const err = await unaryCall({ socketPath: path }, '/SpiffeWorkloadAPI/FetchJWTSVID', Buffer.alloc(0), {}, 200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GrpcTransportError);
    expect((err as GrpcTransportError).kind).toBe('timeout');
    // The server keeps its end open (a wedged agent does): only that end may remain. The old code
    // half-closed its socket and then waited for a FIN that a wedged agent never sends.
    // A destroyed handle is closed by the event loop within a turn or two: wait for turns, not time.
    for (let turn = 0; turn < 50 && pipes() > before + sockets.length; turn++) await new Promise((r) => setImmediate(r));
    expect(sockets).toHaveLength(1);
    expect(pipes(), 'the client socket is still open').toBe(before + 1);
  });
});
