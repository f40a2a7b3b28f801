import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { requireTrustedDir } from './trust.js';
import { basename, dirname, join } from 'node:path';

/**
 * A directory for secrets. Missing directories are created 0700 (and only those). One that already
 * exists is never chmod-ed (as root on /tmp that broke the whole machine: issue 15 item 1); it must
 * be owned by the caller or root and writable by no one else, or insecure_file names the fix.
 */
export function ensurePrivateDir(dir: string, what = 'directory'): void {
  let created: string | undefined;
  try {
    created = mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    // Node's recursive mkdir reports ENOENT for a read-only filesystem (EROFS): ask once more
    // without recursion, so callers see the real reason (cache_unwritable, issue 15 item 9).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dir, { mode: 0o700 });
    created = dir;
  }
  if (created !== undefined) return; // made here, 0700 (the umask can only narrow it)
  requireTrustedDir(dir, what);
}

let tempSerial = 0;

/**
 * Creates a temp file next to `target` that did not exist before ('wx': never follows or reuses
 * an existing path, so a planted symlink cannot redirect the write). The name needs to be unique,
 * not secret: pid, time and a serial, and another name whenever one is taken (a stray temp file
 * left by a crashed process with the same pid). No node:crypto here: loading it costs the hot exec
 * entry, which writes the sidecar file through this, about a millisecond of start-up.
 */
function openTemp(target: string, mode: number): { tmp: string; fd: number } {
  const stem = join(dirname(target), `.${basename(target)}.${process.pid}.${Date.now().toString(36)}`);
  for (;;) {
    const tmp = `${stem}.${(tempSerial++).toString(36)}.tmp`;
    try {
      return { tmp, fd: openSync(tmp, 'wx', mode) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}

/**
 * Atomic replace: a uniquely named temp file in the same directory, written, fsynced and
 * renamed over the target, then the directory fsynced. A reader sees the old file or the new
 * one, never a half-written one, and a crash leaves at worst a stray temp file (never the target).
 *
 * `durable: false` skips the fsyncs, for files that must not outlive this process anyway (exec's
 * sidecar directory is removed when the parent exits and swept after a crash): the rename is just
 * as atomic for every reader, and an fsync costs milliseconds to tens of milliseconds on a busy
 * disk (measured: 15–18 ms each on this machine's ext4 /tmp under load, two per `exec` start).
 */
export function writeFileAtomic(target: string, content: string, mode = 0o600, opts: { durable?: boolean } = {}): void {
  const durable = opts.durable ?? true;
  const dir = dirname(target);
  const { tmp, fd } = openTemp(target, mode);
  try {
    try {
      writeSync(fd, content);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw err;
  }
  if (!durable) return;
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    // Directory fsync is best-effort (not supported on every platform).
  }
}
