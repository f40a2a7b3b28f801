import { readEnv, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { header } from '../util/http.js';
import { metadataTimeout, sourceRequest, statusError } from './common.js';
import { audienceOf, optionString } from './options.js';
import type { IdentitySource } from './source.js';

/**
 * The metadata server's host, as Google's own libraries find it: GCE_METADATA_HOST (`host:port`)
 * when set (emulators, tests, GKE sandboxes), else metadata.google.internal.
 */
export function gceMetadataHost(env: Env): { host: string; origin: string } {
  const h = readEnv(env, 'GCE_METADATA_HOST')?.trim();
  return h ? { host: h.replace(/^https?:\/\//, '').replace(/\/+$/, ''), origin: 'GCE_METADATA_HOST' } : { host: 'metadata.google.internal', origin: 'default' };
}

const FIX = 'run on Google Cloud (GCE, GKE with Workload Identity, Cloud Run, Cloud Functions) with a service account attached, or set GCE_METADATA_HOST';

/**
 * Google Cloud's metadata server (spec §6): GET …/service-accounts/<sa>/identity?audience=…&format=full
 * with `Metadata-Flavor: Google`; the body is the raw JWT (iss https://accounts.google.com). Every
 * call signs a new token, so it mints on demand. Never proxied, short deadline.
 */
const gcp: IdentitySource = {
  name: 'gcp',
  mintsOnDemand: true,
  describe(options, env) {
    return `Google Cloud metadata server ${gceMetadataHost(env).host}, service account ${optionString(options, 'service_account') ?? 'default'}, audience ${audienceOf(options)}`;
  },
  async fetch(ctx) {
    const { host } = gceMetadataHost(ctx.env);
    const audience = audienceOf(ctx.options);
    const account = optionString(ctx.options, 'service_account') ?? 'default';
    const format = optionString(ctx.options, 'format') ?? 'full';
    if (format !== 'full' && format !== 'standard') throw new WifError('config_invalid', `gcp: option format must be "full" or "standard" (got ${JSON.stringify(format)})`);
    const query = new URLSearchParams({ audience, format });
    if (ctx.options['licenses'] === true || ctx.options['licenses'] === 'true') query.set('licenses', 'TRUE');
    const url = `http://${host}/computeMetadata/v1/instance/service-accounts/${encodeURIComponent(account)}/identity?${query.toString()}`;
    const what = 'the Google Cloud metadata server';
    const res = await sourceRequest(ctx, {
      source: 'gcp',
      what,
      url,
      headers: { 'metadata-flavor': 'Google' },
      timeoutMs: metadataTimeout(ctx),
      // Metadata and link-local endpoints never go through a proxy, whatever the environment says.
      proxyEnv: {},
      maxBytes: 64 * 1024,
      fix: FIX,
    });
    if (res.status === 404) {
      throw statusError('gcp', `${what} (service account "${account}")`, res, 'attach a service account to the instance / service (or name an existing one with "service_account")');
    }
    if (res.status !== 200) throw statusError('gcp', what, res, FIX);
    // Google's metadata server always answers with this header; anything else is not it.
    if (header(res, 'metadata-flavor') !== 'Google') {
      throw new WifError('identity_invalid', `gcp: the server at ${host} answered without "Metadata-Flavor: Google"; it is not a Google metadata server`, { hint: FIX });
    }
    return { jwt: res.body.toString('utf8').trim(), origin: `Google Cloud metadata ${host} (service account ${account}, audience ${audience})` };
  },
};

export default gcp;
