import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readEnv, type Env } from '../config/paths.js';

/**
 * Claude Code settings that take credentials out of claude-wif's hands (spec §5):
 * - `apiKeyHelper`: Claude Code runs it and sends its stdout as x-api-key and Bearer, without
 *   the oauth beta, and it outranks a profile;
 * - `env`: variables Claude Code sets for itself, which override what `claude-wif exec` puts in
 *   its environment (an API key there beats federation; a config dir or profile there replaces
 *   the sidecar's).
 * Values are never reported: only which keys are set, where.
 */

/** Set in settings "env", these outrank federation outright. */
const SHADOWING = ['ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN'];
/** Set in settings "env", these override what claude-wif exec or a profile decides. */
const OVERRIDING = [
  'ANTHROPIC_CONFIG_DIR',
  'ANTHROPIC_PROFILE',
  'ANTHROPIC_BASE_URL',
  'ANTHROPIC_FEDERATION_RULE_ID',
  'ANTHROPIC_ORGANIZATION_ID',
  'ANTHROPIC_SERVICE_ACCOUNT_ID',
  'ANTHROPIC_WORKSPACE_ID',
  'ANTHROPIC_IDENTITY_TOKEN',
  'ANTHROPIC_IDENTITY_TOKEN_FILE',
  'ANTHROPIC_CUSTOM_HEADERS',
  'CLAUDE_CODE_USE_BEDROCK',
  'CLAUDE_CODE_USE_VERTEX',
];

export interface SettingsFinding {
  file: string;
  scope: 'user' | 'project' | 'project-local' | 'managed';
  severity: 'fail' | 'warn';
  key: string;
  message: string;
  fix: string;
}

export interface SettingsScan {
  /** Every file looked at, and whether it exists. */
  files: Array<{ file: string; scope: SettingsFinding['scope']; exists: boolean; error?: string }>;
  findings: SettingsFinding[];
}

/** The project root Claude Code uses: the nearest ancestor with .git, else the working directory. */
function projectRoot(cwd: string): string {
  let dir = resolve(cwd);
  for (;;) {
    if (existsSync(join(dir, '.git'))) return dir;
    const up = dirname(dir);
    if (up === dir) return resolve(cwd);
    dir = up;
  }
}

export function settingsFiles(env: Env, cwd: string, platform: NodeJS.Platform = process.platform): SettingsScan['files'] {
  const home = readEnv(env, 'HOME') ?? readEnv(env, 'USERPROFILE') ?? homedir();
  const userDir = readEnv(env, 'CLAUDE_CONFIG_DIR') ?? join(home, '.claude');
  const roots = [...new Set([resolve(cwd), projectRoot(cwd)])];
  const files: SettingsScan['files'] = [{ file: join(userDir, 'settings.json'), scope: 'user', exists: false }];
  for (const r of roots) {
    files.push({ file: join(r, '.claude', 'settings.json'), scope: 'project', exists: false });
    files.push({ file: join(r, '.claude', 'settings.local.json'), scope: 'project-local', exists: false });
  }
  const managed =
    platform === 'darwin'
      ? '/Library/Application Support/ClaudeCode/managed-settings.json'
      : platform === 'win32'
        ? 'C:\\ProgramData\\ClaudeCode\\managed-settings.json'
        : '/etc/claude-code/managed-settings.json';
  files.push({ file: managed, scope: 'managed', exists: false });
  return files;
}

export function scanClaudeSettings(env: Env, cwd: string, platform?: NodeJS.Platform): SettingsScan {
  const files = settingsFiles(env, cwd, platform);
  const findings: SettingsFinding[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f.file, 'utf8');
      f.exists = true;
    } catch {
      continue;
    }
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      f.error = `not valid JSON (${(err as Error).message.split('\n')[0]})`;
      continue;
    }
    if (!data || typeof data !== 'object') continue;
    const d = data as Record<string, unknown>;
    const helper = d['apiKeyHelper'];
    if (typeof helper === 'string' && helper.trim()) {
      const ours = /claude-wif/.test(helper);
      // Measured with Claude Code 2.1.332 (spec §5): a helper's output goes out as x-api-key AND
      // Bearer, without the oauth beta. A federated token sent that way is refused (both headers
      // at once; no beta), so pointing the helper at `claude-wif token` cannot work.
      findings.push({
        file: f.file,
        scope: f.scope,
        severity: 'fail',
        key: 'apiKeyHelper',
        message: ours
          ? 'apiKeyHelper runs claude-wif: Claude Code sends a helper\'s output as both x-api-key and Bearer, without the oauth beta, and the API refuses a federated token sent that way'
          : 'apiKeyHelper is set: Claude Code authenticates with that helper\'s output instead of federation',
        fix: `remove "apiKeyHelper" from ${f.file}; what works: \`claude-wif exec -- claude\` (a private profile kept fresh), \`claude-wif exec --mode proxy -- claude\` (no token in Claude Code at all), or \`claude-wif agent\` with ANTHROPIC_CONFIG_DIR for Claude Code started elsewhere`,
      });
    }
    const e = d['env'];
    if (e && typeof e === 'object' && !Array.isArray(e)) {
      for (const key of Object.keys(e as Record<string, unknown>)) {
        const value = (e as Record<string, unknown>)[key];
        if (value === '' || value === null || value === undefined) continue;
        if (SHADOWING.includes(key)) {
          findings.push({
            file: f.file,
            scope: f.scope,
            severity: 'fail',
            key: `env.${key}`,
            message: `env.${key} is set: Claude Code uses it instead of federation (it outranks every other credential)`,
            fix: `remove "${key}" from the "env" object of ${f.file}`,
          });
        } else if (OVERRIDING.includes(key)) {
          findings.push({
            file: f.file,
            scope: f.scope,
            severity: 'warn',
            key: `env.${key}`,
            message: `env.${key} is set: it overrides what \`claude-wif exec\` and the profile set for Claude Code`,
            fix: `remove "${key}" from the "env" object of ${f.file} unless you mean to override claude-wif`,
          });
        }
      }
    }
  }
  return { files, findings };
}
