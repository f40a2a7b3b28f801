import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync, chmodSync, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

/** Creates a directory (and parents) for secrets: the leaf gets 0700 even if it already existed with wider bits we created. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = statSync(dir);
  if ((st.mode & 0o077) !== 0 && typeof process.getuid === 'function' && st.uid === process.getuid()) {
    chmodSync(dir, 0o700);
  }
}

/**
 * Atomic replace: a uniquely named temp file in the same directory, written, fsynced and
 * renamed over the target, then the directory fsynced. A reader sees the old file or the new
 * one, never a half-written one, and a crash leaves at worst a stray temp file (never the target).
 */
export function writeFileAtomic(target: string, content: string, mode = 0o600): void {
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow or reuse an existing path (a planted symlink cannot redirect the write).
  const fd = openSync(tmp, 'wx', mode);
  try {
    try {
      writeSync(fd, content);
      fsyncSync(fd);
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
