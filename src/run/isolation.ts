import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { readEnv, resolveCacheDir, resolveConfigDir, type Env } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { findBubblewrap } from './scrub.js';
import type { ChildResult, RunningChild, SignalForwarder } from './exec/child.js';

/**
 * `exec --isolate` (issue 12 item 3): the child runs under bubblewrap in its own user, mount, PID,
 * IPC and UTS namespaces, and by default its own network namespace, so that a child running as
 * the same user cannot reach what the parent can:
 *
 * - the file system is read-only, except the working directory (and ~/.claude, which Claude Code
 *   needs); /tmp, /var/tmp and /dev/shm are private and empty;
 * - hidden behind empty tmpfs or /dev/null: the SDK config directories (profiles and token
 *   caches), claude-wif's cache (ledger, locks, proxy secrets), every identity file and socket the
 *   identity sources declare (identity/material.ts), $XDG_RUNTIME_DIR (session bus, keyring,
 *   other sessions' private directories), /run/secrets and /var/run/secrets, Claude Code's own
 *   credentials file, and every other user's home;
 * - a fresh /proc for the new PID namespace: the parent and every other process of the machine
 *   are out of sight (no /proc/<pid>/environ, cmdline or mem to read);
 * - no capabilities, even when started by root;
 * - a network namespace holding only loopback: the child reaches the API only through the
 *   session's proxy (a forwarder inside listens on the same 127.0.0.1 port and relays to the
 *   proxy's unix socket, bound in). Metadata servers, identity endpoints and the token endpoint
 *   are unreachable. `--isolate-share-net` keeps the host network instead, for children that need
 *   it; they can then reach whatever the machine can.
 *
 * Loaded only for `exec --isolate`: other modes keep their start-up.
 */

export interface IsolationAvailable {
  ok: true;
  bwrap: string;
  /** Whether bubblewrap works again inside the sandbox (Claude Code runs its tools under it). */
  nested: boolean;
  nestedReason?: string | undefined;
}
export interface IsolationUnavailable {
  ok: false;
  reason: string;
  fix: string;
}
export type IsolationProbe = IsolationAvailable | IsolationUnavailable;

const NAMESPACES = ['--unshare-user', '--unshare-pid', '--unshare-ipc', '--unshare-uts', '--unshare-cgroup-try'];

const firstLine = (s: string | Buffer | null | undefined): string => String(s ?? '').trim().split('\n')[0] ?? '';

/**
 * Can this machine isolate a child? Linux, a bubblewrap binary, and namespaces it may create
 * (user namespaces can be disabled by sysctl, AppArmor, seccomp or a container runtime). The probe
 * runs bubblewrap once with the same namespaces and mounts a real session uses, and once more
 * inside itself (Claude Code's own sandbox needs a nested bubblewrap).
 */
export function probeIsolation(env: Env, platform: NodeJS.Platform = process.platform): IsolationProbe {
  if (platform !== 'linux') {
    return { ok: false, reason: `isolation uses Linux namespaces (bubblewrap); this is ${platform}`, fix: 'run without --isolate, or on Linux' };
  }
  const pinned = readEnv(env, 'CLAUDE_WIF_BWRAP');
  const bwrap = pinned !== undefined ? (existsSync(pinned) ? pinned : undefined) : (findBubblewrap(env, { platform }).path ?? (existsSync('/usr/bin/bwrap') ? '/usr/bin/bwrap' : undefined));
  if (!bwrap && pinned !== undefined) {
    return { ok: false, reason: `CLAUDE_WIF_BWRAP names ${pinned}, which does not exist`, fix: 'point CLAUDE_WIF_BWRAP at the bwrap binary, or unset it to look on PATH' };
  }
  if (!bwrap) {
    return { ok: false, reason: 'bubblewrap (bwrap) is not installed (looked on PATH and in /usr/bin)', fix: 'install it (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install bubblewrap), or run without --isolate' };
  }
  const base = [...NAMESPACES, '--unshare-net', '--die-with-parent', '--cap-drop', 'ALL', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  const outer = spawnSync(bwrap, [...base, '--', '/bin/true'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'ignore', 'pipe'] });
  if (outer.error || outer.status !== 0) {
    const why = firstLine(outer.stderr) || outer.error?.message || `exit status ${outer.status}`;
    return {
      ok: false,
      reason: `bubblewrap cannot create the namespaces isolation needs: ${why}`,
      fix: 'allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1 or user.max_user_namespaces > 0; on Ubuntu 24.04+ an AppArmor profile for bwrap; in containers a seccomp profile that allows clone/unshare), or run without --isolate',
    };
  }
  const nested = spawnSync(bwrap, [...base, '--', bwrap, ...NAMESPACES, '--unshare-net', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--', '/bin/true'], {
    encoding: 'utf8',
    timeout: 10_000,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const nestedOk = !nested.error && nested.status === 0;
  return { ok: true, bwrap, nested: nestedOk, nestedReason: nestedOk ? undefined : firstLine(nested.stderr) || nested.error?.message };
}

/** Refuses (exit 6) when isolation was asked for and cannot be had: never a silent fallback. */
export function requireIsolation(probe: IsolationProbe): IsolationAvailable {
  if (probe.ok) return probe;
  throw new WifError('isolation_unavailable', `--isolate was asked for, but ${probe.reason}; refusing to run the command without it`, { hint: probe.fix });
}

export interface IsolationLayout {
  home: string;
  cwd: string;
  uid: number;
  /** Directories to hide (empty tmpfs): config dirs, caches, runtime dirs, other homes, platform secret dirs. */
  hideDirs: string[];
  /** Files and sockets to hide (/dev/null bound over them). */
  hideFiles: string[];
  /** Directories the child may write to (besides its private /tmp). */
  writable: string[];
  /** Read-only again although under something hidden: the command's own installation. */
  expose: string[];
  /** 'none': loopback only, the proxy reached through the forwarder; 'host': the host's network. */
  network: 'none' | 'host';
  /** Inside the sandbox: where the proxy's unix socket is bound (network 'none'). */
  proxySocket?: { host: string; inside: string } | undefined;
}

/** Where the proxy socket appears inside the sandbox: in its private /tmp, never on the host. */
export const INSIDE_PROXY_SOCKET = '/tmp/.claude-wif/proxy.sock';

const isUnder = (p: string, dir: string): boolean => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

function real(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return resolve(p);
  }
}

/**
 * What to hide, from the parent's environment and the identity material: pure apart from
 * looking at which paths exist (bubblewrap can only mount over something that is there).
 */
export function isolationLayout(opts: {
  env: Env;
  cwd: string;
  materialFiles: readonly string[];
  configDir?: string | undefined;
  network: 'none' | 'host';
  proxySocket?: string | undefined;
  uid?: number;
  /** The command (a name looked up on PATH, or a path): its installation stays visible. */
  command?: string | undefined;
  /** More directories to hide (the session's own private directory, whose socket is bound in elsewhere). */
  alsoHide?: readonly string[];
  /** Test seam: the directory holding users' homes. */
  homesRoot?: string;
  /** Test seam: the directories the sandbox replaces with its own empty tmpfs. */
  privateTmp?: readonly string[];
}): IsolationLayout {
  const env = opts.env;
  const home = real(readEnv(env, 'HOME') ?? homedir());
  const cwd = real(opts.cwd);
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : 0);
  const dirs = new Set<string>();
  const files = new Set<string>();
  const hide = (p: string | undefined): void => {
    if (!p) return;
    const r = real(p);
    let st;
    try {
      st = lstatSync(r);
    } catch {
      return; // nothing there to hide
    }
    if (st.isDirectory()) dirs.add(r);
    else files.add(r);
  };
  // Profiles and token caches, wherever a client may look for them.
  hide(opts.configDir);
  hide(resolveConfigDir(env).value);
  hide(join(home, '.config', 'anthropic'));
  const xdg = readEnv(env, 'XDG_CONFIG_HOME');
  if (xdg) hide(join(xdg, 'anthropic'));
  hide(resolveCacheDir(env).value);
  hide(join(home, '.cache', 'claude-wif'));
  // Claude Code's own login (a claude.ai OAuth token).
  hide(join(readEnv(env, 'CLAUDE_CONFIG_DIR') ?? join(home, '.claude'), '.credentials.json'));
  // The session bus, keyrings, agents' sockets and other sessions' private directories.
  hide(readEnv(env, 'XDG_RUNTIME_DIR'));
  hide('/run/user');
  // Platform-projected secrets (Kubernetes service-account and Anthropic tokens, Docker secrets).
  hide('/run/secrets');
  hide('/var/run/secrets');
  // An identity file is hidden with its whole directory: platforms replace these files by rename
  // (kubelet's symlink swap, an atomic rewrite), and a rename over a bind-mounted file detaches
  // the mount in every namespace, which would uncover the new file. The file alone is masked only
  // where its directory is HOME, the working directory or one of their parents.
  for (const f of opts.materialFiles) {
    const d = dirname(real(f));
    if (d !== '/' && !isUnder(home, d) && !isUnder(cwd, d)) hide(existsSync(f) ? d : undefined);
    else hide(f);
  }
  for (const d of opts.alsoHide ?? []) hide(d);
  // Every other user's home.
  const homesRoot = opts.homesRoot ?? '/home';
  try {
    for (const n of readdirSync(homesRoot)) {
      const h = join(homesRoot, n);
      if (!isUnder(home, h) && !isUnder(cwd, h)) hide(h);
    }
  } catch {
    /* no /home */
  }
  if (!isUnder(home, '/root') && !isUnder(cwd, '/root')) hide('/root');

  const writable = [cwd];
  const claudeDir = join(home, '.claude');
  if (existsSync(claudeDir)) writable.push(real(claudeDir));
  // A hidden directory stays hidden even if it is (under) the working directory; one that contains
  // the working directory or HOME (an admin's /home) is not hidden as a whole.
  // Under /tmp and /var/tmp the sandbox has its own empty tmpfs: only what is bound back (HOME or
  // the working directory living there) needs hiding again.
  const privateTmp = opts.privateTmp ?? ['/tmp', '/var/tmp'];
  const visible = (p: string): boolean => !privateTmp.some((t) => isUnder(p, t)) || isUnder(p, home) || isUnder(p, cwd);
  const hideDirs = [...dirs].filter((d) => !isUnder(cwd, d) && !isUnder(home, d) && visible(d)).sort();
  const hideFiles = [...files].filter((f) => !hideDirs.some((d) => isUnder(f, d)) && visible(f)).sort();
  // The command must still be there: an installation under /tmp or under another user's home
  // (a tool cache) is bound back read-only — the whole node_modules tree for an npm install,
  // whose launcher runs a sibling package's binary.
  // The same goes for the directories on PATH, which the command and its tools run programs from.
  const expose: string[] = [];
  const hidden = (p: string): boolean => privateTmp.some((t) => isUnder(p, t)) || hideDirs.some((d) => isUnder(p, d));
  const secret = (p: string): boolean => [...dirs].some((d) => d !== '/tmp' && (isUnder(p, d) || isUnder(d, p)) && !isOtherHome(d)) || [...files].some((f) => isUnder(f, p));
  const isOtherHome = (d: string): boolean => dirname(d) === (opts.homesRoot ?? '/home') || d === '/root';
  const cmd = opts.command ? commandPath(opts.command, env, cwd) : undefined;
  const pathDirs = (readEnv(env, 'PATH') ?? '').split(':').filter((d) => d.startsWith('/'));
  const candidates = [...(cmd ? [cmd, real(cmd)] : []), ...pathDirs.flatMap((d) => [join(d, '.'), real(d)])];
  for (const p of new Set(candidates)) {
    if (!hidden(p) || isUnder(p, home) || isUnder(p, cwd)) continue;
    const parts = p.split(sep);
    const at = parts.lastIndexOf('node_modules');
    const root = at > 0 ? parts.slice(0, at + 1).join(sep) : pathDirs.includes(p) || !existsSync(p) || !lstatSync(p).isFile() ? p : dirname(p);
    // Never a directory that holds (or is) something hidden on purpose: a config dir or an identity file.
    if (secret(root) || !existsSync(root)) continue;
    if (!expose.some((e) => isUnder(root, e))) expose.push(root);
  }
  return {
    home,
    cwd,
    uid,
    hideDirs,
    hideFiles,
    writable: writable.filter((w) => w !== '/'),
    expose,
    network: opts.network,
    proxySocket: opts.proxySocket ? { host: opts.proxySocket, inside: INSIDE_PROXY_SOCKET } : undefined,
  };
}

/** The command's file: a path as given (relative to cwd), else the first executable match on PATH. */
function commandPath(command: string, env: Env, cwd: string): string | undefined {
  if (command.includes('/')) return resolve(cwd, command);
  for (const d of (readEnv(env, 'PATH') ?? '').split(':')) {
    if (!d) continue;
    const p = join(resolve(cwd, d), command);
    try {
      if (lstatSync(real(p)).isFile()) return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** bubblewrap's arguments for a layout (before `--` and the command). */
export function bwrapArgs(l: IsolationLayout): string[] {
  const a: string[] = [
    '--die-with-parent',
    // Its own session: no controlling terminal to push keystrokes into (TIOCSTI, CVE-2017-5226).
    '--new-session',
    ...NAMESPACES,
    ...(l.network === 'none' ? ['--unshare-net'] : ['--share-net']),
    // No capabilities, even for root: nothing can unmount what hides the secrets.
    '--cap-drop',
    'ALL',
    '--ro-bind',
    '/',
    '/',
    '--dev',
    '/dev',
    '--proc',
    '/proc',
    '--tmpfs',
    '/tmp',
    '--tmpfs',
    '/var/tmp',
  ];
  // HOME and the working directory may be under /tmp (tests, CI scratch dirs): bring them back.
  for (const p of [l.home, l.cwd]) if (isUnder(p, '/tmp') || isUnder(p, '/var/tmp')) a.push('--ro-bind', p, p);
  for (const w of l.writable) a.push('--bind', w, w);
  for (const d of l.hideDirs) a.push('--tmpfs', d);
  for (const e of l.expose) a.push('--ro-bind', e, e);
  for (const f of l.hideFiles) a.push('--ro-bind', '/dev/null', f);
  if (l.proxySocket) a.push('--dir', dirname(l.proxySocket.inside), '--bind', l.proxySocket.host, l.proxySocket.inside);
  a.push('--chdir', l.cwd);
  return a;
}

/**
 * The first process inside the sandbox (PID 2, after bubblewrap's own init): relays loopback TCP
 * to the proxy's unix socket when the network is private, starts the command, delivers the
 * signals the parent sends over fd 3, and reports how the command ended on the same channel (a
 * command killed by a signal would otherwise reach the parent only as 128+N). Self-contained
 * (it runs as `node -e`), no secrets in it or in its argv.
 */
export const SANDBOX_INIT_SOURCE = `'use strict';
const net = require('node:net');
const cp = require('node:child_process');
const cfg = JSON.parse(process.argv[1] || '{}');
const ctl = new net.Socket({ fd: 3, readable: true, writable: true });
let child;
const report = (r, code) => {
  ctl.end(JSON.stringify(r) + '\\n', () => process.exit(code));
  setTimeout(() => process.exit(code), 2000).unref();
};
let buf = '';
ctl.on('data', (d) => {
  buf += d.toString('utf8');
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const sig = buf.slice(0, i);
    buf = buf.slice(i + 1);
    try { if (child) child.kill(sig); } catch {}
  }
});
ctl.on('error', () => {});
for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH']) process.on(s, () => {});
const start = () => {
  child = cp.spawn(cfg.file, cfg.args, { stdio: 'inherit' });
  child.on('error', (e) => report({ error: e.code || 'EUNKNOWN' }, e.code === 'ENOENT' ? 127 : 126));
  child.on('exit', (code, signal) => report({ code, signal }, code === null ? 1 : code));
};
if (cfg.forward) {
  const server = net.createServer((c) => {
    const u = net.connect(cfg.forward.socket);
    c.pipe(u).pipe(c);
    u.on('error', () => c.destroy());
    c.on('error', () => u.destroy());
  });
  server.on('error', (e) => report({ error: 'forwarder: ' + (e.code || e.message) }, 126));
  server.listen(cfg.forward.port, '127.0.0.1', start);
} else start();
`;

export interface IsolatedSpawn {
  bwrap: string;
  layout: IsolationLayout;
  file: string;
  args: string[];
  env: Record<string, string>;
  /** The proxy's TCP port, reproduced inside the private network namespace. */
  proxyPort?: number | undefined;
  forwarder?: SignalForwarder;
}

/**
 * Starts the command in the sandbox. bubblewrap runs in its own process group, so a terminal's
 * ^C reaches only the parent, which forwards it over the control channel (the command is in its
 * own session under bubblewrap and would not get it otherwise).
 */
export async function spawnIsolated(req: IsolatedSpawn): Promise<RunningChild> {
  const { spawn } = await import('node:child_process');
  const cfg = {
    file: req.file,
    args: req.args,
    ...(req.layout.network === 'none' && req.layout.proxySocket && req.proxyPort ? { forward: { port: req.proxyPort, socket: req.layout.proxySocket.inside } } : {}),
  };
  const argv = [...bwrapArgs(req.layout), '--', process.execPath, '-e', SANDBOX_INIT_SOURCE, JSON.stringify(cfg)];
  const child = spawn(req.bwrap, argv, { env: req.env, stdio: ['inherit', 'inherit', 'inherit', 'pipe'], detached: true });
  const ctl = child.stdio[3] as import('node:net').Socket;
  let reported: ChildResult | undefined;
  let spawnError: string | undefined;
  let buf = '';
  ctl.on('data', (d: Buffer) => {
    buf += d.toString('utf8');
    const line = buf.split('\n')[0];
    if (buf.includes('\n') && line) {
      try {
        const r = JSON.parse(line) as { code?: number | null; signal?: NodeJS.Signals | null; error?: string };
        if (r.error) spawnError = r.error;
        else reported = { code: r.code ?? null, signal: r.signal ?? null };
      } catch {
        /* not ours */
      }
    }
  });
  ctl.on('error', () => {});
  return new Promise<RunningChild>((resolveStart, reject) => {
    let started = false;
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (started) return;
      reject(new WifError('isolation_unavailable', `cannot start bubblewrap (${req.bwrap}): ${err.code ?? err.message}`, { hint: 'check the bwrap installation, or run without --isolate' }));
    });
    const exited = new Promise<ChildResult>((done) => {
      child.once('exit', (code, signal) => {
        if (reported) return done(reported);
        if (spawnError === 'ENOENT') return done({ code: 127, signal: null });
        done({ code, signal });
      });
    });
    child.once('spawn', () => {
      started = true;
      const handle = {
        pid: child.pid,
        kill(signal: NodeJS.Signals): boolean {
          if (child.exitCode !== null || child.signalCode !== null) return false;
          return ctl.write(`${signal}\n`), true;
        },
      };
      req.forwarder?.attach(handle);
      resolveStart({ pid: child.pid!, child, exited });
    });
  });
}

/** Creates ~/.claude for Claude Code when missing, so it can be bound writable (it keeps its state there). */
export function ensureClaudeDir(home: string): void {
  try {
    mkdirSync(join(home, '.claude'), { recursive: true, mode: 0o700 });
  } catch {
    /* read-only HOME: Claude Code copes, or says so */
  }
}
