import type { CommandContext } from '../context.js';
import type { CheckResult } from '../../doctor/checks.js';
import { nowSeconds } from '../../util/clock.js';
import { redactDeep } from '../../util/redact.js';
import { VERSION } from '../../version.js';
import { colours } from '../io.js';
import { withStatus } from '../spinner.js';

/** Variables worth naming in a support report. Only whether they are set is reported, never a value. */
const REPORTED_VARS = [
  'ANTHROPIC_PROFILE', 'ANTHROPIC_CONFIG_DIR', 'ANTHROPIC_BASE_URL', 'ANTHROPIC_FEDERATION_RULE_ID', 'ANTHROPIC_ORGANIZATION_ID',
  'ANTHROPIC_SERVICE_ACCOUNT_ID', 'ANTHROPIC_WORKSPACE_ID', 'ANTHROPIC_IDENTITY_TOKEN_FILE', 'ANTHROPIC_IDENTITY_TOKEN', 'ANTHROPIC_SCOPE',
  'ANTHROPIC_API_KEY', 'ANTHROPIC_AUTH_TOKEN', 'CLAUDE_CODE_OAUTH_TOKEN', 'ANTHROPIC_CUSTOM_HEADERS', 'CLAUDE_CONFIG_DIR',
  'CLAUDE_WIF_IDENTITY_SOURCE', 'CLAUDE_WIF_CACHE', 'CLAUDE_WIF_CACHE_DIR', 'CLAUDE_WIF_CHECK_JTI', 'CLAUDE_WIF_KEYRING_STORE',
  'HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'ALL_PROXY', 'NO_PROXY', 'no_proxy', 'XDG_CONFIG_HOME', 'XDG_CACHE_HOME',
];

/**
 * `claude-wif doctor`: every check, ✓/✗ with the fix; `--json` is a redacted report (shape in the
 * README). Exit 0 when nothing failed (warnings allowed), otherwise the exit code of the first
 * failed check (2 when that check has no error code of its own).
 */
export async function runDoctor(ctx: CommandContext, opts: { json?: boolean; offline?: boolean }): Promise<number> {
  const { runChecks } = await import('../../doctor/checks.js');
  const results = await withStatus(ctx.io, ctx.log, 'doctor: starting', (status) =>
    runChecks({
      env: ctx.io.env,
      cwd: ctx.io.cwd,
      deps: ctx.deps,
      configDirFlag: ctx.global.configDir,
      plan: () => ctx.plan(),
      offline: Boolean(opts.offline),
      progress: (t) => status.update(`doctor: checking ${t}…`),
    }),
  );
  const failed = results.filter((r) => r.status === 'fail');
  const exitCode = failed.length ? (failed[0]!.exit ?? 2) : 0;
  const summary = { pass: 0, warn: 0, fail: 0, skip: 0 };
  for (const r of results) summary[r.status]++;

  if (opts.json) {
    let status: Record<string, unknown> | null = null;
    try {
      const { statusDocument } = await import('./status.js');
      status = statusDocument(ctx.plan(), nowSeconds(ctx.io.clock));
    } catch {
      status = null;
    }
    const report = {
      claude_wif_version: VERSION,
      node: ctx.io.proc.nodeVersion,
      platform: ctx.io.proc.platform,
      generated_at: new Date(ctx.io.clock.now()).toISOString(),
      offline: Boolean(opts.offline),
      ok: failed.length === 0,
      exit_code: exitCode,
      summary,
      checks: results,
      status,
      environment_set: REPORTED_VARS.filter((v) => (ctx.io.env[v] ?? '') !== ''),
    };
    ctx.io.stdout.write(`${JSON.stringify(redactDeep(report), null, 2)}\n`);
    return exitCode;
  }

  const c = await colours(ctx.io, ctx.global.color !== false);
  const mark = (r: CheckResult) => (r.status === 'pass' ? c.ok('✓') : r.status === 'fail' ? c.bad('✗') : r.status === 'warn' ? c.bad('!') : c.dim('-'));
  const width = Math.max(...results.map((r) => r.title.length)) + 2;
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${mark(r)} ${r.title.padEnd(width)}${r.status === 'skip' ? c.dim(r.detail) : r.detail}`);
    if (r.fix && (r.status === 'fail' || r.status === 'warn')) lines.push(`  ${' '.repeat(width)}${c.bold('fix:')} ${r.fix}`);
  }
  const problems = summary.fail + summary.warn;
  lines.push('');
  lines.push(
    problems
      ? `${summary.fail ? c.bad(`${summary.fail} check(s) failed`) : 'no check failed'}, ${summary.warn} warning(s), ${summary.pass} passed${summary.skip ? `, ${summary.skip} skipped` : ''}. \`claude-wif doctor --json\` is a redacted report to attach to a bug.`
      : c.ok(`all ${summary.pass} checks passed${summary.skip ? ` (${summary.skip} skipped)` : ''}.`),
  );
  ctx.io.stdout.write(`${lines.join('\n')}\n`);
  return exitCode;
}
