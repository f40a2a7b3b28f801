import { readEnv, type Env } from '../config/paths.js';
import { ACCESS_TOKEN_FIELD, azureResource } from './azure.js';
import { jsonBody, jwtField, metadataTimeout, sourceRequest, statusError } from './common.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

/** The IMDS base URL, as the Azure SDKs find it: AZURE_POD_IDENTITY_AUTHORITY_HOST, else the link-local address. */
export function imdsBase(env: Env): string {
  return (readEnv(env, 'AZURE_POD_IDENTITY_AUTHORITY_HOST') ?? 'http://169.254.169.254').trim().replace(/\/+$/, '');
}

const FIX = 'enable a managed identity on the VM / scale set (and pass "client_id" for a user-assigned one), or set AZURE_POD_IDENTITY_AUTHORITY_HOST';

/**
 * Azure Instance Metadata Service (spec §6): GET /metadata/identity/oauth2/token?api-version=2018-02-01
 * &resource=… (+ client_id) with `Metadata: true`; the JWT is `access_token`. IMDS caches tokens
 * and hands the same one out until it nears expiry (up to 24 h), so this source cannot mint on
 * demand. Retries follow the IMDS guidance (404, 410, 429, 5xx); never proxied.
 */
const azureImds: IdentitySource = {
  name: 'azure-imds',
  mintsOnDemand: false,
  describe(options, env) {
    return `Azure IMDS ${imdsBase(env)} for resource ${optionString(options, 'resource') ?? optionString(options, 'audience') ?? '(not configured)'}`;
  },
  async fetch(ctx) {
    const resource = azureResource('azure-imds', ctx.options);
    const query = new URLSearchParams({ 'api-version': '2018-02-01', resource });
    const clientId = optionString(ctx.options, 'client_id') ?? readEnv(ctx.env, 'AZURE_CLIENT_ID');
    if (clientId) query.set('client_id', clientId);
    const what = 'Azure IMDS';
    const res = await sourceRequest(ctx, {
      source: 'azure-imds',
      what,
      url: `${imdsBase(ctx.env)}/metadata/identity/oauth2/token?${query.toString()}`,
      headers: { metadata: 'true' },
      timeoutMs: metadataTimeout(ctx),
      // Metadata and link-local endpoints never go through a proxy, whatever the environment says.
      proxyEnv: {},
      retryOn: (s) => s === 404 || s === 410 || s === 429 || s >= 500,
      fix: FIX,
    });
    if (res.status !== 200) throw statusError('azure-imds', what, res, res.status === 400 ? `${FIX}; check that "resource" is the application ID URI (api://<APP_ID>)` : FIX);
    return { jwt: jwtField('azure-imds', what, jsonBody('azure-imds', what, res), ACCESS_TOKEN_FIELD), origin: `Azure IMDS (resource ${resource})` };
  },
};

export default azureImds;
