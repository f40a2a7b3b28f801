// A generic misbehaving HTTP peer for the fault matrices (issue 7): every request it receives is
// answered with one configured fault — a status with any body and headers, a hang, a connection
// reset in the middle of the body, a body far beyond any client cap, or an echo of what was sent
// (to prove echoed credentials never reach our output). Loopback only, port 0; close() ends every
// connection, hung ones included.
import type { ServerResponse } from 'node:http';
import { httpPeer, type Peer, type Recorded } from './platforms.js';

export type Fault =
  /** A plain answer. */
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** Reads the request and never answers (the socket stays open until close()). */
  | { kind: 'hang' }
  /** Sends the status line, headers and part of a promised body, then destroys the socket. */
  | { kind: 'reset'; status?: number; headers?: Record<string, string> }
  /** Streams `bytes` bytes of `fill` (after `prefix`) with this status. */
  | { kind: 'big'; status: number; bytes: number; prefix?: string; fill?: string; headers?: Record<string, string> }
  /** Answers with a body built from the request (headers and body echoed back). */
  | { kind: 'echo'; status: number; render: (req: Recorded) => string; headers?: Record<string, string> };

/** Applies `fault` to one request. Exported for peers that combine a fault with real behaviour. */
export function answerWithFault(fault: Fault, req: Recorded, res: ServerResponse): void {
  res.on('error', () => {}); // the client may hang up first (a body cap, a timeout): not our problem
  switch (fault.kind) {
    case 'status':
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.body ?? '');
      return;
    case 'hang':
      return;
    case 'reset': {
      const partial = '{"value":"eyJhbGciOiJSUzI1NiJ9.partial';
      res.writeHead(fault.status ?? 200, { 'content-type': 'application/json', 'content-length': '4096', ...fault.headers });
      res.write(partial);
      // Let the headers and the first bytes leave, then cut the connection under the client.
      setTimeout(() => res.socket?.destroy(), 20);
      return;
    }
    case 'big': {
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      const prefix = Buffer.from(fault.prefix ?? '');
      const chunk = Buffer.alloc(64 * 1024, fault.fill ?? 'a');
      let left = fault.bytes - prefix.length;
      if (prefix.length) res.write(prefix);
      const pump = (): void => {
        while (left > 0) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left);
          left -= piece.length;
          if (!res.write(piece)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.socket?.once('close', () => (left = 0));
      pump();
      return;
    }
    case 'echo':
      res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
      res.end(fault.render(req));
      return;
  }
}

/** A peer answering every request with `fault`; `contacts` holds when each request arrived (performance.now()). */
export async function faultPeer(fault: Fault): Promise<Peer & { contacts: number[] }> {
  const contacts: number[] = [];
  const peer = await httpPeer((req, res) => {
    contacts.push(performance.now());
    answerWithFault(fault, req, res);
  });
  return { ...peer, contacts };
}

/**
 * True when `text` holds any 24-character piece of the JWT's payload or signature: catches whole
 * copies, and also partial ones that a clip-then-redact order would let through (a header plus
 * half a payload is no longer a JWT to a regex, but it is still the credential's content).
 */
export function leaksJwt(text: string, jwt: string): boolean {
  const [, payload = '', signature = ''] = jwt.split('.');
  for (const seg of [payload, signature]) {
    for (let i = 0; i + 24 <= seg.length; i += 8) if (text.includes(seg.slice(i, i + 24))) return true;
  }
  return false;
}

/** A secret that is not a JWT (a request token, a header secret): any 12-character piece of it. */
export function leaksSecret(text: string, secret: string): boolean {
  for (let i = 0; i + 12 <= secret.length; i += 4) if (text.includes(secret.slice(i, i + 12))) return true;
  return false;
}

/** Pads `secret` into `text` so that it straddles character `at` (where a clipper cuts a message). */
export function straddle(secret: string, at: number, keepBefore: number, filler = 'x'): string {
  return `${filler.repeat(Math.max(0, at - keepBefore))}${secret}`;
}

/** A fixed-width text table (the printed reports). */
export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(head), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
