import { readEnv, type Env } from '../config/paths.js';
import { header, httpRequest } from '../util/http.js';
import { imdsBase } from './azure-imds.js';
import { gceMetadataHost } from './gcp.js';

export type Cloud = 'gcp' | 'azure' | 'aws';
const SOURCE_FOR: Record<Cloud, 'gcp' | 'azure-imds' | 'aws'> = { gcp: 'gcp', azure: 'azure-imds', aws: 'aws' };

export interface ProbeResult {
  found?: 'gcp' | 'azure-imds' | 'aws';
  /** One line per cloud asked: what answered, or why not. */
  summary: string;
}

/**
 * Asks each metadata server, in parallel, whether it is there: Google's (`Metadata-Flavor: Google`
 * echoed), Azure IMDS (/metadata/instance with `Metadata: true`), AWS IMDSv2 (PUT /latest/api/token).
 * Link-local, so never proxied; a short deadline (CLAUDE_WIF_METADATA_PROBE_TIMEOUT_MS, default
 * 1 s) because a machine without a metadata server may not even refuse the connection.
 */
export async function probeMetadata(env: Env, clouds: Cloud[]): Promise<ProbeResult> {
  const t = Number(readEnv(env, 'CLAUDE_WIF_METADATA_PROBE_TIMEOUT_MS'));
  const timeoutMs = Number.isFinite(t) && t > 0 ? t : 1_000;
  const ask = async (cloud: Cloud): Promise<string | true> => {
    try {
      if (cloud === 'gcp') {
        // GCE_METADATA_HOST when set; else the link-local address (no DNS lookup on non-Google machines).
        const host = readEnv(env, 'GCE_METADATA_HOST') ? gceMetadataHost(env).host : '169.254.169.254';
        const res = await httpRequest({ url: `http://${host}/computeMetadata/v1/`, headers: { 'metadata-flavor': 'Google' }, timeoutMs, maxBytes: 4096, proxyEnv: {} });
        return res.status === 200 && header(res, 'metadata-flavor') === 'Google' ? true : `HTTP ${res.status} without Metadata-Flavor: Google`;
      }
      if (cloud === 'azure') {
        const res = await httpRequest({ url: `${imdsBase(env)}/metadata/instance?api-version=2021-02-01`, headers: { metadata: 'true' }, timeoutMs, maxBytes: 64 * 1024, proxyEnv: {} });
        return res.status === 200 && res.body.toString('utf8').includes('"compute"') ? true : `HTTP ${res.status}`;
      }
      const base = (readEnv(env, 'AWS_EC2_METADATA_SERVICE_ENDPOINT') ?? 'http://169.254.169.254').trim().replace(/\/+$/, '');
      const res = await httpRequest({ url: `${base}/latest/api/token`, method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' }, timeoutMs, maxBytes: 4096, proxyEnv: {} });
      return res.status === 200 ? true : `HTTP ${res.status}`;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const answers = await Promise.all(clouds.map(ask));
  const found = clouds.find((_, i) => answers[i] === true);
  const summary = clouds.map((c, i) => `${c}: ${answers[i] === true ? 'answered' : `no (${answers[i]})`}`).join('; ');
  return { ...(found ? { found: SOURCE_FOR[found] } : {}), summary };
}
