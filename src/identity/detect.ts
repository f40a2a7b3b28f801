import { existsSync, readFileSync } from 'node:fs';
import { readEnv, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { chooseGitlabVariable } from './gitlab.js';
import { ANTHROPIC_TOKEN_PATH, DEFAULT_SA_TOKEN_PATH } from './kubernetes.js';
import { DEFAULT_AUDIENCE } from '../protocol.js';
import { chooseTfcVariable } from './terraform-cloud.js';

export interface Detection {
  source: string;
  /** Why this source was chosen, for `status` and `identity`. */
  reason: string;
  /** Options the signal implies (e.g. the file path). */
  options: Record<string, unknown>;
  /** Other platforms whose signals are also present (the first in the documented order won). */
  also?: string[];
}

/** What detection may look at besides the environment: the file system (Kubernetes tokens, DMI) and the OS. */
export interface DetectDeps {
  exists(path: string): boolean;
  /** Trimmed contents of a small file, or undefined. */
  readText(path: string): string | undefined;
  platform: NodeJS.Platform;
}

export const realDetectDeps: DetectDeps = {
  exists: (p) => existsSync(p),
  readText: (p) => {
    try {
      return readFileSync(p, 'utf8').trim();
    } catch {
      return undefined;
    }
  },
  platform: process.platform,
};

interface Detector {
  /** Platform label for messages. */
  platform: string;
  /** What is checked, for the "nothing found" message. */
  checks: string;
  /** The one-line fix for this platform. */
  fix: string;
  detect(env: Env, deps: DetectDeps): Omit<Detection, 'also'> | undefined;
}

// DMI values the clouds set in every VM (what cloud-init and Google's own libraries read).
const DMI = '/sys/class/dmi/id';
const AZURE_ASSET_TAG = '7783-7084-3265-9085-8269-3286-77';

function dmiCloud(deps: DetectDeps): 'gcp' | 'azure' | 'aws' | undefined {
  if (deps.platform !== 'linux') return undefined;
  const read = (f: string) => deps.readText(`${DMI}/${f}`) ?? '';
  if (/^Google/.test(read('bios_vendor')) || /Google Compute Engine/.test(read('product_name'))) return 'gcp';
  if (read('chassis_asset_tag') === AZURE_ASSET_TAG) return 'azure';
  if (/Amazon EC2/.test(read('sys_vendor')) || /Amazon EC2/.test(read('bios_vendor')) || /^ec2/i.test(deps.readText('/sys/hypervisor/uuid') ?? '')) return 'aws';
  return undefined;
}

const yes = (v: string | undefined) => v !== undefined && /^(true|1|yes)$/i.test(v.trim());

/**
 * Auto-detection, in this documented order, from unambiguous local signals only: environment
 * variables, well-known files and the VM's DMI vendor strings. No network is touched while a
 * local signal decides; only when none does, a short metadata-server probe runs last
 * (metadata-probe.ts, run by the cloud-metadata source). Explicit Anthropic configuration comes first, then CI systems (a CI job
 * may run on a cloud VM: the job identity is the specific one), then workload platforms, then
 * the VM's own cloud identity, then the pod's default service-account token (its audience is
 * the API server, the weakest signal).
 */
export const DETECTORS: Detector[] = [
  {
    platform: 'identity token file',
    checks: 'ANTHROPIC_IDENTITY_TOKEN_FILE',
    fix: 'export ANTHROPIC_IDENTITY_TOKEN_FILE=/path/to/jwt',
    detect: (env) => {
      const path = readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN_FILE');
      return path ? { source: 'file', reason: 'ANTHROPIC_IDENTITY_TOKEN_FILE is set', options: { path } } : undefined;
    },
  },
  {
    platform: 'identity token variable',
    checks: 'ANTHROPIC_IDENTITY_TOKEN',
    fix: 'export ANTHROPIC_IDENTITY_TOKEN=<jwt>',
    detect: (env) =>
      readEnv(env, 'ANTHROPIC_IDENTITY_TOKEN')
        ? { source: 'env', reason: 'ANTHROPIC_IDENTITY_TOKEN is set', options: { variable: 'ANTHROPIC_IDENTITY_TOKEN' } }
        : undefined,
  },
  {
    platform: 'Kubernetes (projected token)',
    checks: `${ANTHROPIC_TOKEN_PATH} exists`,
    fix: `project a serviceAccountToken with audience ${DEFAULT_AUDIENCE} at ${ANTHROPIC_TOKEN_PATH}`,
    detect: (_env, deps) =>
      deps.exists(ANTHROPIC_TOKEN_PATH) ? { source: 'kubernetes', reason: `the projected token ${ANTHROPIC_TOKEN_PATH} exists`, options: { path: ANTHROPIC_TOKEN_PATH } } : undefined,
  },
  {
    platform: 'GitHub Actions',
    checks: 'ACTIONS_ID_TOKEN_REQUEST_URL + ACTIONS_ID_TOKEN_REQUEST_TOKEN',
    fix: 'add `permissions: id-token: write` to the job',
    detect: (env) =>
      readEnv(env, 'ACTIONS_ID_TOKEN_REQUEST_URL') && readEnv(env, 'ACTIONS_ID_TOKEN_REQUEST_TOKEN')
        ? { source: 'github-actions', reason: 'ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are set (a GitHub Actions job with id-token: write)', options: {} }
        : undefined,
  },
  {
    platform: 'GitLab CI',
    checks: 'GITLAB_CI + an id_tokens variable holding a JWT from CI_SERVER_URL',
    fix: `add \`id_tokens: { ANTHROPIC_ID_TOKEN: { aud: ${DEFAULT_AUDIENCE} } }\` to the job`,
    detect: (env) => {
      if (!yes(readEnv(env, 'GITLAB_CI'))) return undefined;
      const choice = chooseGitlabVariable(env, DEFAULT_AUDIENCE);
      return choice.variable ? { source: 'gitlab', reason: `GITLAB_CI is set and ${choice.reason}`, options: { variable: choice.variable } } : undefined;
    },
  },
  {
    platform: 'CircleCI',
    checks: 'CIRCLECI + CIRCLE_OIDC_TOKEN_V2',
    fix: 'run in a CircleCI job (it sets CIRCLE_OIDC_TOKEN_V2)',
    detect: (env) =>
      yes(readEnv(env, 'CIRCLECI')) && (readEnv(env, 'CIRCLE_OIDC_TOKEN_V2') || readEnv(env, 'CIRCLE_OIDC_TOKEN'))
        ? { source: 'circleci', reason: 'CIRCLECI and CIRCLE_OIDC_TOKEN_V2 are set', options: {} }
        : undefined,
  },
  {
    platform: 'Buildkite',
    checks: 'BUILDKITE + BUILDKITE_AGENT_ACCESS_TOKEN + BUILDKITE_JOB_ID',
    fix: 'run in a Buildkite job (buildkite-agent oidc request-token)',
    detect: (env) =>
      yes(readEnv(env, 'BUILDKITE')) && readEnv(env, 'BUILDKITE_AGENT_ACCESS_TOKEN') && readEnv(env, 'BUILDKITE_JOB_ID')
        ? { source: 'buildkite', reason: 'BUILDKITE, BUILDKITE_AGENT_ACCESS_TOKEN and BUILDKITE_JOB_ID are set (a Buildkite job)', options: {} }
        : undefined,
  },
  {
    platform: 'Terraform Cloud',
    checks: 'TFC_WORKLOAD_IDENTITY_TOKEN[_<TAG>]',
    fix: `set TFC_WORKLOAD_IDENTITY_AUDIENCE=${DEFAULT_AUDIENCE} on the workspace`,
    detect: (env) => {
      const choice = chooseTfcVariable(env, {});
      if (!choice.variable) return undefined;
      const tag = choice.variable.slice('TFC_WORKLOAD_IDENTITY_TOKEN_'.length);
      return { source: 'terraform-cloud', reason: choice.reason, options: choice.variable === 'TFC_WORKLOAD_IDENTITY_TOKEN' ? {} : { tag } };
    },
  },
  {
    platform: 'SPIFFE',
    checks: 'SPIFFE_ENDPOINT_SOCKET',
    fix: 'export SPIFFE_ENDPOINT_SOCKET=unix:///run/spire/sockets/agent.sock',
    detect: (env) =>
      readEnv(env, 'SPIFFE_ENDPOINT_SOCKET') ? { source: 'spiffe', reason: 'SPIFFE_ENDPOINT_SOCKET is set (a SPIFFE Workload API agent)', options: {} } : undefined,
  },
  {
    platform: 'AKS workload identity',
    checks: 'AZURE_FEDERATED_TOKEN_FILE',
    fix: 'label the pod azure.workload.identity/use: "true" (sets AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID)',
    detect: (env) =>
      readEnv(env, 'AZURE_FEDERATED_TOKEN_FILE')
        ? { source: 'azure-workload-identity', reason: 'AZURE_FEDERATED_TOKEN_FILE is set (AKS workload identity)', options: {} }
        : undefined,
  },
  {
    platform: 'Azure App Service / Functions / Container Apps',
    checks: 'IDENTITY_ENDPOINT + IDENTITY_HEADER',
    fix: 'turn on the managed identity of the app',
    detect: (env) =>
      readEnv(env, 'IDENTITY_ENDPOINT') && readEnv(env, 'IDENTITY_HEADER')
        ? { source: 'azure-app-service', reason: 'IDENTITY_ENDPOINT and IDENTITY_HEADER are set (an Azure managed identity endpoint)', options: {} }
        : undefined,
  },
  {
    platform: 'AWS (containers, Lambda, IRSA)',
    checks: 'AWS_CONTAINER_CREDENTIALS_FULL_URI / _RELATIVE_URI, AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, AWS_LAMBDA_FUNCTION_NAME',
    fix: 'run with an ECS task role, EKS Pod Identity / IRSA, or a Lambda execution role (or --identity-source aws with any AWS credentials)',
    detect: (env) => {
      const signal = readEnv(env, 'AWS_CONTAINER_CREDENTIALS_FULL_URI')
        ? 'AWS_CONTAINER_CREDENTIALS_FULL_URI'
        : readEnv(env, 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI')
          ? 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'
          : readEnv(env, 'AWS_WEB_IDENTITY_TOKEN_FILE') && readEnv(env, 'AWS_ROLE_ARN')
            ? 'AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN'
            : readEnv(env, 'AWS_LAMBDA_FUNCTION_NAME')
              ? 'AWS_LAMBDA_FUNCTION_NAME'
              : undefined;
      return signal ? { source: 'aws', reason: `${signal} ${signal.includes(' and ') ? 'are' : 'is'} set (AWS credentials for STS GetWebIdentityToken)`, options: {} } : undefined;
    },
  },
  {
    platform: 'cloud VM (DMI)',
    checks: `${DMI} vendor strings (Google, Azure asset tag, Amazon EC2)`,
    fix: 'on GCE attach a service account; on Azure enable a managed identity; on EC2 attach an instance profile',
    detect: (env, deps) => {
      const cloud = dmiCloud(deps);
      if (cloud === 'gcp') return { source: 'gcp', reason: `the VM's DMI vendor is Google (Compute Engine)`, options: {} };
      if (cloud === 'azure') return { source: 'azure-imds', reason: `the VM's DMI asset tag is Azure's`, options: {} };
      if (cloud === 'aws' && !yes(readEnv(env, 'AWS_EC2_METADATA_DISABLED'))) return { source: 'aws', reason: `the VM's DMI vendor is Amazon EC2`, options: {} };
      return undefined;
    },
  },
  {
    platform: 'Kubernetes (service-account token)',
    checks: `KUBERNETES_SERVICE_HOST + ${DEFAULT_SA_TOKEN_PATH}`,
    fix: `or better, project a token with audience ${DEFAULT_AUDIENCE} at ${ANTHROPIC_TOKEN_PATH}`,
    detect: (env, deps) =>
      readEnv(env, 'KUBERNETES_SERVICE_HOST') && deps.exists(DEFAULT_SA_TOKEN_PATH)
        ? {
            source: 'kubernetes',
            reason: `KUBERNETES_SERVICE_HOST is set and ${DEFAULT_SA_TOKEN_PATH} exists (its audience is usually the API server: the federation rule must expect it)`,
            options: { path: DEFAULT_SA_TOKEN_PATH },
          }
        : undefined,
  },
];

/** Sources that are never detected, only configured: listed with their fix in "nothing found". */
const CONFIGURED_ONLY = [
  { platform: 'Okta', fix: '"claude_wif": {"identity": {"source": "okta", "issuer": …, "client_id": …, "private_key_path": …, "scope": …}}' },
  { platform: 'any program', fix: '"claude_wif": {"identity": {"source": "command", "command": ["…"]}}' },
];

export interface ProbePlan {
  /** Which metadata servers to ask; empty: no probe. */
  clouds: Array<'gcp' | 'azure' | 'aws'>;
  why: string;
}

/**
 * Whether the metadata probe may run, and against which clouds. A probe costs up to a second on
 * a machine without a metadata server, so it runs only when something hints at one: an explicit
 * metadata host (GCE_METADATA_HOST, AZURE_POD_IDENTITY_AUTHORITY_HOST,
 * AWS_EC2_METADATA_SERVICE_ENDPOINT) probes that cloud only; Cloud Run / Functions variables
 * probe Google; a non-Linux host (no DMI to read) probes all three. A Linux host whose DMI names
 * no cloud is not a cloud VM: no probe. CLAUDE_WIF_METADATA_PROBE=always|never overrides.
 */
export function probePlan(env: Env, deps: DetectDeps = realDetectDeps): ProbePlan {
  const setting = (readEnv(env, 'CLAUDE_WIF_METADATA_PROBE') ?? 'auto').trim().toLowerCase();
  const awsOff = yes(readEnv(env, 'AWS_EC2_METADATA_DISABLED'));
  const all = (): ProbePlan['clouds'] => (awsOff ? ['gcp', 'azure'] : ['gcp', 'azure', 'aws']);
  if (/^(never|off|0|false|no)$/.test(setting)) return { clouds: [], why: 'CLAUDE_WIF_METADATA_PROBE disables the metadata probe' };
  if (/^(always|on|1|true|yes)$/.test(setting)) return { clouds: all(), why: 'CLAUDE_WIF_METADATA_PROBE=always' };
  const explicit: ProbePlan['clouds'] = [];
  if (readEnv(env, 'GCE_METADATA_HOST')) explicit.push('gcp');
  if (readEnv(env, 'AZURE_POD_IDENTITY_AUTHORITY_HOST')) explicit.push('azure');
  if (readEnv(env, 'AWS_EC2_METADATA_SERVICE_ENDPOINT') && !awsOff) explicit.push('aws');
  if (explicit.length) return { clouds: explicit, why: 'a metadata host is configured in the environment' };
  if (readEnv(env, 'K_SERVICE') || readEnv(env, 'CLOUD_RUN_JOB') || readEnv(env, 'FUNCTION_TARGET')) {
    return { clouds: ['gcp'], why: 'Cloud Run / Cloud Functions variables are set' };
  }
  if (deps.platform !== 'linux') return { clouds: all(), why: `${deps.platform} has no DMI to read` };
  return { clouds: [], why: 'this Linux host is not a cloud VM (no cloud DMI vendor) and no metadata host is configured' };
}

/**
 * The first local signal in DETECTORS order; when none, `cloud-metadata` (which probes) if a probe
 * is warranted; otherwise the "nothing found" error. Never touches the network.
 */
export function detectSource(env: Env, deps: DetectDeps = realDetectDeps): Detection {
  const found: Array<{ d: Detector; hit: Omit<Detection, 'also'> }> = [];
  for (const d of DETECTORS) {
    const hit = d.detect(env, deps);
    if (hit) found.push({ d, hit });
  }
  const first = found[0];
  if (first) {
    const also = found.slice(1).map((f) => `${f.d.platform} (${f.hit.source})`);
    // Ambiguous environments are resolved by the documented order, and say so.
    const reason = also.length
      ? `${first.hit.reason}; also present: ${also.join(', ')} — the first in the documented detection order wins (choose another with --identity-source)`
      : first.hit.reason;
    return { ...first.hit, reason, ...(also.length ? { also } : {}) };
  }
  const plan = probePlan(env, deps);
  if (plan.clouds.length) {
    return { source: 'cloud-metadata', reason: `no local signal; probing the ${plan.clouds.join(', ')} metadata server(s) because ${plan.why}`, options: {} };
  }
  throw nothingFound(`the metadata probe did not run: ${plan.why} (CLAUDE_WIF_METADATA_PROBE=always forces it)`);
}

/** Like detectSource, but runs the metadata probe too, so the answer is always a concrete source. */
export async function detectSourceWithProbe(env: Env, deps: DetectDeps = realDetectDeps): Promise<Detection> {
  const d = detectSource(env, deps);
  if (d.source !== 'cloud-metadata') return d;
  const { probeMetadata } = await import('./metadata-probe.js');
  const result = await probeMetadata(env, probePlan(env, deps).clouds);
  if (!result.found) throw nothingFound(`metadata probe: ${result.summary}`);
  return { source: result.found, reason: `no local signal; the metadata probe found ${result.summary}`, options: {} };
}

/** identity_unavailable listing every check and the one-line fix per platform. */
export function nothingFound(probeNote: string): WifError {
  const lines = [
    ...DETECTORS.map((d) => `  - ${d.platform}: ${d.checks}: not found (fix: ${d.fix})`),
    `  - cloud metadata servers: ${probeNote}`,
    ...CONFIGURED_ONLY.map((c) => `  - ${c.platform}: never detected (configure: ${c.fix})`),
  ];
  return new WifError('identity_unavailable', `no identity source was detected; checked, in order:\n${lines.join('\n')}`, {
    hint: 'name a source with --identity-source or "claude_wif": {"identity": {"source": …}} in the profile',
  });
}
