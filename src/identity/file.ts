import { readFileSync, realpathSync, statSync } from 'node:fs';
import { WifError } from '../util/errors.js';
import { optionString, type IdentitySource } from './source.js';

/**
 * A JWT in a file that something else keeps fresh (kubelet's projected token, spiffe-helper,
 * a CI step). Re-read on every exchange; symlinks are followed because Kubernetes mounts
 * projected tokens through ..data symlinks.
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
    let target: string;
    try {
      target = realpathSync(path);
    } catch (err) {
      throw new WifError('identity_unavailable', `identity token file ${path} cannot be opened (${(err as NodeJS.ErrnoException).code ?? 'error'})`, {
        hint: 'check the path; in Kubernetes, check the projected service-account token volume and its mountPath',
      });
    }
    const st = statSync(target);
    if (!st.isFile()) throw new WifError('identity_unavailable', `identity token path ${path} is not a regular file`);
    // A writable-by-others token file lets another local user choose which identity we assert.
    if (process.platform !== 'win32' && (st.mode & 0o022) !== 0) {
      throw new WifError('insecure_file', `identity token file ${target} is group/world-writable (mode ${(st.mode & 0o777).toString(8)})`, {
        hint: `run \`chmod go-w ${target}\``,
      });
    }
    if (st.size > 64 * 1024) {
      throw new WifError('identity_invalid', `identity token file ${path} is ${st.size} bytes; a JWT for the token endpoint is at most 16 KiB`);
    }
    const jwt = readFileSync(target, 'utf8').trim();
    if (!jwt) throw new WifError('identity_unavailable', `identity token file ${path} is empty`, { hint: 'wait for the platform to write it, or check the path' });
    return { jwt, origin: `file ${path}` };
  },
};

export default fileSource;
