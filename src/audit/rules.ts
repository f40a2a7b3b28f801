/**
 * What `claude-wif audit` reports: one rule per kind of access path, each with a stable id (the
 * JSON `rule` field and the SARIF `ruleId`), whether it is a static-credential path (exit 7) or a
 * federated one (the good state), its severity, and help text. Ids never change meaning; new
 * rules may be added.
 */

export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
export type Status = 'static' | 'federated' | 'expected';

export interface Rule {
  id: string;
  status: Status;
  severity: Severity;
  title: string;
  /** One paragraph: why this path matters. */
  why: string;
}

export const RULES = {
  'static-api-key': {
    status: 'static',
    severity: 'critical',
    title: 'Anthropic API key value (sk-ant-api03-…)',
    why: 'A long-lived API key is written where a workload or person can read it. It does not expire, is not tied to the workload, and anyone who copies it keeps access until someone revokes it.',
  },
  'static-admin-key': {
    status: 'static',
    severity: 'critical',
    title: 'Anthropic Admin API key value (sk-ant-admin01-…)',
    why: 'An Admin API key manages the whole organization (members, keys, workspaces). Stored in a file or environment it is the most valuable credential an attacker can find.',
  },
  'static-oauth-token': {
    status: 'static',
    severity: 'high',
    title: 'OAuth access token (sk-ant-oat01-…) outside a credentials cache',
    why: 'sk-ant-oat01- is also the prefix of federated tokens, which belong only in the SDK credentials cache. Anywhere else it is a copied token, often a year-long one from `claude setup-token`.',
  },
  'static-refresh-token': {
    status: 'static',
    severity: 'high',
    title: 'OAuth refresh token (sk-ant-ort01-…)',
    why: 'A refresh token mints new access tokens until it is revoked: it is as reusable as an API key.',
  },
  'api-key-variable': {
    status: 'static',
    severity: 'high',
    title: 'Static credential variable injected from elsewhere',
    why: 'ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN, CLAUDE_CODE_OAUTH_TOKEN, an admin key) is set from another variable, a build argument or a command: the value lives in some other store, but this path still depends on a long-lived key, and it outranks federation in every SDK and in Claude Code.',
  },
  'workflow-secret-reference': {
    status: 'static',
    severity: 'high',
    title: 'CI workflow uses a stored Anthropic key (secrets.ANTHROPIC_API_KEY, anthropic_api_key)',
    why: 'The job authenticates with a repository or organization secret: a long-lived key every workflow with access to the secret can read. GitHub Actions can mint an OIDC identity for the job instead.',
  },
  'kubernetes-secret-key-ref': {
    status: 'static',
    severity: 'high',
    title: 'Kubernetes workload reads an Anthropic key from a Secret',
    why: 'The pod gets a long-lived key through secretKeyRef/secretRef: anyone who can read the Secret or exec into the pod has it. The pod already has a service-account identity the cluster can sign.',
  },
  'ci-variable-reference': {
    status: 'static',
    severity: 'high',
    title: 'CI job uses a stored Anthropic key variable',
    why: 'The job reads a long-lived key from the CI system\'s variable store. GitLab, CircleCI, Buildkite and others can give the job an OIDC token instead.',
  },
  'claude-settings-api-key-helper': {
    status: 'static',
    severity: 'medium',
    title: 'Claude Code apiKeyHelper hands Claude Code a key',
    why: 'Claude Code sends the helper\'s output as x-api-key and Bearer and prefers it over a profile: the helper usually prints a stored key.',
  },
  'claude-settings-env-credential': {
    status: 'static',
    severity: 'high',
    title: 'Claude Code settings set a credential variable',
    why: 'A credential in the "env" object of Claude Code settings outranks every other way of authenticating, for every session that reads those settings.',
  },
  'environment-credential': {
    status: 'static',
    severity: 'high',
    title: 'A static credential in a process environment',
    why: 'The environment carries a long-lived key (or a copied token). Every child process inherits it, and it outranks federation.',
  },
  'credentials-file-permissions': {
    status: 'static',
    severity: 'high',
    title: 'A credentials cache other users can read or write',
    why: 'Cached tokens must be 0600 in a 0700 directory: the SDKs refuse looser files, and other users could copy or plant a token.',
  },
  'federated-profile': {
    status: 'federated',
    severity: 'info',
    title: 'Federated profile (oidc_federation)',
    why: 'The SDKs, Claude Code and claude-wif exchange the workload\'s own identity for short-lived tokens with this profile: nothing reusable is stored.',
  },
  'federated-ci': {
    status: 'federated',
    severity: 'info',
    title: 'CI job that federates (claude-wif, or the federation variables)',
    why: 'The job presents its platform OIDC token and receives a short-lived Anthropic token.',
  },
  'federated-manifest': {
    status: 'federated',
    severity: 'info',
    title: 'Deployment that federates (claude-wif agent/proxy/exec, or a projected token for Anthropic)',
    why: 'The workload\'s service-account identity is exchanged for short-lived tokens; consumers never hold a reusable key.',
  },
  'federated-environment': {
    status: 'federated',
    severity: 'info',
    title: 'Environment configured for federation',
    why: 'ANTHROPIC_FEDERATION_RULE_ID and ANTHROPIC_ORGANIZATION_ID are set: SDK clients exchange the workload identity themselves.',
  },
  'federated-token-cache': {
    status: 'expected',
    severity: 'info',
    title: 'Short-lived token in a credentials cache',
    why: 'Federated (and user_oauth) tokens are cached in credentials/<profile>.json, 0600: this is where an sk-ant-oat01- token belongs.',
  },
  'user-login-cache': {
    status: 'expected',
    severity: 'info',
    title: 'A person\'s Claude Code login',
    why: 'Claude Code keeps an interactive user\'s OAuth login here. It is a person\'s credential, not a workload path; keep it out of images, CI and shared machines.',
  },
} as const satisfies Record<string, Omit<Rule, 'id'>>;

export type RuleId = keyof typeof RULES;

export function rule(id: RuleId): Rule {
  return { id, ...RULES[id] };
}

/** Where a path runs, which decides the identity it should move to and the recipe. */
export type Platform =
  | 'github-actions'
  | 'gitlab'
  | 'circleci'
  | 'buildkite'
  | 'ci'
  | 'kubernetes'
  | 'container'
  | 'compose'
  | 'claude-code'
  | 'workstation'
  | 'process'
  | 'application';

export interface Target {
  platform: Platform;
  /** The identity this path should move to, in words (and the JWT subject when it can be known). */
  identity: string;
  subject?: string;
}

export interface Recipe {
  /** README section with the per-platform recipe. */
  doc: string;
  /** What to do, in one or two sentences. */
  steps: string;
}

const README = 'README.md';

/** The migration for each platform: the README's per-platform recipe, condensed. */
export function recipeFor(platform: Platform): Recipe {
  switch (platform) {
    case 'github-actions':
      return {
        doc: `${README}#recipes (GitHub Actions); examples/github-actions/claude.yml`,
        steps:
          'Create a federation rule for issuer https://token.actions.githubusercontent.com, add `permissions: id-token: write`, run `npx claude-wif configure --identity-source github-actions …` and `npx claude-wif exec -- claude …` (for claude-code-action: a step `claude-wif env --format github --target claude-code` and `claude_code_oauth_token: ${{ env.CLAUDE_CODE_OAUTH_TOKEN }}`), then delete the secret.',
      };
    case 'gitlab':
      return {
        doc: `${README}#recipes (GitLab CI); examples/gitlab/.gitlab-ci.yml`,
        steps: 'Declare `id_tokens: { ANTHROPIC_JWT: { aud: https://api.anthropic.com } }` in the job, `claude-wif configure --identity-source gitlab --identity-variable ANTHROPIC_JWT …`, run the tool through `claude-wif exec`, then delete the CI variable.',
      };
    case 'circleci':
      return { doc: `${README}#recipes (CircleCI)`, steps: 'Use the job\'s `$CIRCLE_OIDC_TOKEN_V2` with `claude-wif configure --identity-source circleci …` and `claude-wif exec`, then delete the context/project variable.' };
    case 'buildkite':
      return { doc: `${README}#recipes (Buildkite)`, steps: 'Use `buildkite-agent oidc request-token` through `claude-wif configure --identity-source buildkite --audience https://api.anthropic.com …`, then delete the secret.' };
    case 'ci':
      return { doc: `${README}#recipes`, steps: 'Give the job the CI system\'s OIDC token (or a file/command source) with `claude-wif configure --identity-source …`, run the tool through `claude-wif exec`, then delete the stored variable.' };
    case 'kubernetes':
      return {
        doc: `${README}#recipes (Kubernetes); examples/kubernetes/agent-sidecar.yaml`,
        steps: 'Project a service-account token with `audience: https://api.anthropic.com`, run `claude-wif agent` as a native sidecar (or `claude-wif exec` as the entrypoint), point the app at it with ANTHROPIC_CONFIG_DIR, then delete the Secret.',
      };
    case 'container':
      return {
        doc: `${README}#recipes; examples/container/Dockerfile`,
        steps: 'Never bake a key into an image or pass it as a build argument: ship a non-secret profile and run the program as `claude-wif exec -- <cmd>` with the identity of wherever the container runs (Kubernetes service account, Cloud Run/GCE service account, AWS role).',
      };
    case 'compose':
      return {
        doc: `${README}#fleets-agent-and-proxy`,
        steps: 'Run `claude-wif agent --dir <shared volume>` (or the proxy) as a service with the host\'s identity and give the app only ANTHROPIC_CONFIG_DIR (or ANTHROPIC_BASE_URL and the proxy secret file), then remove the key from the environment.',
      };
    case 'claude-code':
      return {
        doc: `${README}#run-programs-exec`,
        steps: 'Remove the credential (or apiKeyHelper) from the settings file and start Claude Code as `claude-wif exec -- claude`, which keeps a federated token fresh for it.',
      };
    case 'workstation':
      return {
        doc: `${README}#use-it`,
        steps: 'Remove the key from the file. People log in with Claude Code\'s own login; workloads on this machine use a federated profile (`claude-wif configure`) and `claude-wif exec`.',
      };
    case 'process':
      return {
        doc: `${README}#run-programs-exec`,
        steps: 'Find where the variable is set (the unit, the launcher, the shell), remove it, and start the program as `claude-wif exec -- <cmd>` (or `--mode proxy` for an untrusted child).',
      };
    case 'application':
      return {
        doc: `${README}#recipes`,
        steps: 'Remove the literal key from the code or config, revoke it in the Console, and give the program a federated profile (the SDKs read it natively) or run it as `claude-wif exec -- <cmd>`.',
      };
  }
}

/** Identity wording per platform, used when nothing more specific is known. */
export function defaultTarget(platform: Platform): Target {
  const words: Record<Platform, string> = {
    'github-actions': 'the workflow\'s GitHub Actions OIDC identity (issuer https://token.actions.githubusercontent.com)',
    gitlab: 'the job\'s GitLab CI id_token',
    circleci: 'the job\'s CircleCI OIDC token',
    buildkite: 'the step\'s Buildkite OIDC token',
    ci: 'the CI job\'s own OIDC identity',
    kubernetes: 'the pod\'s Kubernetes service account (a projected token with audience https://api.anthropic.com)',
    container: 'the identity of the platform the container runs on (service account or role)',
    compose: 'the host\'s workload identity, through a claude-wif agent service',
    'claude-code': 'the federated identity of wherever Claude Code runs, through `claude-wif exec`',
    workstation: 'a person\'s own Claude login (people), or the machine\'s workload identity (services)',
    process: 'the workload identity of the machine or platform running the process',
    application: 'the workload identity of wherever the program runs',
  };
  return { platform, identity: words[platform] };
}
