import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detectSource, detectSourceWithProbe, DETECTORS, probePlan, type DetectDeps } from '../../src/identity/detect.js';
import { loadSource, SOURCE_NAMES, SOURCES } from '../../src/identity/source.js';
import { SOURCE_LIST } from '../../src/identity/names.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { WifError } from '../../src/util/errors.js';
import { silentLogger } from '../../src/util/log.js';
import { systemClock } from '../../src/util/clock.js';
import { azureImdsPeer, closedPort, gcpPeer, httpPeer, noCloud, type Peer } from '../helpers/platforms.js';

/** A Linux host with no files and no DMI: nothing but the environment decides. */
const bare = (files: Record<string, string> = {}, platform: NodeJS.Platform = 'linux'): DetectDeps => ({
  exists: (p) => p in files,
  readText: (p) => files[p],
  platform,
});

let sandbox: Sandbox;
let jwt: string;
beforeAll(async () => {
  sandbox = await startSandbox();
  jwt = await sandbox.mint();
});
afterAll(() => sandbox.close());

function detected(env: Record<string, string>, deps = bare()) {
  return detectSource(env, deps);
}

describe('detection: one platform signal each', () => {
  const cases: Array<[string, Record<string, string> | (() => Record<string, string>), string, Record<string, string>?]> = [
    ['ANTHROPIC_IDENTITY_TOKEN_FILE', { ANTHROPIC_IDENTITY_TOKEN_FILE: '/tmp/t' }, 'file'],
    ['ANTHROPIC_IDENTITY_TOKEN', () => ({ ANTHROPIC_IDENTITY_TOKEN: jwt }), 'env'],
    ['GitHub Actions', { ACTIONS_ID_TOKEN_REQUEST_URL: 'https://x/?a=1', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't' }, 'github-actions'],
    ['GitLab id_tokens', () => ({ GITLAB_CI: 'true', CI_SERVER_URL: sandbox.issuerUrl, ANTHROPIC_ID_TOKEN: jwt }), 'gitlab'],
    ['CircleCI', () => ({ CIRCLECI: 'true', CIRCLE_OIDC_TOKEN_V2: jwt }), 'circleci'],
    ['Buildkite', { BUILDKITE: 'true', BUILDKITE_AGENT_ACCESS_TOKEN: 'a', BUILDKITE_JOB_ID: 'j' }, 'buildkite'],
    ['Terraform Cloud', () => ({ TFC_WORKLOAD_IDENTITY_TOKEN: jwt }), 'terraform-cloud'],
    ['SPIFFE', { SPIFFE_ENDPOINT_SOCKET: 'unix:///run/spire/agent.sock' }, 'spiffe'],
    ['AKS workload identity', { AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token', AZURE_CLIENT_ID: 'c', AZURE_TENANT_ID: 't' }, 'azure-workload-identity'],
    ['App Service', { IDENTITY_ENDPOINT: 'http://127.0.0.1:41234/msi/token', IDENTITY_HEADER: 'h' }, 'azure-app-service'],
    ['ECS / EKS Pod Identity', { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials' }, 'aws'],
    ['IRSA', { AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/secrets/eks.amazonaws.com/serviceaccount/token', AWS_ROLE_ARN: 'arn:aws:iam::1:role/r' }, 'aws'],
    ['Lambda', { AWS_LAMBDA_FUNCTION_NAME: 'fn' }, 'aws'],
  ];
  for (const [label, env, source] of cases) {
    it(`${label} → ${source}`, () => {
      const d = detected(typeof env === 'function' ? env() : env);
      expect(d.source).toBe(source);
      expect(d.reason).not.toMatch(/also present/);
    });
  }

  it('the projected Anthropic token file → kubernetes (before any CI signal)', () => {
    const d = detected({ ACTIONS_ID_TOKEN_REQUEST_URL: 'u', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't' }, bare({ '/var/run/secrets/anthropic.com/token': 'x' }));
    expect(d).toMatchObject({ source: 'kubernetes', options: { path: '/var/run/secrets/anthropic.com/token' } });
  });

  it('the default service-account token → kubernetes, with the audience caveat', () => {
    const d = detected({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, bare({ '/var/run/secrets/kubernetes.io/serviceaccount/token': 'x' }));
    expect(d.source).toBe('kubernetes');
    expect(d.reason).toMatch(/API server/);
  });

  it('DMI vendor strings decide the cloud VM without any network', () => {
    expect(detected({}, bare({ '/sys/class/dmi/id/bios_vendor': 'Google', '/sys/class/dmi/id/product_name': 'Google Compute Engine' })).source).toBe('gcp');
    expect(detected({}, bare({ '/sys/class/dmi/id/chassis_asset_tag': '7783-7084-3265-9085-8269-3286-77' })).source).toBe('azure-imds');
    expect(detected({}, bare({ '/sys/class/dmi/id/sys_vendor': 'Amazon EC2' })).source).toBe('aws');
    expect(detected({}, bare({ '/sys/hypervisor/uuid': 'ec2e1916-9099-7caf-fd21-012345abcdef' })).source).toBe('aws');
    // A Hyper-V guest (or WSL) is not Azure without the asset tag.
    expect(() => detected({}, bare({ '/sys/class/dmi/id/sys_vendor': 'Microsoft Corporation' }))).toThrow(WifError);
  });

  it('GitLab without an id_tokens variable is not detected (and the fix says how)', () => {
    expect(() => detected({ GITLAB_CI: 'true', CI_SERVER_URL: 'https://gitlab.example.com', CI_JOB_JWT_V2: jwt })).toThrow(/id_tokens/);
  });
});

describe('ambiguous environments', () => {
  it('several signals: the first in the documented order wins, and the reason names the others', () => {
    const d = detected({ ACTIONS_ID_TOKEN_REQUEST_URL: 'u', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 't', SPIFFE_ENDPOINT_SOCKET: 'unix:///s', AWS_LAMBDA_FUNCTION_NAME: 'f' });
    expect(d.source).toBe('github-actions');
    expect(d.also).toEqual(['SPIFFE (spiffe)', 'AWS (containers, Lambda, IRSA) (aws)']);
    expect(d.reason).toMatch(/also present: SPIFFE \(spiffe\), AWS .*first in the documented detection order wins .*--identity-source/);
  });

  it('is deterministic: the same environment always gives the same answer', () => {
    const env = { IDENTITY_ENDPOINT: 'http://127.0.0.1:1/msi', IDENTITY_HEADER: 'h', AZURE_FEDERATED_TOKEN_FILE: '/f', KUBERNETES_SERVICE_HOST: 'k' };
    const deps = bare({ '/var/run/secrets/kubernetes.io/serviceaccount/token': 'x', '/sys/class/dmi/id/chassis_asset_tag': '7783-7084-3265-9085-8269-3286-77' });
    const answers = new Set(Array.from({ length: 5 }, () => detected(env, deps).source));
    expect([...answers]).toEqual(['azure-workload-identity']);
  });
});

describe('nothing found', () => {
  it('lists every check and a one-line fix per platform, and says why no probe ran', () => {
    let err: WifError | undefined;
    try {
      detected({});
    } catch (e) {
      err = e as WifError;
    }
    expect(err).toBeInstanceOf(WifError);
    expect(err!.code).toBe('identity_unavailable');
    expect(err!.exitCode).toBe(3);
    for (const d of DETECTORS) expect(err!.message).toContain(`${d.platform}: ${d.checks}: not found (fix: ${d.fix})`);
    expect(err!.message).toMatch(/metadata probe did not run: this Linux host is not a cloud VM/);
    expect(err!.message).toMatch(/Okta: never detected/);
    expect(err!.hint).toMatch(/--identity-source/);
  });
});

describe('the metadata probe (last, and only with a hint)', () => {
  it('probePlan: overrides probe that cloud only; Cloud Run variables probe Google; non-Linux probes all; never/always', () => {
    expect(probePlan({}, bare())).toMatchObject({ clouds: [] });
    expect(probePlan({ GCE_METADATA_HOST: '127.0.0.1:1' }, bare()).clouds).toEqual(['gcp']);
    expect(probePlan({ K_SERVICE: 'svc' }, bare()).clouds).toEqual(['gcp']);
    expect(probePlan({}, bare({}, 'darwin')).clouds).toEqual(['gcp', 'azure', 'aws']);
    expect(probePlan({ AWS_EC2_METADATA_DISABLED: 'true' }, bare({}, 'win32')).clouds).toEqual(['gcp', 'azure']);
    expect(probePlan({ CLAUDE_WIF_METADATA_PROBE: 'never' }, bare({}, 'darwin')).clouds).toEqual([]);
    expect(probePlan({ CLAUDE_WIF_METADATA_PROBE: 'always', AWS_EC2_METADATA_DISABLED: 'true' }, bare()).clouds).toEqual(['gcp', 'azure']);
  });

  it('a local signal means no probe at all (cloud-metadata only when nothing local decides)', () => {
    expect(detected({ GCE_METADATA_HOST: '127.0.0.1:1', SPIFFE_ENDPOINT_SOCKET: 'unix:///s' }).source).toBe('spiffe');
    expect(detected({ GCE_METADATA_HOST: '127.0.0.1:1' })).toMatchObject({ source: 'cloud-metadata' });
  });

  describe('against local metadata servers', () => {
    let gcp: Peer;
    let azure: Peer;
    let silent: Peer;
    let port: number;
    beforeAll(async () => {
      gcp = await gcpPeer((o) => sandbox.mint(o));
      azure = await azureImdsPeer((o) => sandbox.mint(o));
      // Accepts the connection and never answers: the probe's deadline must end it.
      silent = await httpPeer(() => new Promise(() => {}));
      port = await closedPort();
    });
    afterAll(async () => {
      await gcp.close();
      await azure.close();
      await silent.close();
    });

    it('finds Google by its Metadata-Flavor answer, then the gcp source fetches through it', async () => {
      const env = { ...noCloud(port), GCE_METADATA_HOST: `127.0.0.1:${gcp.port}` };
      await expect(detectSourceWithProbe(env, bare())).resolves.toMatchObject({ source: 'gcp' });
      const src = await loadSource('cloud-metadata');
      const got = await src.fetch({ env, clock: systemClock, log: silentLogger, options: {}, timeoutMs: 5_000 });
      expect(got.origin).toMatch(/found by the metadata probe/);
      expect(src.mintsOnDemand).toBe(true);
      expect(gcp.requests.some((r) => r.url === '/computeMetadata/v1/' && r.headers['metadata-flavor'] === 'Google')).toBe(true);
    });

    it('finds Azure IMDS by /metadata/instance with Metadata: true', async () => {
      const env = { ...noCloud(port), GCE_METADATA_HOST: '', AZURE_POD_IDENTITY_AUTHORITY_HOST: azure.url };
      await expect(detectSourceWithProbe(env, bare())).resolves.toMatchObject({ source: 'azure-imds' });
    });

    it('nothing answering (refused, or silent past the short deadline): the nothing-found error with the probe results', async () => {
      const env = { ...noCloud(port), AZURE_POD_IDENTITY_AUTHORITY_HOST: silent.url, CLAUDE_WIF_METADATA_PROBE_TIMEOUT_MS: '300' };
      const started = Date.now();
      const err = await detectSourceWithProbe(env, bare()).catch((e: unknown) => e as WifError);
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(err).toBeInstanceOf(WifError);
      expect((err as WifError).message).toMatch(/metadata probe: gcp: no \(.*\); azure: no \(.*within 300 ms\)/);
    });
  });
});

describe('registry', () => {
  it('every named source has a module, every module is named, and mintsOnDemand is declared', async () => {
    expect(SOURCE_NAMES()).toEqual([...SOURCE_LIST, 'auto']);
    expect(Object.keys(SOURCES).sort()).toEqual([...SOURCE_LIST, 'cloud-metadata'].sort());
    const minting: Record<string, boolean> = {};
    for (const name of SOURCE_LIST) {
      const s = await loadSource(name);
      expect(s.name).toBe(name);
      minting[name] = s.mintsOnDemand;
    }
    expect(minting).toEqual({
      file: false,
      env: false,
      command: false,
      'github-actions': true,
      gitlab: false,
      kubernetes: false,
      gcp: true,
      'azure-imds': false,
      'azure-app-service': false,
      'azure-workload-identity': true,
      aws: true,
      spiffe: false,
      okta: true,
      circleci: false,
      buildkite: true,
      'terraform-cloud': false,
    });
  });
});
