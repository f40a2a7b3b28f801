import type { CommandContext, Invocation } from '../context.js';
import { profilePath, resolveConfigDir, validateProfileName } from '../../config/paths.js';
import { activeProfile, listProfiles, profileSource, profileSummary } from '../../config/profiles.js';
import { readProfile } from '../../config/profile.js';
import { writeActiveConfig } from '../../config/write-profile.js';
import { WifError } from '../../util/errors.js';
import { colours } from '../io.js';
import { table } from '../table.js';

/**
 * `profiles list`. JSON shape:
 * {"config_dir":{"value","origin"},"active":{"name","origin","shadowed_by"},
 *  "profiles":[{"name","path","active","valid","error"?,…profileSummary}]}
 */
export async function runProfilesList(ctx: CommandContext, opts: { json?: boolean; names?: boolean }): Promise<number> {
  const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir);
  const entries = listProfiles(configDir.value);
  if (opts.names) {
    // For shell completion: names only, and never an error.
    ctx.io.stdout.write(entries.map((e) => `${e.name}\n`).join(''));
    return 0;
  }
  const active = activeProfile(ctx.io.env, configDir.value, ctx.global.profile);
  const isActive = (name: string) => !active.shadowedBy && active.name === name;
  if (opts.json) {
    const doc = {
      config_dir: configDir,
      active: { name: active.name ?? null, origin: active.origin, shadowed_by: active.shadowedBy ?? null },
      profiles: entries.map((e) => ({
        name: e.name,
        path: e.path,
        active: isActive(e.name),
        valid: !e.error,
        ...(e.error ? { error: e.error } : profileSummary(e.profile!)),
      })),
    };
    ctx.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  const c = await colours(ctx.io, ctx.global.color !== false);
  if (!entries.length) {
    ctx.io.stdout.write(`no profiles in ${configDir.value} (${configDir.origin})\n`);
    ctx.log.info('create one with `claude-wif configure`, or try the local sandbox: `claude-wif sandbox --write-profile sandbox --activate`');
    return 0;
  }
  const rows = entries.map((e) => {
    const mark = isActive(e.name) ? c.ok('*') : ' ';
    // The error goes in the last column, which is never padded: it must not widen the table.
    if (e.error) return [mark, e.name, c.bad('invalid'), c.dim('—'), c.bad(e.error.message.replace(/^profile \S+: /, ''))];
    const p = e.profile!;
    return [
      mark,
      e.name,
      p.authentication.type,
      p.authentication.federation_rule_id ?? c.dim('—'),
      `${profileSource(p)}${p.own.cache === 'keyring' ? c.dim(' (keyring cache)') : ''}`,
    ];
  });
  let out = table(rows, [' ', 'PROFILE', 'TYPE', 'RULE', 'IDENTITY']);
  const missing = active.name && !entries.some((e) => e.name === active.name) ? c.bad(' — no such profile') : '';
  out += `\n${c.dim(`active: ${active.name ?? '(none)'} (${active.origin})`)}${missing}\n`;
  if (active.shadowedBy) out += `${c.dim(`note: ${active.shadowedBy}`)}\n`;
  out += c.dim(`config dir: ${configDir.value} (${configDir.origin})\n`);
  ctx.io.stdout.write(out);
  return 0;
}

/** `profiles show [name]`: the file's fields and what claude-wif resolves from it. Profiles hold no secrets. */
export async function runProfilesShow(ctx: CommandContext, opts: { json?: boolean }, input: Invocation): Promise<number> {
  const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir);
  const given = input.args[0];
  const active = activeProfile(ctx.io.env, configDir.value, ctx.global.profile);
  const name = given ?? active.name;
  if (!name) throw new WifError('usage_error', 'no profile is active', { hint: 'name one: `claude-wif profiles show <name>`' });
  const origin = given ? 'argument' : active.origin;
  validateProfileName(name, origin);
  const path = profilePath(configDir.value, name);
  const p = readProfile(path, name, origin);
  let resolved: Record<string, unknown> | { error: Record<string, unknown> };
  try {
    const plan = ctx.planFor(name);
    resolved = {
      identity_source: plan.identity ? { value: plan.identity.source.value, origin: plan.identity.source.origin, options: plan.identity.options } : null,
      cache: { path: plan.cache.path, backend: plan.cache.backend, backend_origin: plan.cache.backendOrigin },
      base_url: plan.baseUrl,
    };
  } catch (err) {
    if (!(err instanceof WifError)) throw err;
    resolved = { error: err.toJSON() };
  }
  const doc = { name, path, active: !active.shadowedBy && active.name === name, ...profileSummary(p), file: p.raw, resolved };
  if (opts.json) {
    ctx.io.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
    return 0;
  }
  const c = await colours(ctx.io, ctx.global.color !== false);
  const s = profileSummary(p);
  const dash = (v: unknown) => (v === null || v === undefined ? c.dim('—') : String(v));
  const rows: string[][] = [
    ['Profile', `${name}${doc.active ? c.ok('  (active)') : ''}`],
    ['File', path],
    ['Type', String(s['type'])],
    ['Organization', dash(s['organization_id'])],
    ['Federation rule', dash(s['federation_rule_id'])],
    ['Service account', dash(s['service_account_id'])],
    ['Workspace', dash(s['workspace_id'])],
    ['Base URL', dash(s['base_url'] ?? c.dim('https://api.anthropic.com (default)'))],
  ];
  if ('error' in resolved) rows.push(['Resolves to', c.bad(String((resolved.error as { message: string }).message))]);
  else {
    const id = resolved['identity_source'] as { value: string; origin: string; options: Record<string, unknown> } | null;
    if (id) {
      const o = Object.entries(id.options).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
      rows.push(['Identity source', `${id.value}${o ? ` ${o}` : ''}  ${c.dim(`(${id.origin})`)}`]);
    }
    const cache = resolved['cache'] as { path: string; backend: string; backend_origin: string };
    rows.push(['Token cache', `${cache.backend === 'keyring' ? 'OS keyring' : cache.path}  ${c.dim(`(${cache.backend_origin})`)}`]);
  }
  ctx.io.stdout.write(table(rows));
  return 0;
}

/** `profiles use <name>`: writes active_config (what the SDKs read when no profile is named). */
export async function runProfilesUse(ctx: CommandContext, _opts: unknown, input: Invocation): Promise<number> {
  const name = input.args[0]!;
  const configDir = resolveConfigDir(ctx.io.env, ctx.global.configDir);
  validateProfileName(name, 'argument');
  const path = profilePath(configDir.value, name);
  // Refuse to activate something the SDKs would then fail to load.
  readProfile(path, name, 'argument');
  const file = writeActiveConfig(configDir.value, name);
  ctx.log.info(`"${name}" is now the active profile (${file})`);
  const active = activeProfile(ctx.io.env, configDir.value);
  if (active.name !== name) ctx.log.warn(`${active.origin} still selects "${active.name}" in this shell; unset it for "${name}" to take effect`);
  else if (active.shadowedBy) ctx.log.warn(active.shadowedBy);
  return 0;
}
