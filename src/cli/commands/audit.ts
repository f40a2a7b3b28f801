import type { CommandContext } from '../context.js';
import { colours } from '../io.js';
import { WifError } from '../../util/errors.js';
import { redact, redactDeep } from '../../util/redact.js';

export interface AuditCommandOptions {
  format?: string;
  processes?: boolean;
  maxFileSize?: string;
}

/**
 * `claude-wif audit [PATH…]`: every place an Anthropic credential is configured or injected,
 * static or federated, with the identity and recipe for each. Exit 7 (static_credentials_found)
 * while any static path remains, 0 otherwise. Never prints a credential: findings carry at most
 * a 12-hex-digit SHA-256 fingerprint, and the document passes through the redactor as well.
 */
export async function runAudit(ctx: CommandContext, opts: AuditCommandOptions, cmd: { args: string[] }): Promise<number> {
  const format = opts.format ?? 'text';
  let maxFileBytes: number | undefined;
  if (opts.maxFileSize !== undefined) {
    const n = Number(opts.maxFileSize);
    if (!Number.isInteger(n) || n <= 0) throw new WifError('usage_error', `--max-file-size must be a positive number of bytes, not "${opts.maxFileSize}"`, { hint: 'for example --max-file-size 2097152' });
    maxFileBytes = n;
  }
  const { runAudit: audit } = await import('../../audit/audit.js');
  const { auditJson, auditSarif, auditText } = await import('../../audit/format.js');
  const report = audit({ paths: cmd.args, env: ctx.io.env, cwd: ctx.io.cwd, configDir: ctx.global.configDir, processes: Boolean(opts.processes), maxFileBytes });
  if (format === 'json') ctx.io.stdout.write(`${JSON.stringify(redactDeep(auditJson(report, new Date(ctx.io.clock.now()))), null, 2)}\n`);
  else if (format === 'sarif') ctx.io.stdout.write(`${JSON.stringify(redactDeep(auditSarif(report, ctx.io.cwd)), null, 2)}\n`);
  else ctx.io.stdout.write(redact(auditText(report, await colours(ctx.io, ctx.global.color !== false))));
  if (report.exit_code === 7 && format === 'text') ctx.log.info(`${report.summary.static} static credential path(s) remain (static_credentials_found, exit 7)`);
  return report.exit_code;
}
