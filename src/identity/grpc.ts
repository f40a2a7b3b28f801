import { connect as netConnect } from 'node:net';

/**
 * Just enough gRPC (over node:http2) and protobuf for one unary call to the SPIFFE Workload API:
 * FetchJWTSVID. A general gRPC stack (grpc-js + protobufjs) would cost more to load than the
 * whole rest of the CLI; the wire format of one unary call is small and fully specified.
 */

export interface GrpcTarget {
  /** unix socket path, or host + port for tcp. */
  socketPath?: string;
  host?: string;
  port?: number;
}

/** A gRPC status other than OK (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). */
export class GrpcStatusError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`gRPC status ${code} (${GRPC_CODE_NAMES[code] ?? 'UNKNOWN'})${details ? `: ${details}` : ''}`);
    this.name = 'GrpcStatusError';
  }
}

/** The call did not complete: no connection, reset, or the deadline passed. */
export class GrpcTransportError extends Error {
  constructor(
    readonly kind: 'timeout' | 'network',
    message: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = 'GrpcTransportError';
  }
}

export const GRPC_CODE_NAMES: Record<number, string> = {
  0: 'OK', 1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

const MAX_RESPONSE_BYTES = 1 << 20;

/** One unary call: `message` is the serialized request; resolves to the serialized response. */
export async function unaryCall(target: GrpcTarget, path: string, message: Uint8Array, metadata: Record<string, string>, timeoutMs: number): Promise<Buffer> {
  const http2 = await import('node:http2');
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    const where = target.socketPath ? `unix:${target.socketPath}` : `${target.host}:${target.port}`;
    // The socket is ours, not the session's: session.destroy() leaves a connection whose HTTP/2
    // handshake never completed (an agent wedged before answering) open, and that open socket kept
    // the whole CLI alive after it had reported the timeout (found by the fault matrix).
    let socket: import('node:net').Socket | undefined;
    const session = http2.connect(target.socketPath ? 'http://localhost' : `http://${target.host}:${target.port}`, {
      createConnection: () => (socket = target.socketPath ? netConnect(target.socketPath) : netConnect(target.port!, target.host!)),
    });
    const done = (err: Error | undefined, value?: Buffer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      socket?.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => done(new GrpcTransportError('timeout', `no answer from ${where} within ${timeoutMs} ms`)), timeoutMs);
    session.on('error', (err: NodeJS.ErrnoException) => done(new GrpcTransportError('network', `cannot reach ${where}: ${err.code ?? err.message}`, err.code)));

    const stream = session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${Math.max(1, Math.floor(timeoutMs))}m`,
      'grpc-accept-encoding': 'identity',
      ...metadata,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let headerStatus: string | undefined;
    let trailerStatus: { status?: string; message?: string } = {};
    stream.on('response', (headers) => {
      const status = headers[':status'];
      if (status !== 200) {
        done(new GrpcTransportError('network', `${where} answered HTTP ${status} instead of gRPC`));
        return;
      }
      // A trailers-only answer (errors) carries grpc-status in the headers.
      if (headers['grpc-status'] !== undefined) {
        headerStatus = String(headers['grpc-status']);
        trailerStatus = { status: headerStatus, message: decodeGrpcMessage(headers['grpc-message']) };
      }
    });
    stream.on('trailers', (trailers) => {
      trailerStatus = { status: trailers['grpc-status'] === undefined ? undefined : String(trailers['grpc-status']), message: decodeGrpcMessage(trailers['grpc-message']) };
    });
    stream.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_RESPONSE_BYTES) {
        stream.close();
        done(new GrpcTransportError('network', `${where} sent more than ${MAX_RESPONSE_BYTES} bytes`));
        return;
      }
      chunks.push(d);
    });
    stream.on('error', (err: NodeJS.ErrnoException) => done(new GrpcTransportError('network', `call to ${where} failed: ${err.code ?? err.message}`, err.code)));
    stream.on('end', () => {
      const code = Number(trailerStatus.status ?? NaN);
      if (!Number.isInteger(code)) {
        done(new GrpcTransportError('network', `${where} ended the call without a gRPC status`));
        return;
      }
      if (code !== 0) {
        done(new GrpcStatusError(code, trailerStatus.message ?? ''));
        return;
      }
      try {
        done(undefined, unframe(Buffer.concat(chunks)));
      } catch (err) {
        done(err as Error);
      }
    });
    stream.end(frame(message));
  });
}

function decodeGrpcMessage(v: string | string[] | undefined): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined) return undefined;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** gRPC length-prefixed message: flag byte 0 (not compressed), 4-byte big-endian length, bytes. */
export function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt8(0, 0);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** The single message of a unary response. */
export function unframe(data: Buffer): Buffer {
  if (data.length < 5) throw new GrpcTransportError('network', `truncated gRPC message (${data.length} bytes)`);
  if (data.readUInt8(0) !== 0) throw new GrpcTransportError('network', 'compressed gRPC message, although only identity encoding was accepted');
  const len = data.readUInt32BE(1);
  if (data.length < 5 + len) throw new GrpcTransportError('network', 'truncated gRPC message');
  return data.subarray(5, 5 + len);
}

// --- protobuf, proto3 wire format (only what the Workload API messages use) ---

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** Encodes string fields: [field number, value] pairs, in order (repeated fields repeat). */
export function encodeStrings(fields: Array<[number, string]>): Uint8Array {
  const parts: number[] = [];
  for (const [field, value] of fields) {
    const bytes = Buffer.from(value, 'utf8');
    parts.push(...varint((field << 3) | 2), ...varint(bytes.length), ...bytes);
  }
  return Uint8Array.from(parts);
}

/** Decodes a message into its length-delimited fields (field number → values); other wire types are skipped. */
export function decodeFields(buf: Uint8Array): Map<number, Uint8Array[]> {
  const fields = new Map<number, Uint8Array[]>();
  let i = 0;
  const readVarint = (): number => {
    let result = 0;
    let mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= buf.length) throw new GrpcTransportError('network', 'truncated protobuf varint');
      const b = buf[i++]!;
      result += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new GrpcTransportError('network', 'malformed protobuf varint');
  };
  while (i < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) readVarint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint();
      if (i + len > buf.length) throw new GrpcTransportError('network', 'truncated protobuf field');
      const list = fields.get(field) ?? [];
      list.push(buf.subarray(i, i + len));
      fields.set(field, list);
      i += len;
    } else throw new GrpcTransportError('network', `unsupported protobuf wire type ${wire}`);
  }
  return fields;
}

export const utf8 = (b: Uint8Array | undefined): string => (b ? Buffer.from(b).toString('utf8') : '');
