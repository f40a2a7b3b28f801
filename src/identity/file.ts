import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, statSync } from 'node:fs';
import { WifError } from '../util/errors.js';
import { trustedOwner } from '../util/trust.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

/** A JWT for the token endpoint is at most 16 KiB; anything much larger is not a token file. */
const MAX_TOKEN_FILE_BYTES = 64 * 1024;

export interface JwtFileOptions {
  /** The source reading it, for messages ("file", "kubernetes", "azure-workload-identity"). */
  source: string;
  /** The fix when the file cannot be opened. */
  missingHint: string;
}

/**
 * Reads a JWT that something else keeps fresh, the same way for every file-backed source:
 * - re-read on every call (kubelet rewrites projected tokens at 80 % of their life);
 * - symlinks followed (Kubernetes mounts projected tokens through `..data` symlinks);
 * - only a regular file, opened non-blocking (a FIFO swapped in cannot hang us), and checked
 *   through the descriptor it is read from, so the file checked is the file read;
 * - refused when group/world-writable or owned by another user (not this user, not root): that
 *   user could choose which identity we assert.
 */
export function readJwtFile(path: string, opts: JwtFileOptions): string {
  const what = `${opts.source}: identity token file ${path}`;
  let target: string;
  try {
    target = realpathSync(path);
    if (!statSync(target).isFile()) throw new WifError('identity_unavailable', `${what} is not a regular file`, { hint: opts.missingHint });
  } catch (err) {
    if (err instanceof WifError) throw err;
    throw new WifError('identity_unavailable', `${what} cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { hint: opts.missingHint });
  }
  let fd: number;
  try {
    fd = openSync(target, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw new WifError('identity_unavailable', `${what} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { hint: opts.missingHint });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new WifError('identity_unavailable', `${what} is not a regular file`, { hint: opts.missingHint });
    // Owned by this user or root (kubelet writes projected tokens as root): a JWT file another
    // user owns lets that user choose the identity asserted, as a writable one would (item 7).
    if (process.platform !== 'win32' && !trustedOwner(st.uid)) {
      throw new WifError('insecure_file', `${what}${target !== path ? ` (→ ${target})` : ''} belongs to uid ${st.uid}, not to this user (uid ${process.getuid?.()}) or root: that user could choose the identity asserted`, {
        hint: `have the platform write it as this user or root, or \`chown ${process.getuid?.()} ${target}\` after checking who writes it`,
      });
    }
    if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
      throw new WifError('insecure_file', `${what}${target !== path ? ` (→ ${target})` : ''} is group/world-writable (mode ${(st.mode & 0o777).toString(8)}): another user could choose the identity asserted`, {
        hint: `run \`chmod go-w ${target}\``,
      });
    }
    if (st.size > MAX_TOKEN_FILE_BYTES) {
      throw new WifError('identity_invalid', `${what} is ${st.size} bytes; a JWT for the token endpoint is at most 16 KiB`, { hint: 'point the source at the token file itself' });
    }
    const buf = Buffer.alloc(MAX_TOKEN_FILE_BYTES + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n >= buf.length) break;
    }
    if (n > MAX_TOKEN_FILE_BYTES) throw new WifError('identity_invalid', `${what} grew past ${MAX_TOKEN_FILE_BYTES} bytes while being read`);
    const jwt = buf.subarray(0, n).toString('utf8').trim();
    if (!jwt) throw new WifError('identity_unavailable', `${what} is empty`, { hint: 'wait for the platform to write it, or check the path' });
    return jwt;
  } finally {
    closeSync(fd);
  }
}

/**
 * A JWT in a file that something else keeps fresh (kubelet's projected token, spiffe-helper,
 * a CI step). It cannot mint: the core never re-sends a JWT from it that was already exchanged.
 */
const fileSource: IdentitySource = {
  name: 'file',
  mintsOnDemand: false,
  describe(options) {
    return `file ${optionString(options, 'path') ?? '(no path configured)'}`;
  },
  async fetch(ctx) {
    const path = optionString(ctx.options, 'path');
    if (!path) {
      throw new WifError('identity_unavailable', 'the "file" identity source has no path', {
        hint: 'set authentication.identity_token.path in the profile, or ANTHROPIC_IDENTITY_TOKEN_FILE',
      });
    }
    const jwt = readJwtFile(path, {
      source: 'file',
      missingHint: 'check the path; in Kubernetes, check the projected service-account token volume and its mountPath',
    });
    return { jwt, origin: `file ${path}` };
  },
};

export default fileSource;
