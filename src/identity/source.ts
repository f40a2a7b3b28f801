import type { Env } from '../config/paths.js';
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { SourceName } from './names.js';

export interface IdentityContext {
  env: Env;
  clock: Clock;
  log: Logger;
  /** The source's options: the profile's "claude_wif.identity" object merged with flags/env. */
  options: Record<string, unknown>;
  /** Per-request deadline for network sources. */
  timeoutMs: number;
  /**
   * The caller's overall deadline (ms since the epoch on `clock`; CLAUDE_WIF_TIMEOUT_MS for
   * `token`): requests are cut short and retries are not waited for past it. Absent: no limit
   * beyond timeoutMs per request.
   */
  deadline?: number | undefined;
}

export interface IdentityToken {
  jwt: string;
  /** Where it came from, for messages ("file /var/run/…", "env ANTHROPIC_IDENTITY_TOKEN"). Never the JWT. */
  origin: string;
}

export interface IdentitySource {
  name: string;
  /**
   * True when every fetch can return a new, never-exchanged JWT (GitHub Actions, GCP metadata, …).
   * False for files and variables that rotate on their own schedule: the core then never re-sends
   * a JWT it already exchanged and explains the single-use trade-off instead.
   */
  mintsOnDemand: boolean;
  /** What the source will read, without doing any I/O (for `status`). */
  describe(options: Record<string, unknown>, env: Env): string;
  fetch(ctx: IdentityContext): Promise<IdentityToken>;
}

/**
 * The registry. Each source is one file, imported only when used, so the hot path (a fresh
 * cached token) never loads any of them. A new platform is one file plus one line here, its name
 * in names.ts and what it reads in material.ts (both type-checked against each other);
 * docs/architecture.md lists every step.
 */
export const SOURCES: Record<SourceName | 'cloud-metadata', () => Promise<{ default: IdentitySource }>> = {
  file: () => import('./file.js'),
  env: () => import('./env.js'),
  command: () => import('./command.js'),
  'github-actions': () => import('./github-actions.js'),
  gitlab: () => import('./gitlab.js'),
  kubernetes: () => import('./kubernetes.js'),
  gcp: () => import('./gcp.js'),
  'azure-imds': () => import('./azure-imds.js'),
  'azure-app-service': () => import('./azure-app-service.js'),
  'azure-workload-identity': () => import('./azure-workload-identity.js'),
  aws: () => import('./aws.js'),
  spiffe: () => import('./spiffe.js'),
  okta: () => import('./okta.js'),
  circleci: () => import('./circleci.js'),
  buildkite: () => import('./buildkite.js'),
  'terraform-cloud': () => import('./terraform-cloud.js'),
  // Internal, chosen only by auto-detection: probes the cloud metadata servers, then delegates.
  'cloud-metadata': () => import('./cloud-metadata.js'),
};

export { SOURCE_NAMES, isKnownSource } from './names.js';

export async function loadSource(name: string): Promise<IdentitySource> {
  const loader = Object.prototype.hasOwnProperty.call(SOURCES, name) ? SOURCES[name as keyof typeof SOURCES] : undefined;
  if (!loader) throw new Error(`unknown identity source ${name}`);
  return (await loader()).default;
}
