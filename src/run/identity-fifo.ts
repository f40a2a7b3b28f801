import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';

/**
 * The identity file of `exec --mode federation`, served as a named pipe: every open yields a JWT
 * minted for that read and never handed to anyone else.
 *
 * Why a pipe: the child exchanges for itself and re-reads ANTHROPIC_IDENTITY_TOKEN_FILE at every
 * exchange, and with single-use `jti` (spec §2) whatever it reads must never have been exchanged.
 * A regular file rotated on a timer cannot promise that — measured with 60 s tokens, the SDKs and
 * Claude Code refresh about every 20 s, and two reads between rotations replay a JWT (401). A read
 * of a regular file leaves no trace the parent can wait on either (no inotify read events in Node;
 * atime depends on mount options). Open of a FIFO is the event: the writer's open() returns when a
 * reader arrives. Measured here: `fs.promises.readFile` (TypeScript SDK 1.16.0), `Path.read_text`
 * (Python anthropic 1.13.0) and Claude Code 2.1.332 all read a FIFO to EOF and exchange what they
 * got.
 *
 * One subtlety: a pipe has no message boundaries. If the path stayed the same FIFO, the writer
 * reopening it for the next reader while the previous reader still holds it would append a second
 * JWT to the first reader's data. So once a reader is attached, the path is pointed at a brand-new
 * FIFO (mkfifo + rename) before the JWT is written: later readers wait on the new one, and the
 * current reader sees EOF right after its JWT. Readers that open within the same instant share one
 * JWT (the kernel wakes them together); the SDKs and Claude Code refresh single-flight, so a child
 * does not do that.
 */

export interface IdentityFifo {
  path: string;
  /** JWTs handed out (one per reader). */
  readonly served: number;
  /** Reads that got nothing because minting failed. */
  readonly failures: number;
  /** Stops serving (unblocks a pending open); the caller removes the directory. Never throws. */
  close(): Promise<void>;
}

export interface IdentityFifoOptions {
  path: string;
  /** A JWT that was never exchanged, minted now. */
  mint(): Promise<string>;
  log: { debug(m: string): void; warn(m: string): void };
}

function mkfifo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // Node has no mkfifo(3); coreutils' mkfifo is on every Linux and macOS.
    execFile('mkfifo', ['-m', '600', path], { timeout: 10_000 }, (err) => (err ? reject(err) : resolve()));
  });
}

let counter = 0;
async function freshFifo(path: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${++counter}.fifo`;
  await mkfifo(tmp);
  try {
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Whether this system can serve a FIFO (mkfifo exists); checked by creating the first one. */
export async function serveIdentityFifo(opts: IdentityFifoOptions): Promise<IdentityFifo> {
  await freshFifo(opts.path);
  let closed = false;
  let served = 0;
  let failures = 0;
  let pending: FileHandle | undefined;

  const loop = (async () => {
    while (!closed) {
      let fh: FileHandle;
      try {
        // Blocks (on a libuv worker thread) until a reader opens the path.
        fh = await open(opts.path, constants.O_WRONLY);
      } catch (err) {
        if (closed) return;
        failures++;
        opts.log.warn(`--mode federation: the identity pipe could not be opened (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); recreating it`);
        await freshFifo(opts.path).catch(() => undefined);
        await new Promise((r) => setTimeout(r, 1000).unref());
        continue;
      }
      pending = fh;
      try {
        if (closed) return;
        // Later readers wait on a new FIFO; this one gets EOF after its JWT.
        await freshFifo(opts.path).catch((err: Error) => opts.log.warn(`--mode federation: could not replace the identity pipe: ${err.message}`));
        let jwt: string;
        try {
          jwt = await opts.mint();
        } catch (err) {
          failures++;
          opts.log.warn(`--mode federation: could not mint an identity JWT for the child (attempt ${failures}): ${(err as Error).message}; that read gets an empty file`);
          continue;
        }
        try {
          await fh.write(`${jwt}\n`);
          served++;
          opts.log.debug(`federation: identity JWT ${served} handed to a reader of the pipe`);
        } catch (err) {
          // EPIPE: the reader left without reading; the JWT was never seen, nothing is spent.
          opts.log.debug(`federation: a reader left the identity pipe before reading (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        }
      } finally {
        pending = undefined;
        await fh.close().catch(() => undefined);
      }
    }
  })();

  return {
    path: opts.path,
    get served() {
      return served;
    },
    get failures() {
      return failures;
    },
    async close() {
      if (closed) return;
      closed = true;
      // A writer blocked in open() returns once a reader shows up: be that reader (non-blocking).
      try {
        const unblock = await open(opts.path, constants.O_RDONLY | constants.O_NONBLOCK);
        await unblock.close();
      } catch {
        /* the path is gone or not a FIFO: nothing is blocked on it */
      }
      await pending?.close().catch(() => undefined);
      await Promise.race([loop, new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
