import { existsSync } from 'node:fs';
import { WifError } from '../util/errors.js';
import { readJwtFile } from './file.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

/** The documented projected-token path for Anthropic (audience https://api.anthropic.com). */
export const ANTHROPIC_TOKEN_PATH = '/var/run/secrets/anthropic.com/token';
/** The pod's default service-account token (audience: the API server, unless the cluster says otherwise). */
export const DEFAULT_SA_TOKEN_PATH = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const PROJECTED_FIX =
  'mount a projected serviceAccountToken volume with audience https://api.anthropic.com at /var/run/secrets/anthropic.com (path "token"), or set "path" in the profile\'s claude_wif.identity';

/**
 * A Kubernetes service-account token file. The kubelet rewrites projected tokens at 80 % of
 * their life, so the file is re-read on every exchange; it cannot mint on demand.
 */
const kubernetes: IdentitySource = {
  name: 'kubernetes',
  mintsOnDemand: false,
  describe(options) {
    return `Kubernetes service-account token ${optionString(options, 'path') ?? `${ANTHROPIC_TOKEN_PATH} (then ${DEFAULT_SA_TOKEN_PATH})`}`;
  },
  async fetch(ctx) {
    let path = optionString(ctx.options, 'path');
    if (!path) {
      path = [ANTHROPIC_TOKEN_PATH, DEFAULT_SA_TOKEN_PATH].find((p) => existsSync(p));
      if (!path) {
        throw new WifError('identity_unavailable', `kubernetes: neither ${ANTHROPIC_TOKEN_PATH} nor ${DEFAULT_SA_TOKEN_PATH} exists (not running in a pod, or automountServiceAccountToken is off)`, {
          hint: PROJECTED_FIX,
        });
      }
      if (path === DEFAULT_SA_TOKEN_PATH) {
        ctx.log.debug(`kubernetes: using the default service-account token; its audience is usually the API server, so the federation rule must expect that audience (or project a dedicated token)`);
      }
    }
    return { jwt: readJwtFile(path, { source: 'kubernetes', missingHint: PROJECTED_FIX }), origin: `Kubernetes token ${path}` };
  },
};

export default kubernetes;
