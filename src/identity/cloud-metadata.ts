import { nothingFound, probePlan } from './detect.js';
import { probeMetadata } from './metadata-probe.js';
import type { IdentitySource } from './source.js';

/** The sources a metadata probe can choose, loaded only once chosen. */
const DELEGATES: Record<'gcp' | 'azure-imds' | 'aws', () => Promise<{ default: IdentitySource }>> = {
  gcp: () => import('./gcp.js'),
  'azure-imds': () => import('./azure-imds.js'),
  aws: () => import('./aws.js'),
};

let lastDelegate: IdentitySource | undefined;

/**
 * Internal source chosen by auto-detection when no local signal decides: probes the metadata
 * servers, then delegates to the source of the one that answered. Whether it mints on demand is
 * known only after the probe (the core reads it after fetch): until then, the safe answer, false.
 */
const cloudMetadata: IdentitySource = {
  name: 'cloud-metadata',
  get mintsOnDemand() {
    return lastDelegate?.mintsOnDemand ?? false;
  },
  describe(_options, env) {
    return `the cloud metadata server that answers a probe (${probePlan(env).clouds.join(', ') || 'none to ask'})`;
  },
  async fetch(ctx) {
    const plan = probePlan(ctx.env);
    const result = await probeMetadata(ctx.env, plan.clouds);
    if (!result.found) throw nothingFound(`probed (${plan.why}): ${result.summary}`);
    ctx.log.debug(`cloud-metadata: ${result.summary}; using ${result.found}`);
    const source = (await DELEGATES[result.found]()).default;
    const got = await source.fetch(ctx);
    lastDelegate = source;
    return { jwt: got.jwt, origin: `${got.origin} (found by the metadata probe)` };
  },
};

export default cloudMetadata;
