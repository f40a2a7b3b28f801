import type { SourceName } from './names.js';

/**
 * What each identity source reads, declared apart from the source modules so that `exec` can
 * keep all of it away from a child without loading sixteen modules (start-up is measured).
 *
 * "Material" is anything that is, or can obtain, an identity JWT: a variable holding one, a
 * request token or endpoint secret that mints one, a file or socket that serves one. It is
 * removed from (and, under isolation, hidden from) every child unless the user opts in per
 * variable with `exec --pass-env NAME`. "config" lists what a source reads that is not secret
 * (ids, regions, hosts): children keep it.
 *
 * The table is typed against the list of source names, so a new source cannot be added without
 * an entry, and test/unit/identity-material.test.ts checks that every upper-case variable name a
 * source file mentions is declared here, as material or as config.
 */
export interface IdentityMaterial {
  /** Variables that hold or mint an identity JWT: removed from every child. */
  vars?: readonly string[];
  /** Variable-name prefixes with the same meaning (TFC_WORKLOAD_IDENTITY_TOKEN_<TAG>). */
  prefixes?: readonly string[];
  /** Variables whose value is the path of a material file or socket (`unix:` accepted); removed too. */
  pathVars?: readonly string[];
  /** Files and sockets at fixed places. */
  files?: readonly string[];
  /** Endpoints that hand an identity to any local process that can reach them (no secret needed). */
  endpoints?: readonly string[];
  /**
   * General-purpose credentials that can also mint an identity JWT (AWS keys sign STS
   * GetWebIdentityToken): material only when the plan uses this source, because every other
   * child may legitimately need them.
   */
  whenActive?: { vars?: readonly string[]; pathVars?: readonly string[]; files?: readonly string[] };
  /** Options (of this source, when it is the plan's) naming a variable that holds the JWT. */
  varOptions?: readonly string[];
  /** Options (of this source, when it is the plan's) naming a material file or socket. */
  fileOptions?: readonly string[];
  /** Variables the source reads that are not secret (kept). */
  config?: readonly string[];
}

export const ANTHROPIC_IDENTITY_FILE = '/var/run/secrets/anthropic.com/token';
export const KUBERNETES_SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';
const METADATA_IP = 'http://169.254.169.254';

export const IDENTITY_MATERIAL: Record<SourceName | 'cloud-metadata' | 'detect', IdentityMaterial> = {
  file: { pathVars: ['ANTHROPIC_IDENTITY_TOKEN_FILE'], fileOptions: ['path'] },
  env: { vars: ['ANTHROPIC_IDENTITY_TOKEN'], varOptions: ['variable'] },
  // Whatever the command reads is its own business: nothing to declare beyond the command itself.
  command: {},
  'github-actions': { vars: ['ACTIONS_ID_TOKEN_REQUEST_URL', 'ACTIONS_ID_TOKEN_REQUEST_TOKEN'], config: ['GITHUB_ACTIONS'] },
  // The id_tokens variable is named by the job; unnamed ones are caught as JWT-valued variables.
  gitlab: { vars: ['CI_JOB_JWT', 'CI_JOB_JWT_V1', 'CI_JOB_JWT_V2'], varOptions: ['variable'], config: ['CI_SERVER_URL', 'GITLAB_CI'] },
  kubernetes: { files: [ANTHROPIC_IDENTITY_FILE, KUBERNETES_SA_TOKEN], fileOptions: ['path'], config: ['KUBERNETES_SERVICE_HOST'] },
  gcp: { endpoints: ['http://metadata.google.internal', METADATA_IP], config: ['GCE_METADATA_HOST', 'CLOUD_RUN_JOB', 'FUNCTION_TARGET', 'K_SERVICE'] },
  'azure-imds': { endpoints: [METADATA_IP], config: ['AZURE_CLIENT_ID', 'AZURE_POD_IDENTITY_AUTHORITY_HOST'] },
  'azure-app-service': { vars: ['IDENTITY_ENDPOINT', 'IDENTITY_HEADER'], config: ['AZURE_CLIENT_ID'] },
  'azure-workload-identity': {
    pathVars: ['AZURE_FEDERATED_TOKEN_FILE'],
    fileOptions: ['token_file'],
    config: ['AZURE_AUTHORITY_HOST', 'AZURE_CLIENT_ID', 'AZURE_TENANT_ID'],
  },
  aws: {
    endpoints: [METADATA_IP],
    whenActive: {
      vars: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI', 'AWS_CONTAINER_AUTHORIZATION_TOKEN'],
      pathVars: ['AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE', 'AWS_SHARED_CREDENTIALS_FILE'],
      files: ['~/.aws'],
    },
    config: [
      'AWS_DEFAULT_REGION',
      'AWS_REGION',
      'AWS_ENDPOINT_URL',
      'AWS_ENDPOINT_URL_STS',
      'AWS_IGNORE_CONFIGURED_ENDPOINT_URLS',
      'AWS_ROLE_ARN',
      'AWS_LAMBDA_FUNCTION_NAME',
      'AWS_EC2_METADATA_DISABLED',
      'AWS_EC2_METADATA_SERVICE_ENDPOINT',
    ],
  },
  spiffe: { pathVars: ['SPIFFE_ENDPOINT_SOCKET'], fileOptions: ['socket'] },
  okta: { fileOptions: ['private_key_path'] },
  circleci: { prefixes: ['CIRCLE_OIDC_TOKEN'], config: ['CIRCLECI'] },
  // `buildkite-agent oidc request-token` authenticates with the job's agent access token.
  buildkite: { vars: ['BUILDKITE_AGENT_ACCESS_TOKEN'], config: ['BUILDKITE_JOB_ID'] },
  'terraform-cloud': { prefixes: ['TFC_WORKLOAD_IDENTITY_TOKEN'] },
  'cloud-metadata': { endpoints: ['http://metadata.google.internal', METADATA_IP], config: ['GCE_METADATA_HOST', 'AWS_EC2_METADATA_SERVICE_ENDPOINT', 'CLAUDE_WIF_METADATA_PROBE_TIMEOUT_MS'] },
  // Auto-detection and the shared request helpers: only switches.
  detect: { config: ['CLAUDE_WIF_METADATA_PROBE', 'CLAUDE_WIF_METADATA_TIMEOUT_MS'] },
};
