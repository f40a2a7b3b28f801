import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { addSecret } from '../util/redact.js';
import { jsonBody, jwtField, sourceRequest, statusError } from './common.js';
import { audienceOf } from './options.js';
import type { IdentitySource } from './source.js';

const PERMISSIONS_FIX = 'add `permissions: id-token: write` to the job (or the workflow) in the workflow file';

/**
 * GitHub Actions' OIDC provider (spec §6): GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=<aud> with
 * `Authorization: Bearer $ACTIONS_ID_TOKEN_REQUEST_TOKEN`; the JWT is the JSON field `value`.
 * A new JWT (≈5 min, with a jti) may be requested at any time during the job.
 */
const githubActions: IdentitySource = {
  name: 'github-actions',
  mintsOnDemand: true,
  describe(options) {
    return `GitHub Actions OIDC token for audience ${audienceOf(options)}`;
  },
  async fetch(ctx) {
    const base = readEnv(ctx.env, 'ACTIONS_ID_TOKEN_REQUEST_URL');
    const requestToken = readEnv(ctx.env, 'ACTIONS_ID_TOKEN_REQUEST_TOKEN');
    if (!base || !requestToken) {
      const missing = [!base && 'ACTIONS_ID_TOKEN_REQUEST_URL', !requestToken && 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'].filter(Boolean).join(' and ');
      throw new WifError('identity_unavailable', `github-actions: ${missing} ${missing.includes(' and ') ? 'are' : 'is'} not set${readEnv(ctx.env, 'GITHUB_ACTIONS') ? ' in this GitHub Actions job' : ' (not running in GitHub Actions?)'}`, {
        hint: PERMISSIONS_FIX,
      });
    }
    addSecret(requestToken);
    const audience = audienceOf(ctx.options);
    // The request URL already carries a query (?api-version=…); the toolkit appends with '&'.
    const url = `${base}${base.includes('?') ? '&' : '?'}audience=${encodeURIComponent(audience)}`;
    const what = 'the GitHub Actions OIDC endpoint';
    const res = await sourceRequest(ctx, {
      source: 'github-actions',
      what,
      url,
      headers: { authorization: `Bearer ${requestToken}`, accept: 'application/json; api-version=2.0', 'user-agent': 'claude-wif' },
      timeoutMs: ctx.timeoutMs,
      proxyEnv: ctx.env,
      fix: 'check the runner’s network access to the Actions token service (and HTTPS_PROXY/NO_PROXY on self-hosted runners)',
    });
    if (res.status !== 200) {
      throw statusError('github-actions', what, res, res.status === 401 || res.status === 403 ? `${PERMISSIONS_FIX}; a token is only issued to jobs that have it` : 'retry the job; if it persists, check githubstatus.com');
    }
    return { jwt: jwtField('github-actions', what, jsonBody('github-actions', what, res), 'value'), origin: `GitHub Actions OIDC (audience ${audience})` };
  },
};

export default githubActions;
