import { isAbsolute, resolve as resolvePath } from 'node:path';
import type { CommandContext } from '../context.js';
import { ID_PATTERNS, validateBaseUrl, validateId } from '../../config/ids.js';
import { profilePath, readEnv, resolveConfigDir, validateProfileName } from '../../config/paths.js';
import { implicitProfile } from '../../config/profiles.js';
import { allSourceFlags, flagAttribute, optionsFor, sourceNames, type SourceOption } from '../../config/source-options.js';
import { unknownSourceError } from '../../identity/names.js';
import { buildProfile, currentIdentity, readRawProfile, serialize, validateForWrite, writeActiveConfig, writeProfileFile, type ProfileChanges } from '../../config/write-profile.js';
import { OWN_KEY } from '../../config/profile.js';
import { CACHE_BACKENDS } from '../../core/resolve.js';
import { DEFAULT_BASE_URL } from '../../protocol.js';
import { requireSecureEndpoint } from '../../exchange/token-endpoint.js';
import { WifError } from '../../util/errors.js';
import { lineDiff } from '../../util/diff.js';
import { colours } from '../io.js';
import type { Prompter } from '../prompt.js';

export interface ConfigureOptions {
  organizationId?: string;
  federationRuleId?: string;
  serviceAccountId?: string;
  workspaceId?: string;
  baseUrl?: string;
  identityOption?: string[];
  activate?: boolean;
  dryRun?: boolean;
  yes?: boolean;
  /** false with --no-input: never prompt, even on a terminal. */
  input?: boolean;
  [sourceFlag: string]: unknown;
}

type IdKind = keyof typeof ID_PATTERNS;
const ID_FIELDS: Array<{ kind: IdKind; flag: string; attr: keyof ConfigureOptions; label: string; optional: boolean }> = [
  { kind: 'organization_id', flag: '--organization-id', attr: 'organizationId', label: 'Organization ID (a UUID)', optional: false },
  { kind: 'federation_rule_id', flag: '--federation-rule-id', attr: 'federationRuleId', label: 'Federation rule ID (fdrl_…)', optional: false },
  { kind: 'service_account_id', flag: '--service-account-id', attr: 'serviceAccountId', label: 'Service account ID (svac_…)', optional: true },
  { kind: 'workspace_id', flag: '--workspace-id', attr: 'workspaceId', label: 'Workspace ID (wrkspc_… or "default"; needed when the rule spans several workspaces)', optional: true },
];

const idError = (kind: IdKind, v: string): string | undefined => {
  try {
    validateId(kind, v, 'your answer');
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/ \(from your answer\)/, '');
  }
};

function baseUrlError(v: string): string | undefined {
  try {
    requireSecureEndpoint(validateBaseUrl(v, 'your answer'));
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Flag and prompt values become option values: numbers, argv arrays, absolute paths. */
function parseOptionValue(o: SourceOption | undefined, key: string, value: string, cwd: string): unknown {
  const kind = o?.kind ?? 'string';
  if (kind === 'number') {
    if (!/^\d+$/.test(value)) throw new WifError('usage_error', `${o ? `--${o.flag}` : key} ${JSON.stringify(value)} must be a whole number`);
    return Number(value);
  }
  if (kind === 'json-array') {
    if (value.trim().startsWith('[')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(value);
      } catch {
        parsed = undefined;
      }
      if (!Array.isArray(parsed) || !parsed.length || !parsed.every((a) => typeof a === 'string')) {
        throw new WifError('usage_error', `${o ? `--${o.flag}` : key} must be a JSON array of strings or plain words`);
      }
      return parsed;
    }
    return value.trim().split(/\s+/);
  }
  if (/(^|_)path$/.test(key) && value && !isAbsolute(value)) return resolvePath(cwd, value);
  return value;
}

/** Parses --identity-option key=value (JSON values allowed: numbers, arrays, booleans). */
function genericOption(spec: string): [string, unknown] {
  const i = spec.indexOf('=');
  const key = i > 0 ? spec.slice(0, i) : '';
  if (!/^[a-z][a-z0-9_]*$/.test(key)) {
    throw new WifError('usage_error', `--identity-option ${JSON.stringify(spec)} is not key=value with a snake_case key`, { hint: 'for example --identity-option audience=https://api.anthropic.com' });
  }
  if (key === 'source') throw new WifError('usage_error', 'set the source with --identity-source, not --identity-option');
  const raw = spec.slice(i + 1);
  try {
    const v = JSON.parse(raw) as unknown;
    if (typeof v !== 'string') return [key, v];
  } catch {
    /* a plain string */
  }
  return [key, raw];
}

interface Detected {
  source: string;
  reason: string;
  options: Record<string, unknown>;
}

async function detect(env: Record<string, string | undefined>): Promise<Detected | { none: string }> {
  const { detectSource } = await import('../../identity/detect.js');
  try {
    // Local signals only: configure never probes a metadata server while asking questions.
    return await detectSource(env);
  } catch (err) {
    return { none: err instanceof WifError ? err.message : String(err) };
  }
}

/** `claude-wif configure`: creates or edits an SDK-compatible federation profile. */
export async function runConfigure(ctx: CommandContext, opts: ConfigureOptions): Promise<number> {
  const { io } = ctx;
  const env = io.env;
  const interactive = opts.input !== false && io.stdinIsTTY && io.stderrIsTTY && io.stdin !== undefined;
  const configDir = resolveConfigDir(env, ctx.global.configDir);
  const c = await colours({ ...io, stdoutIsTTY: io.stderrIsTTY }, ctx.global.color !== false);
  const say = (s: string) => {
    if (ctx.log.level !== 'quiet') io.stderr.write(`${s}\n`);
  };

  let prompter: Prompter | undefined;
  try {
    if (interactive) prompter = await (await import('../prompt.js')).createPrompter(io);

    // Which profile.
    let name = ctx.global.profile ?? readEnv(env, 'ANTHROPIC_PROFILE');
    if (name) validateProfileName(name, ctx.global.profile ? 'flag --profile' : 'env ANTHROPIC_PROFILE');
    else if (prompter) {
      say(c.bold(`claude-wif configure — profiles live in ${configDir.value}/configs (${configDir.origin})`));
      name = await prompter.ask('Profile name', {
        default: implicitProfile(configDir.value).name,
        validate: (v) => {
          try {
            validateProfileName(v, 'your answer');
            return undefined;
          } catch (err) {
            return (err as Error).message;
          }
        },
      });
    } else name = 'default';
    const path = profilePath(configDir.value, name);
    const existing = readRawProfile(path);
    if (existing && (existing['authentication'] as Record<string, unknown> | undefined)?.['type'] === 'user_oauth') {
      throw new WifError('config_invalid', `profile "${name}" (${path}) is a user_oauth profile kept by another tool; configure writes federation profiles`, {
        hint: 'choose another profile name with --profile',
      });
    }
    const auth = (existing?.['authentication'] ?? {}) as Record<string, unknown>;
    const current: Record<IdKind, string | undefined> = {
      organization_id: str(existing?.['organization_id']),
      federation_rule_id: str(auth['federation_rule_id']),
      service_account_id: str(auth['service_account_id']),
      workspace_id: str(existing?.['workspace_id']),
    };
    if (prompter) say(`${existing ? 'Editing' : 'Creating'} profile "${name}": ${path}${existing ? '' : ' (new)'}`);

    const changes: ProfileChanges = {};
    const missing: string[] = [];

    // Ids: flags first ("" removes an optional one), then prompts, validated as typed.
    for (const f of ID_FIELDS) {
      const flag = opts[f.attr] as string | undefined;
      if (flag !== undefined) {
        if (flag === '' && !f.optional) throw new WifError('usage_error', `${f.flag} cannot be empty`);
        if (flag !== '') validateId(f.kind, flag, `flag ${f.flag}`);
        changes[f.kind] = flag === '' ? null : flag;
      } else if (prompter) {
        const v = await prompter.ask(f.label, { default: current[f.kind], optional: f.optional, validate: (x) => idError(f.kind, x) });
        changes[f.kind] = v === '' ? null : v;
      } else if (!f.optional && !current[f.kind]) missing.push(f.flag);
    }

    // Base URL.
    const currentBase = str(existing?.['base_url']);
    if (opts.baseUrl !== undefined) {
      if (opts.baseUrl === '') changes.base_url = null;
      else {
        const err = baseUrlError(opts.baseUrl);
        if (err) throw new WifError('usage_error', `--base-url: ${err}`, { hint: 'use https://api.anthropic.com (the default), or an https URL of a gateway' });
        changes.base_url = validateBaseUrl(opts.baseUrl, 'flag --base-url');
      }
    } else if (prompter) {
      const v = await prompter.ask('Base URL', { default: currentBase ?? DEFAULT_BASE_URL, validate: baseUrlError });
      const clean = validateBaseUrl(v, 'your answer');
      // The default need not be written: every client assumes it.
      changes.base_url = clean === DEFAULT_BASE_URL && !currentBase ? undefined : clean;
    }

    // Identity source and its options.
    const was = currentIdentity(existing);
    const names = sourceNames();
    const sourceFlag = ctx.global.identitySource;
    if (sourceFlag !== undefined && !names.includes(sourceFlag)) {
      throw unknownSourceError(sourceFlag, 'flag --identity-source');
    }
    const given = new Map<string, { o: SourceOption; value: string }>();
    for (const o of allSourceFlags()) {
      const v = opts[flagAttribute(o.flag)];
      if (typeof v === 'string') given.set(o.flag, { o, value: v });
    }
    const generic = (opts.identityOption ?? []).map(genericOption);
    let source = sourceFlag;
    if (!source && (given.size || generic.length)) {
      const fits = (s: string) => [...given.keys()].every((f) => optionsFor(s).some((o) => o.flag === f));
      if (was && fits(was.source)) source = was.source;
      else if (given.has('identity-token-file') && fits('file')) source = 'file';
      else {
        const flags = [...given.keys()].map((f) => `--${f}`).join(', ') || '--identity-option';
        throw new WifError('usage_error', `${flags} ${was ? `does not apply to the profile's identity source (${was.source})` : 'needs an identity source'}`, {
          hint: `name the source: --identity-source <${names.join('|')}>`,
        });
      }
    }
    if (prompter && !source) {
      const d = await detect(env);
      if ('none' in d) say(c.dim(`Identity: nothing was auto-detected on this machine.`));
      else say(`Identity: auto-detection finds ${c.bold(d.source)} here (${d.reason}).`);
      const def = was?.source ?? ('none' in d ? 'file' : d.source);
      say(c.dim(`  sources: ${names.join(', ')} ("auto" detects at run time)`));
      source = await prompter.ask('Identity source', { default: def, choices: names });
      const options = sameSource(was, source) ? { ...was!.options } : !('none' in d) && d.source === source ? { ...d.options } : {};
      for (const o of optionsFor(source)) {
        const prior = options[o.key];
        const v = await prompter.ask(`  ${o.label}`, {
          default: prior === undefined ? o.suggested : Array.isArray(prior) ? JSON.stringify(prior) : String(prior),
          optional: !o.required,
        });
        if (v === '') delete options[o.key];
        else options[o.key] = parseOptionValue(o, o.key, v, io.cwd);
      }
      for (const [k, v] of generic) options[k] = v;
      changes.identity = { source, options };
    } else if (source) {
      const applicable = optionsFor(source);
      for (const flag of given.keys()) {
        if (!applicable.some((o) => o.flag === flag)) {
          throw new WifError('usage_error', `--${flag} does not apply to the ${source} identity source`, {
            hint: applicable.length ? `the ${source} source takes: ${applicable.map((o) => `--${o.flag}`).join(', ')}` : `the ${source} source takes no options`,
          });
        }
      }
      // Same source: the given options change, the others stay. Another source: a fresh set.
      const options: Record<string, unknown> = sameSource(was, source) ? { ...was!.options } : {};
      for (const { o, value } of given.values()) {
        if (value === '') delete options[o.key];
        else options[o.key] = parseOptionValue(o, o.key, value, io.cwd);
      }
      for (const [k, v] of generic) options[k] = v;
      for (const o of applicable) if (o.required && options[o.key] === undefined) missing.push(`--${o.flag}`);
      changes.identity = { source, options };
    }

    // Cache backend.
    const cacheFlag = ctx.global.cache;
    if (cacheFlag !== undefined) {
      changes.cache = cacheFlag === 'file' ? null : cacheFlag;
    } else if (prompter) {
      const own = (existing?.[OWN_KEY] ?? {}) as Record<string, unknown>;
      say(c.dim('  file: credentials/<profile>.json, shared with the SDKs and Claude Code; keyring: the OS keyring, falling back to the file'));
      const v = await prompter.ask('Token cache', { default: str(own['cache']) ?? 'file', choices: [...CACHE_BACKENDS] });
      changes.cache = v === 'file' ? null : v;
    }

    if (missing.length) {
      const why = interactive ? '' : ': stdin and stderr are not both a terminal, so configure cannot ask';
      throw new WifError('usage_error', `profile "${name}" needs ${missing.join(', ')}${why}`, {
        hint: `pass ${missing.map((m) => `${m} <value>`).join(' ')} (see \`claude-wif configure --help\`)`,
      });
    }

    const doc = buildProfile(existing, changes);
    validateForWrite(doc, path);
    const before = existing ? serialize(existing) : '';
    const after = serialize(doc);
    const diff = lineDiff(before, after);
    let write = before !== after;
    if (write && existing) {
      say(`Changes to ${path}:`);
      say(
        diff
          .replace(/\n$/, '')
          .split('\n')
          .map((l) => (l.startsWith('+') ? c.ok(l) : l.startsWith('-') ? c.bad(l) : c.dim(l)))
          .join('\n'),
      );
      if (prompter && !opts.yes && !opts.dryRun) write = await prompter.confirm('Write these changes?', true);
    } else if (!write) say(`Profile "${name}" is unchanged.`);

    let activate = Boolean(opts.activate);
    const active = implicitProfile(configDir.value);
    if (prompter && !activate && !opts.dryRun && active.name !== name) {
      activate = await prompter.confirm(`Make "${name}" the active profile (currently "${active.name}", ${active.origin})?`, false);
    }
    prompter?.close();
    prompter = undefined;

    if (opts.dryRun) {
      say(`--dry-run: nothing was written.`);
      io.stdout.write(after);
      return 0;
    }
    if (write) {
      writeProfileFile(path, doc);
      say(`${c.ok('✓')} wrote ${path}`);
    } else if (before !== after) {
      say('Nothing was written.');
      return 0;
    }
    if (activate) {
      const file = writeActiveConfig(configDir.value, name);
      say(`${c.ok('✓')} "${name}" is the active profile (${file})`);
    }
    const src = changes.identity?.source ?? was?.source;
    if (src && src !== 'file') {
      say(c.dim(`note: the SDKs and Claude Code read only file identity sources; run them through \`claude-wif exec\` to use "${src}".`));
    }
    say(c.dim(`next: claude-wif doctor --profile ${name}`));
    io.stdout.write(`${path}\n`);
    return 0;
  } finally {
    prompter?.close();
  }
}

function sameSource(was: { source: string } | undefined, source: string): boolean {
  return was !== undefined && was.source === source;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
