import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { readEnv, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { addSecret } from '../util/redact.js';
import { bodyDetail, sourceRequest, statusError } from './common.js';
import { audienceOf, intOption, optionString } from './options.js';
import type { IdentitySource } from './source.js';

const SIGNING_ALGORITHMS = ['RS256', 'ES384'];
const CREDENTIALS_FIX =
  'give the workload AWS credentials the SDK finds (instance profile, ECS task role, EKS Pod Identity or IRSA, AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)';

/** SHA-256 / HMAC-SHA-256 from node:crypto in the shape the Smithy signer expects (its `sha256` constructor). */
type SourceData = string | ArrayBuffer | ArrayBufferView;
const bytes = (d: SourceData): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

class NodeSha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    throw new Error('not supported');
  }
}

/**
 * Imports an AWS SDK package from node_modules at run time. The specifier is not a literal on
 * purpose: the bundler then leaves the SDK out of dist/cli.mjs (≈370 KB that every other command
 * would parse for nothing: +19 ms measured on each full-CLI start) and it loads only here.
 */
const runtimeImport = <T>(specifier: string): Promise<T> => import(specifier) as Promise<T>;

/**
 * The AWS SDK packages are optional peer dependencies: most users never run this source, and the
 * SDK is ~80 MB installed. A user who needs it installs them beside claude-wif.
 */
export const AWS_PACKAGES = ['@aws-sdk/credential-provider-node', '@smithy/signature-v4', '@smithy/core'] as const;
export const AWS_INSTALL_HINT = `install the AWS SDK beside claude-wif: npm install -g ${AWS_PACKAGES.join(' ')} (or npm install ${AWS_PACKAGES.join(' ')} in the project that depends on claude-wif)`;

async function importAws<T>(specifier: string): Promise<T> {
  try {
    return await runtimeImport<T>(specifier);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new WifError('identity_unavailable', `aws: the AWS SDK is not installed (${specifier} was not found); the aws source needs it and claude-wif does not install it by default`, {
        hint: AWS_INSTALL_HINT,
      });
    }
    throw err;
  }
}

function withDeadline<T>(p: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(onTimeout()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** STS endpoint: the configured one (AWS_ENDPOINT_URL_STS, then AWS_ENDPOINT_URL, as the SDKs do), else the regional one. */
export function stsEndpoint(env: Env, options: Record<string, unknown>, region: string): { url: string; origin: string } {
  const own = optionString(options, 'endpoint_url');
  if (own) return { url: own, origin: 'option endpoint_url' };
  if (!/^true$/i.test(readEnv(env, 'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS') ?? '')) {
    for (const name of ['AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL']) {
      const v = readEnv(env, name);
      if (v) return { url: v.trim(), origin: `env ${name}` };
    }
  }
  // GetWebIdentityToken is not served by the global endpoint: always the regional one.
  return { url: `https://sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`, origin: 'regional endpoint' };
}

/**
 * AWS outbound identity federation (spec §6): STS GetWebIdentityToken (query API, SigV4) with the
 * AWS SDK's own signer and default credential chain, both imported only when this source runs.
 * Every call mints a new JWT (sub = the role ARN, with a jti).
 */
const aws: IdentitySource = {
  name: 'aws',
  mintsOnDemand: true,
  describe(options, env) {
    return `AWS STS GetWebIdentityToken (region ${optionString(options, 'region') ?? readEnv(env, 'AWS_REGION') ?? readEnv(env, 'AWS_DEFAULT_REGION') ?? 'from the AWS config'}, audience ${audienceOf(options)})`;
  },
  async fetch(ctx) {
    const audience = audienceOf(ctx.options);
    const algorithm = (optionString(ctx.options, 'signing_algorithm') ?? 'RS256').toUpperCase();
    if (!SIGNING_ALGORITHMS.includes(algorithm)) {
      throw new WifError('config_invalid', `aws: signing_algorithm must be RS256 or ES384 (got ${JSON.stringify(algorithm)})`);
    }
    const duration = intOption(ctx.options, 'duration_seconds', 'aws', 60, 3600) ?? 300;
    const [{ SignatureV4 }, { defaultProvider }, config] = await Promise.all([
      importAws<typeof import('@smithy/signature-v4')>('@smithy/signature-v4'),
      importAws<typeof import('@aws-sdk/credential-provider-node')>('@aws-sdk/credential-provider-node'),
      importAws<typeof import('@smithy/core/config')>('@smithy/core/config'),
    ]);

    let region = optionString(ctx.options, 'region') ?? readEnv(ctx.env, 'AWS_REGION') ?? readEnv(ctx.env, 'AWS_DEFAULT_REGION');
    if (!region) {
      try {
        // The SDK's own region chain: AWS_REGION, the shared config file, then instance metadata.
        region = await withDeadline(config.loadConfig(config.NODE_REGION_CONFIG_OPTIONS, config.NODE_REGION_CONFIG_FILE_OPTIONS)(), ctx.timeoutMs, () => new Error('timed out'));
      } catch (err) {
        throw new WifError('identity_unavailable', `aws: no AWS region is configured (${(err as Error).message}); GetWebIdentityToken is only served by regional STS endpoints`, {
          hint: 'set AWS_REGION, "region" in the profile\'s claude_wif.identity, or region in ~/.aws/config',
        });
      }
    }
    if (!/^[a-z0-9-]+$/.test(region)) throw new WifError('config_invalid', `aws: region ${JSON.stringify(region)} is not a region name`);

    let credentials;
    try {
      credentials = await withDeadline(defaultProvider({ timeout: 2_000, maxRetries: 1 })(), ctx.timeoutMs, () => new Error(`no credentials within ${ctx.timeoutMs} ms`));
    } catch (err) {
      throw new WifError('identity_unavailable', `aws: the AWS SDK's default credential chain found no credentials (${(err as Error).message})`, { hint: CREDENTIALS_FIX });
    }
    addSecret(credentials.secretAccessKey);
    if (credentials.sessionToken) addSecret(credentials.sessionToken);

    const endpoint = stsEndpoint(ctx.env, ctx.options, region);
    let url: URL;
    try {
      url = new URL(endpoint.url);
    } catch {
      throw new WifError('config_invalid', `aws: the STS endpoint from ${endpoint.origin} is not a URL`);
    }
    const body = new URLSearchParams({
      Action: 'GetWebIdentityToken',
      Version: '2011-06-15',
      'Audience.member.1': audience,
      SigningAlgorithm: algorithm,
      DurationSeconds: String(duration),
    }).toString();
    const signer = new SignatureV4({ service: 'sts', region, credentials, sha256: NodeSha256 });
    const signed = await signer.sign({
      method: 'POST',
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname || '/',
      query: {},
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body,
    }, { signingDate: new Date(ctx.clock.now()) });
    const headers: Record<string, string> = { accept: 'text/xml', 'user-agent': 'claude-wif' };
    for (const [k, v] of Object.entries(signed.headers)) if (typeof v === 'string') headers[k.toLowerCase()] = v;
    const what = `STS GetWebIdentityToken (${endpoint.origin})`;
    const res = await sourceRequest(ctx, {
      source: 'aws',
      what,
      url: url.href,
      method: 'POST',
      headers,
      body,
      timeoutMs: ctx.timeoutMs,
      proxyEnv: ctx.env,
      fix: 'check network access to the regional STS endpoint (or AWS_ENDPOINT_URL_STS) and HTTPS_PROXY/NO_PROXY',
    });
    const text = res.body.toString('utf8');
    if (res.status >= 300 && res.status < 400) throw statusError('aws', what, res, 'check AWS_ENDPOINT_URL_STS / endpoint_url');
    if (res.status !== 200) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? '';
      const hint = /OutboundWebIdentityFederationDisabled/i.test(code)
        ? 'enable outbound identity federation for the account: `aws iam enable-outbound-web-identity-federation`'
        : /AccessDenied/i.test(code)
          ? 'allow sts:GetWebIdentityToken for this principal (condition sts:IdentityTokenAudience = the audience)'
          : /ExpiredToken|InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClient/i.test(code)
            ? CREDENTIALS_FIX
            : 'check the audience, signing_algorithm and duration_seconds options';
      throw new WifError('identity_unavailable', `aws: ${what} answered HTTP ${res.status}${bodyDetail(res)}`, { hint, details: { source: 'aws', status: res.status, code } });
    }
    const jwt = /<WebIdentityToken>\s*([^<\s]+)\s*<\/WebIdentityToken>/.exec(text)?.[1];
    if (!jwt) {
      throw new WifError('identity_invalid', `aws: ${what} answered 200 without a WebIdentityToken element`, { hint: 'check that the endpoint is AWS STS' });
    }
    return { jwt, origin: `AWS STS ${url.host} (region ${region}, audience ${audience})` };
  },
};

export default aws;
