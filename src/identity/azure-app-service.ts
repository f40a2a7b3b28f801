import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { addSecret } from '../util/redact.js';
import { ACCESS_TOKEN_FIELD, azureResource } from './azure.js';
import { jsonBody, jwtField, metadataTimeout, sourceRequest, statusError } from './common.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

const FIX = 'turn on the managed identity of the App Service / Function / Container App (the platform then sets IDENTITY_ENDPOINT and IDENTITY_HEADER)';

/**
 * App Service, Functions and Container Apps (spec §6): GET $IDENTITY_ENDPOINT?api-version=2019-08-01
 * &resource=… with `X-IDENTITY-HEADER: $IDENTITY_HEADER`; the JWT is `access_token`. The local
 * endpoint caches tokens, so this source cannot mint on demand. Never proxied.
 */
const azureAppService: IdentitySource = {
  name: 'azure-app-service',
  mintsOnDemand: false,
  describe(options, env) {
    return `Azure managed identity endpoint ${readEnv(env, 'IDENTITY_ENDPOINT') ?? '(IDENTITY_ENDPOINT not set)'} for resource ${optionString(options, 'resource') ?? optionString(options, 'audience') ?? '(not configured)'}`;
  },
  async fetch(ctx) {
    const endpoint = readEnv(ctx.env, 'IDENTITY_ENDPOINT');
    const secret = readEnv(ctx.env, 'IDENTITY_HEADER');
    if (!endpoint || !secret) {
      throw new WifError('identity_unavailable', `azure-app-service: ${!endpoint ? 'IDENTITY_ENDPOINT' : 'IDENTITY_HEADER'} is not set`, { hint: FIX });
    }
    // The header value is a per-site secret: never let it reach a message.
    addSecret(secret);
    const resource = azureResource('azure-app-service', ctx.options);
    const query = new URLSearchParams({ 'api-version': '2019-08-01', resource });
    const clientId = optionString(ctx.options, 'client_id') ?? readEnv(ctx.env, 'AZURE_CLIENT_ID');
    if (clientId) query.set('client_id', clientId);
    const what = 'the managed identity endpoint';
    const res = await sourceRequest(ctx, {
      source: 'azure-app-service',
      what,
      url: `${endpoint}${endpoint.includes('?') ? '&' : '?'}${query.toString()}`,
      headers: { 'x-identity-header': secret },
      timeoutMs: metadataTimeout(ctx),
      // Metadata and link-local endpoints never go through a proxy, whatever the environment says.
      proxyEnv: {},
      fix: FIX,
    });
    if (res.status !== 200) throw statusError('azure-app-service', what, res, res.status === 400 || res.status === 404 ? `${FIX}; check "resource" (api://<APP_ID>) and "client_id"` : FIX);
    return { jwt: jwtField('azure-app-service', what, jsonBody('azure-app-service', what, res), ACCESS_TOKEN_FIELD), origin: `Azure managed identity (resource ${resource})` };
  },
};

export default azureAppService;
