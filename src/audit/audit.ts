import { closeSync, constants, fstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync, type Dirent } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { readEnv, resolveConfigDir, type Env } from '../config/paths.js';
import { settingsFiles } from '../doctor/claude-settings.js';
import { BINARY_EXT, classify, SKIP_DIRS, type FileKind } from './classify.js';
import { makeFinding, type Finding, type KeyType } from './finding.js';
import type { Severity } from './rules.js';
import { mayMatter, scanText } from './scan.js';

export interface AuditOptions {
  /** Paths to scan (files or directories); default: the working directory. */
  paths: string[];
  env: Env;
  cwd: string;
  /** --config-dir, when given. */
  configDir?: string | undefined;
  /** Also read the environments of this user's running processes (/proc/<pid>/environ). */
  processes?: boolean;
  /** Files larger than this are skipped (default 1 MiB). */
  maxFileBytes?: number;
  platform?: NodeJS.Platform;
}

export interface AuditReport {
  roots: string[];
  locations: { home_files: string[]; config_dir: string; claude_settings: string[]; environment: boolean; processes: boolean | number };
  scanned: { files: number; read: number; skipped: { binary: number; large: number; unreadable: number; directories: number }; duration_ms: number };
  findings: Finding[];
  summary: { static: number; federated: number; expected: number; by_severity: Record<Severity, number>; by_rule: Record<string, number> };
  exit_code: 0 | 7;
}

/** Shell start-up files read in the user's home (where exports of keys usually live). */
const HOME_FILES = ['.bashrc', '.bash_profile', '.bash_login', '.profile', '.zshrc', '.zshenv', '.zprofile', '.zlogin', '.kshrc', '.envrc', '.env', join('.config', 'fish', 'config.fish'), join('.config', 'environment.d', 'anthropic.conf'), join('.claude', '.credentials.json')];

/** Names whose value is a static credential wherever it is set. */
const CREDENTIAL_VARS = /^(ANTHROPIC_API_KEY|ANTHROPIC_AUTH_TOKEN|CLAUDE_CODE_OAUTH_TOKEN|ANTHROPIC_ADMIN_KEY|ANTHROPIC_ADMIN_API_KEY)$/;
const KEY_VALUE = /^sk-ant-(api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{8,}$/;
const KEY_IN_VALUE = /sk-ant-(api03|admin01|oat01|ort01)-[A-Za-z0-9_-]{8,}/;

class Scanner {
  readonly findings: Finding[] = [];
  readonly seen = new Set<string>();
  files = 0;
  /** Reused for every file up to 64 KiB (most of a tree): no allocation per file. */
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);
  read = 0;
  skipped = { binary: 0, large: 0, unreadable: 0, directories: 0 };
  private readonly repoCache = new Map<string, string | undefined>();

  constructor(
    private readonly cwd: string,
    private readonly maxBytes: number,
    private readonly home: string,
  ) {}

  display(path: string): string {
    const rel = relative(this.cwd, path);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : path;
  }

  walk(root: string): void {
    let st;
    try {
      st = statSync(root);
    } catch {
      this.skipped.unreadable++;
      return;
    }
    if (st.isFile()) return this.file(root, undefined, st.size);
    if (!st.isDirectory()) return;
    const stack = [root];
    while (stack.length) {
      const dir = stack.pop()!;
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        this.skipped.unreadable++;
        continue;
      }
      for (const e of entries) {
        const full = join(dir, e.name);
        if (e.isDirectory()) {
          if (SKIP_DIRS.has(e.name)) this.skipped.directories++;
          else stack.push(full);
        } else if (e.isFile()) {
          this.file(full);
        } else if (e.isSymbolicLink()) {
          // Symlinked files are read (a .env may be a link); symlinked directories are not followed (loops).
          try {
            const t = statSync(full);
            if (t.isFile()) this.file(full, undefined, t.size);
          } catch {
            /* dangling */
          }
        }
      }
    }
  }

  file(path: string, kind?: FileKind, _size?: number): void {
    const ext = extname(path).slice(1).toLowerCase();
    if (ext && BINARY_EXT.has(ext)) {
      this.files++;
      this.skipped.binary++;
      return;
    }
    // One open, one fstat, one read per file: the device and inode identify a file reached twice
    // (a root inside another, a home file also under a root, a symlink), without realpath's
    // per-component lookups, which dominated the time on large trees.
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      this.files++;
      this.skipped.unreadable++;
      return;
    }
    let buf: Buffer;
    try {
      const st = fstatSync(fd);
      const id = `${st.dev}:${st.ino}`;
      if (this.seen.has(id)) return;
      this.seen.add(id);
      this.files++;
      if (!st.isFile()) return;
      if (st.size > this.maxBytes) {
        this.skipped.large++;
        return;
      }
      buf = st.size <= this.scratch.length ? this.scratch.subarray(0, readSync(fd, this.scratch, 0, this.scratch.length, 0)) : readFileSync(fd);
    } catch {
      this.skipped.unreadable++;
      return;
    } finally {
      closeSync(fd);
    }
    this.read++;
    // Binary content: a NUL byte in the first 4 KiB (as git and grep decide).
    const probe = buf.length > 4096 ? buf.subarray(0, 4096) : buf;
    if (probe.indexOf(0) !== -1) {
      this.skipped.binary++;
      return;
    }
    if (!mayMatter(buf)) return;
    const text = buf.toString('utf8');
    let k = kind ?? classify(path);
    // A workflow kept outside .github/workflows (a template, an example) is still a workflow.
    if (k === 'yaml' && /^jobs:\s*$/m.test(text) && /^(on|"on"|'on'|true):/m.test(text)) k = 'github-workflow';
    const display = this.display(path);
    const found = scanText(text, {
      path: display,
      kind: k,
      githubRepo: k === 'github-workflow' || k === 'github-action' ? this.githubRepo(path) : undefined,
      workstation: dirname(path) === this.home || path.startsWith(join(this.home, '.config') + sep),
    });
    for (const f of found) this.findings.push(f);
  }

  /** owner/repo from the origin remote of the repository holding this file (for the GitHub subject). */
  private githubRepo(path: string): string | undefined {
    let dir = dirname(path);
    for (;;) {
      if (this.repoCache.has(dir)) return this.repoCache.get(dir);
      let cfg: string | undefined;
      try {
        cfg = readFileSync(join(dir, '.git', 'config'), 'utf8');
      } catch {
        /* not here */
      }
      if (cfg !== undefined) {
        const m = /\[remote "origin"\][^[]*?url\s*=\s*\S*github\.com[:/]([\w.-]+\/[\w.-]+?)(?:\.git)?\s*$/m.exec(cfg);
        this.repoCache.set(dirname(path), m?.[1]);
        return m?.[1];
      }
      const up = dirname(dir);
      if (up === dir) return undefined;
      dir = up;
    }
  }

  /** Credentials files must be 0600 in a 0700 directory (what the SDKs accept). */
  permissions(dir: string): void {
    let entries: string[];
    try {
      const st = statSync(dir);
      if (st.mode & 0o077) {
        this.findings.push(makeFinding('credentials-file-permissions', { path: this.display(dir), context: 'sdk-credentials' }, `the credentials directory is mode ${(st.mode & 0o777).toString(8)}: other users can reach cached tokens`, 'workstation'));
      }
      entries = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of entries) {
      if (!name.endsWith('.json')) continue;
      try {
        const st = statSync(join(dir, name));
        if (st.mode & 0o077) {
          this.findings.push(makeFinding('credentials-file-permissions', { path: this.display(join(dir, name)), context: 'sdk-credentials' }, `a cached token file is mode ${(st.mode & 0o777).toString(8)}: other users can read or replace it (needs 0600)`, 'workstation'));
        }
      } catch {
        /* gone */
      }
    }
  }
}

/** Credentials in a set of environment variables (this process, or another one's /proc/<pid>/environ). */
export function scanEnvironment(env: Env, path: (name: string) => string, context: string): Finding[] {
  const out: Finding[] = [];
  // Inside `claude-wif exec` (or after `claude-wif env`) a short-lived federated token, or the
  // proxy's session secret, is expected in these variables.
  const underClaudeWif = Boolean(readEnv(env, 'CLAUDE_WIF_EXEC_PROFILE') || readEnv(env, 'CLAUDE_WIF_TOKEN_EXPIRES_AT'));
  const platform = context === 'process' ? 'process' : 'workstation';
  for (const [name, raw] of Object.entries(env)) {
    const value = raw ?? '';
    if (!value) continue;
    const key = KEY_IN_VALUE.exec(value);
    const type = key?.[1] as KeyType | undefined;
    if (key && type === 'oat01' && underClaudeWif) {
      out.push(makeFinding('federated-environment', { path: path(name), context, variable: name }, `${name} holds a short-lived token handed out by claude-wif`, platform, { key: { type, value: key[0] } }));
      continue;
    }
    if (key) {
      out.push(makeFinding('environment-credential', { path: path(name), context, variable: name }, `${name} holds ${type === 'api03' ? 'an API key' : type === 'admin01' ? 'an Admin API key' : type === 'ort01' ? 'a refresh token' : 'an OAuth token'}`, platform, { key: { type: type!, value: key[0] } }));
      continue;
    }
    if (CREDENTIAL_VARS.test(name) && !underClaudeWif) {
      out.push(makeFinding('environment-credential', { path: path(name), context, variable: name }, `${name} is set (not an Anthropic-shaped value; a gateway or other key)`, platform));
    }
  }
  if (readEnv(env, 'ANTHROPIC_FEDERATION_RULE_ID') && readEnv(env, 'ANTHROPIC_ORGANIZATION_ID')) {
    out.push(makeFinding('federated-environment', { path: path('ANTHROPIC_FEDERATION_RULE_ID'), context, variable: 'ANTHROPIC_FEDERATION_RULE_ID' }, 'the federation variables are set', platform));
  }
  return out;
}

function processes(): Array<{ pid: number; exe: string; env: Env }> {
  const out: Array<{ pid: number; exe: string; env: Env }> = [];
  const uid = process.getuid?.();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((n) => /^\d+$/.test(n));
  } catch {
    return out;
  }
  for (const p of pids) {
    const pid = Number(p);
    if (pid === process.pid) continue;
    try {
      if (uid !== undefined && statSync(`/proc/${p}`).uid !== uid) continue;
      const raw = readFileSync(`/proc/${p}/environ`, 'utf8');
      const env: Env = {};
      for (const kv of raw.split('\0')) {
        const eq = kv.indexOf('=');
        if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      let exe: string;
      try {
        exe = readlinkSync(`/proc/${p}/exe`);
      } catch {
        exe = readFileSync(`/proc/${p}/comm`, 'utf8').trim();
      }
      out.push({ pid, exe, env });
    } catch {
      /* gone, or not ours */
    }
  }
  return out;
}

const SEVERITY_ORDER: Severity[] = ['critical', 'high', 'medium', 'low', 'info'];
const STATUS_ORDER = { static: 0, federated: 1, expected: 2 } as const;

export function runAudit(opts: AuditOptions): AuditReport {
  const started = Date.now();
  const home = readEnv(opts.env, 'HOME') ?? readEnv(opts.env, 'USERPROFILE') ?? homedir();
  const s = new Scanner(opts.cwd, opts.maxFileBytes ?? 1024 * 1024, home);
  const roots = (opts.paths.length ? opts.paths : ['.']).map((p) => resolve(opts.cwd, p));
  for (const r of roots) s.walk(r);

  const homeFiles = HOME_FILES.map((f) => join(home, f));
  for (const f of homeFiles) {
    try {
      if (statSync(f).isFile()) s.file(f);
    } catch {
      /* absent */
    }
  }

  const configDir = resolveConfigDir(opts.env, opts.configDir, opts.platform).value;
  for (const [sub, kind] of [['configs', 'sdk-profile'], ['credentials', 'sdk-credentials']] as const) {
    const dir = join(configDir, sub);
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.json'));
    } catch {
      continue;
    }
    for (const n of names) s.file(join(dir, n), kind);
  }
  s.permissions(join(configDir, 'credentials'));

  const settings = settingsFiles(opts.env, opts.cwd, opts.platform).map((f) => f.file);
  for (const f of [...new Set(settings)]) {
    try {
      if (statSync(f).isFile()) s.file(f, 'claude-settings');
    } catch {
      /* absent */
    }
  }

  s.findings.push(...scanEnvironment(opts.env, (n) => `env:${n}`, 'environment'));
  let procCount: number | boolean = false;
  if (opts.processes) {
    const ps = processes();
    procCount = ps.length;
    for (const p of ps) s.findings.push(...scanEnvironment(p.env, (n) => `process:${p.pid}:${n}`, 'process').map((f) => ({ ...f, message: `${f.message} (pid ${p.pid}, ${p.exe})` })));
  }

  const findings = s.findings.sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
      (a.line ?? 0) - (b.line ?? 0) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
  const bySeverity = Object.fromEntries(SEVERITY_ORDER.map((k) => [k, 0])) as Record<Severity, number>;
  const byRule: Record<string, number> = {};
  for (const f of findings) {
    if (f.status === 'static') bySeverity[f.severity]++;
    byRule[f.rule] = (byRule[f.rule] ?? 0) + 1;
  }
  const staticCount = findings.filter((f) => f.status === 'static').length;
  return {
    roots: roots.map((r) => s.display(r) || '.'),
    locations: { home_files: homeFiles.map((f) => s.display(f)), config_dir: s.display(configDir), claude_settings: settings.map((f) => s.display(f)), environment: true, processes: procCount },
    scanned: { files: s.files, read: s.read, skipped: s.skipped, duration_ms: Date.now() - started },
    findings,
    summary: {
      static: staticCount,
      federated: findings.filter((f) => f.status === 'federated').length,
      expected: findings.filter((f) => f.status === 'expected').length,
      by_severity: bySeverity,
      by_rule: byRule,
    },
    exit_code: staticCount ? 7 : 0,
  };
}
