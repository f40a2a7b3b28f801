import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { WifError } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { CSI_PROVIDER_DESCRIPTOR, type MountRequest } from './descriptor.js';
import type { Provider } from './provider.js';

/** Where the driver looks for providers: <providers dir>/<provider name>.sock. */
export const DEFAULT_PROVIDERS_DIR = '/var/run/secrets-store-csi-providers';
export const DEFAULT_SOCKET = `${DEFAULT_PROVIDERS_DIR}/claude-wif.sock`;

export interface CsiServer {
  socket: string;
  /** Stops accepting calls, lets running ones finish (at most `graceMs`), removes the socket. */
  close(graceMs?: number): Promise<void>;
}

/** Is something accepting connections on this unix socket? */
function listening(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A socket left by a provider that died is removed; a live one (another provider instance) or
 * anything that is not a socket is refused, never deleted.
 */
async function prepareSocket(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) {
    throw new WifError('insecure_file', `${path} exists and is not a socket; refusing to replace it`, { hint: 'choose another --socket path, or remove the file if it is a leftover' });
  }
  if (await listening(path)) {
    throw new WifError('usage_error', `another process is already serving ${path}`, { hint: 'stop the other provider first (one provider per socket and node)' });
  }
  unlinkSync(path);
}

/** Serves the provider API on a unix socket with @grpc/grpc-js (loaded here, and only here). */
export async function startCsiServer(opts: { socket: string; provider: Provider; log: Logger }): Promise<CsiServer> {
  const grpc = await import('./grpc.js');
  await prepareSocket(opts.socket);
  const definition = grpc.fromJSON(CSI_PROVIDER_DESCRIPTOR as unknown as Record<string, unknown>, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as { v1alpha1: { CSIDriverProvider: { service: import('./grpc.js').ServiceDefinition } } };
  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  server.addService(pkg.v1alpha1.CSIDriverProvider.service, {
    Version: (_call: import('./grpc.js').ServerUnaryCall<unknown, unknown>, cb: import('./grpc.js').sendUnaryData<unknown>) => cb(null, opts.provider.version()),
    Mount: (call: import('./grpc.js').ServerUnaryCall<MountRequest, unknown>, cb: import('./grpc.js').sendUnaryData<unknown>) => {
      // mount() answers every failure with MountResponse.error; a throw here is a bug, reported without details.
      opts.provider.mount(call.request).then(
        (res) => cb(null, res),
        (err: unknown) => {
          opts.log.info(`csi: internal error: ${(err as Error).message}`);
          cb({ code: grpc.status.INTERNAL, details: 'internal error in the claude-wif provider' });
        },
      );
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix:${opts.socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
  }).catch((err: unknown) => {
    throw new WifError('usage_error', `cannot listen on ${opts.socket}: ${(err as Error).message}`, { hint: 'check that the directory exists and is writable (the DaemonSet mounts the driver\'s providers directory)' });
  });
  // Only the driver (root) calls the provider: nobody else on the node may ask for pods' tokens.
  chmodSync(opts.socket, 0o600);
  let closed = false;
  return {
    socket: opts.socket,
    async close(graceMs = 5_000) {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      try {
        unlinkSync(opts.socket);
      } catch {
        /* grpc-js may have removed it */
      }
    },
  };
}
