import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SCRUB_PREFIXES = [
  'ANTHROPIC_', 'CLAUDE_', 'ACTIONS_', 'GITHUB_', 'GITLAB_', 'CI_', 'AWS_', 'AZURE_', 'IDENTITY_', 'MSI_',
  'GOOGLE_', 'GCE_', 'CLOUDSDK_', 'KUBERNETES_', 'SPIFFE_', 'OKTA_', 'CIRCLE', 'BUILDKITE', 'TFC_',
];
const SCRUB_EXACT = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'NO_COLOR', 'FORCE_COLOR', 'GITLAB_CI', 'CI'];

export function isScrubbed(name: string): boolean {
  return SCRUB_EXACT.includes(name) || SCRUB_PREFIXES.some((p) => name.startsWith(p));
}

export function scrubProcessEnv(): void {
  for (const name of Object.keys(process.env)) if (isScrubbed(name)) delete process.env[name];
}

/** A clean environment for a child process or an in-process run: PATH and a temporary HOME only. */
export function cleanEnv(home: string, extra: Record<string, string | undefined> = {}): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    LANG: 'C.UTF-8',
    TMPDIR: process.env['TMPDIR'] ?? '/tmp',
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

export interface TempHome {
  home: string;
  configDir: string;
  cacheDir: string;
  cleanup(): void;
}

export function tempHome(): TempHome {
  const home = mkdtempSync(join(tmpdir(), 'claude-wif-test-'));
  return {
    home,
    configDir: join(home, '.config', 'anthropic'),
    cacheDir: join(home, '.cache', 'claude-wif'),
    cleanup: () => rmSync(home, { recursive: true, force: true }),
  };
}
