import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { ACCESS_TOKEN_FIELD, azureResource } from './azure.js';
import { jsonBody, jwtField, requireHttps, sourceRequest, statusError } from './common.js';
import { readJwtFile } from './file.js';
import { optionString } from './options.js';
import type { IdentitySource } from './source.js';

const WEBHOOK_FIX = 'label the pod `azure.workload.identity/use: "true"` and annotate its service account with `azure.workload.identity/client-id` (the webhook then sets AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE)';

/**
 * AKS workload identity (spec §6): the projected token in AZURE_FEDERATED_TOKEN_FILE is the client
 * assertion of an Entra client-credentials request to
 * $AZURE_AUTHORITY_HOST/$AZURE_TENANT_ID/oauth2/v2.0/token with scope api://<APP_ID>/.default;
 * the answer's `access_token` is the JWT. Entra issues a new token for every request, so this
 * source mints on demand (the assertion file itself may be reused until the kubelet rotates it).
 */
const azureWorkloadIdentity: IdentitySource = {
  name: 'azure-workload-identity',
  mintsOnDemand: true,
  describe(options, env) {
    return `Entra workload identity (tenant ${optionString(options, 'tenant_id') ?? readEnv(env, 'AZURE_TENANT_ID') ?? '?'}, client ${optionString(options, 'client_id') ?? readEnv(env, 'AZURE_CLIENT_ID') ?? '?'})`;
  },
  async fetch(ctx) {
    const tenant = optionString(ctx.options, 'tenant_id') ?? readEnv(ctx.env, 'AZURE_TENANT_ID');
    const clientId = optionString(ctx.options, 'client_id') ?? readEnv(ctx.env, 'AZURE_CLIENT_ID');
    const tokenFile = optionString(ctx.options, 'token_file') ?? readEnv(ctx.env, 'AZURE_FEDERATED_TOKEN_FILE');
    const missing = [!tenant && 'AZURE_TENANT_ID', !clientId && 'AZURE_CLIENT_ID', !tokenFile && 'AZURE_FEDERATED_TOKEN_FILE'].filter(Boolean);
    if (missing.length) throw new WifError('identity_unavailable', `azure-workload-identity: ${missing.join(', ')} not set`, { hint: WEBHOOK_FIX });
    if (!/^[A-Za-z0-9.-]+$/.test(tenant!)) throw new WifError('config_invalid', `azure-workload-identity: tenant ${JSON.stringify(tenant)} is not a tenant id or domain`);
    const scope = optionString(ctx.options, 'scope') ?? `${azureResource('azure-workload-identity', ctx.options).replace(/\/+$/, '')}/.default`;
    const assertion = readJwtFile(tokenFile!, { source: 'azure-workload-identity', missingHint: WEBHOOK_FIX });
    const authority = (readEnv(ctx.env, 'AZURE_AUTHORITY_HOST') ?? 'https://login.microsoftonline.com/').trim().replace(/\/*$/, '/');
    const what = 'the Entra token endpoint';
    requireHttps('azure-workload-identity', authority, 'the Entra authority (AZURE_AUTHORITY_HOST)');
    const res = await sourceRequest(ctx, {
      source: 'azure-workload-identity',
      what,
      url: `${authority}${encodeURIComponent(tenant!)}/oauth2/v2.0/token`,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', 'user-agent': 'claude-wif' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: clientId!,
        scope,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }).toString(),
      timeoutMs: ctx.timeoutMs,
      proxyEnv: ctx.env,
      fix: 'check network access to the Entra authority (AZURE_AUTHORITY_HOST) and HTTPS_PROXY/NO_PROXY',
    });
    if (res.status !== 200) {
      throw statusError('azure-workload-identity', what, res, 'check the federated identity credential on the Entra app (issuer = the cluster OIDC issuer, subject = system:serviceaccount:<ns>:<sa>) and the scope api://<APP_ID>/.default');
    }
    return { jwt: jwtField('azure-workload-identity', what, jsonBody('azure-workload-identity', what, res), ACCESS_TOKEN_FIELD), origin: `Entra workload identity (scope ${scope})` };
  },
};

export default azureWorkloadIdentity;
