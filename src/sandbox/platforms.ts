import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MintOptions } from './issuer.js';
import { sendReply } from './http.js';

/**
 * The CI and cluster platforms the sandbox can stand in for, so every README recipe can be tried
 * locally. Each mints JWTs from the sandbox's own issuer with the subject and claims the real
 * platform puts in its tokens; only the issuer URL differs (the sandbox's, which its rules trust).
 */
export const PLATFORMS = ['github-actions', 'gitlab', 'kubernetes'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** GitHub Actions: sub repo:<owner>/<repo>:ref:<ref>, about five minutes, with a jti. */
export function githubClaims(aud: string): MintOptions {
  return {
    sub: 'repo:example/app:ref:refs/heads/main',
    aud,
    lifetimeSeconds: 300,
    claims: {
      repository: 'example/app',
      repository_owner: 'example',
      ref: 'refs/heads/main',
      ref_type: 'branch',
      sha: '0000000000000000000000000000000000000000',
      workflow: 'ci',
      job_workflow_ref: 'example/app/.github/workflows/ci.yml@refs/heads/main',
      event_name: 'push',
      run_id: '1',
      actor: 'octocat',
      runner_environment: 'github-hosted',
    },
  };
}

/** GitLab CI `id_tokens`: sub project_path:<path>:ref_type:branch:ref:<ref>; one token per job, living as long as the job may. */
export function gitlabClaims(aud: string): MintOptions {
  return {
    sub: 'project_path:example/app:ref_type:branch:ref:main',
    aud,
    lifetimeSeconds: 3600,
    claims: {
      namespace_path: 'example',
      project_path: 'example/app',
      ref: 'main',
      ref_type: 'branch',
      ref_protected: 'true',
      pipeline_source: 'push',
      pipeline_id: '1',
      job_id: '1',
      user_login: 'example',
    },
  };
}

/** A projected service-account token: sub system:serviceaccount:<ns>:<sa>, the kubernetes.io claim, with a jti. */
export function kubernetesClaims(aud: string, lifetimeSeconds = 3600): MintOptions {
  return {
    sub: 'system:serviceaccount:default:app',
    aud: [aud],
    lifetimeSeconds,
    claims: {
      'kubernetes.io': {
        namespace: 'default',
        serviceaccount: { name: 'app', uid: '00000000-0000-4000-8000-000000000001' },
        pod: { name: 'app-0', uid: '00000000-0000-4000-8000-000000000002' },
      },
    },
  };
}

export interface GithubTokenService {
  /** ACTIONS_ID_TOKEN_REQUEST_URL: already carries a query, so clients append `&audience=…`. */
  requestUrl: string;
  /** ACTIONS_ID_TOKEN_REQUEST_TOKEN: the bearer the job presents; anything else is 401. */
  requestToken: string;
  /** How many JWTs it handed out. */
  issued(): number;
  handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void>;
}

export const GITHUB_TOKEN_PATH = '/_platform/github-actions/idtoken';

/**
 * The Actions OIDC token service as a job sees it: GET the request URL with `&audience=`,
 * `Authorization: Bearer <request token>`; the answer is JSON `{"value": "<jwt>"}`. Without an
 * audience GitHub uses the repository owner's URL.
 */
export function githubTokenService(baseUrl: string, mint: (o: MintOptions) => Promise<string>): GithubTokenService {
  const requestToken = randomBytes(24).toString('base64url');
  const expected = Buffer.from(`Bearer ${requestToken}`);
  let count = 0;
  return {
    requestUrl: `${baseUrl}${GITHUB_TOKEN_PATH}?api-version=2.0`,
    requestToken,
    issued: () => count,
    async handle(req, res, requestId) {
      const method = req.method ?? 'GET';
      const u = new URL(req.url ?? '/', 'http://sandbox.invalid');
      if (method !== 'GET') return sendReply(res, { status: 405, body: { message: 'use GET' } }, requestId, method);
      const auth = Buffer.from(req.headers['authorization'] ?? '');
      if (auth.length !== expected.length || !timingSafeEqual(auth, expected)) {
        return sendReply(res, { status: 401, body: { message: 'Unauthorized' } }, requestId, method);
      }
      const aud = u.searchParams.get('audience') || 'https://github.com/example';
      count++;
      sendReply(res, { status: 200, body: { value: await mint(githubClaims(aud)) } }, requestId, method);
    },
  };
}

/** What a platform stand-in gives a shell: its environment, the identity source and options that read it, the subjects its tokens carry. */
export interface PlatformSetup {
  platform: Platform;
  env: Record<string, string>;
  identity: { source: string; options: Record<string, unknown> };
  /** The federation rule's subject_prefix that accepts this platform's tokens. */
  subjectPrefix: string;
  stop(): void;
}

export interface PlatformSandbox {
  issuerUrl: string;
  github: GithubTokenService;
  mint(o: MintOptions): Promise<string>;
}

/**
 * Sets up a platform's side for a sandbox: the environment a job or pod of that platform would
 * have. Kubernetes gets a projected-token file under `dir`, rewritten the way kubelet does it
 * (at 80 % of the token's life); `write` must replace the file atomically, mode 0600.
 */
export async function setupPlatform(
  platform: Platform,
  sandbox: PlatformSandbox,
  opts: { dir: string; audience: string; jwtLifetime?: number | undefined; write: (path: string, text: string) => void },
): Promise<PlatformSetup> {
  if (platform === 'github-actions') {
    return {
      platform,
      env: { GITHUB_ACTIONS: 'true', ACTIONS_ID_TOKEN_REQUEST_URL: sandbox.github.requestUrl, ACTIONS_ID_TOKEN_REQUEST_TOKEN: sandbox.github.requestToken },
      identity: { source: 'github-actions', options: {} },
      subjectPrefix: 'repo:example/*',
      stop() {},
    };
  }
  if (platform === 'gitlab') {
    // One ID token per job, as GitLab issues it: with single-use jti it can be exchanged once.
    const jwt = await sandbox.mint(gitlabClaims(opts.audience));
    return {
      platform,
      env: { GITLAB_CI: 'true', CI: 'true', CI_SERVER_URL: sandbox.issuerUrl, ANTHROPIC_ID_TOKEN: jwt },
      identity: { source: 'gitlab', options: { variable: 'ANTHROPIC_ID_TOKEN' } },
      subjectPrefix: 'project_path:example/*',
      stop() {},
    };
  }
  const lifetime = opts.jwtLifetime ?? 3600;
  const path = `${opts.dir}/token`;
  const rotate = async (): Promise<void> => opts.write(path, await sandbox.mint(kubernetesClaims(opts.audience, lifetime)));
  await rotate();
  const timer = setInterval(() => void rotate().catch(() => {}), Math.max(1, Math.floor(lifetime * 0.8)) * 1000);
  timer.unref();
  return {
    platform,
    env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '443' },
    identity: { source: 'kubernetes', options: { path } },
    subjectPrefix: 'system:serviceaccount:default:*',
    stop: () => clearInterval(timer),
  };
}
