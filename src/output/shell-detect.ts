import { readFileSync } from 'node:fs';

/**
 * The default `env --format`, for `eval "$(claude-wif env)"` typed in any shell.
 *
 * ssh-agent picks its syntax from $SHELL. That answers "what is the user's login shell", not "who
 * will read this output": a bash script run by a fish user has SHELL=/usr/bin/fish and would get
 * fish syntax. The process that started claude-wif tells more: a command substitution is run by
 * the shell that evaluates it (fish runs `claude-wif` as its own child; bash and zsh from a
 * subshell that is still bash or zsh). So: the parent process's name decides — fish → fish,
 * pwsh/powershell → powershell, anything else → sh. Where the parent cannot be read from /proc
 * (macOS, BSD), `ps` is asked, but only when $SHELL names fish or pwsh: everyone else keeps sh
 * syntax without paying for a process spawn on the hot path.
 */

export type DetectedFormat = 'sh' | 'fish' | 'powershell';

export interface ParentProbe {
  platform: NodeJS.Platform;
  ppid: number;
  /** /proc/<pid>/comm, or undefined when there is no /proc. */
  readComm(pid: number): string | undefined;
  /** `ps -o comm= -p <pid>`, or undefined. */
  psComm(pid: number): string | undefined;
}

const readProcComm = (pid: number): string | undefined => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return undefined;
  }
};

const psComm = (pid: number): string | undefined => {
  try {
    // Loaded only here (macOS/BSD fish and pwsh users): the hot bundle imports no child_process.
    const { execFileSync } = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
    return execFileSync('ps', ['-o', 'comm=', '-p', String(pid)], { encoding: 'utf8', timeout: 2000, stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined;
  } catch {
    return undefined;
  }
};

export const processParentProbe = (): ParentProbe => ({ platform: process.platform, ppid: process.ppid, readComm: readProcComm, psComm });

/** A process or shell name (a path, a login shell's leading '-', `fish.exe`) as a format. */
export function formatForShellName(name: string | undefined): DetectedFormat | undefined {
  if (!name) return undefined;
  const base = name.split(/[\\/]/).pop()!.replace(/^-/, '').replace(/\.exe$/i, '').toLowerCase();
  if (base === 'fish') return 'fish';
  if (base === 'pwsh' || base === 'powershell') return 'powershell';
  if (['sh', 'bash', 'zsh', 'dash', 'ksh', 'mksh', 'ash', 'busybox', 'yash', 'posh'].includes(base)) return 'sh';
  return undefined;
}

export function detectEnvFormat(env: NodeJS.ProcessEnv | Record<string, string | undefined>, probe: ParentProbe = processParentProbe()): DetectedFormat {
  const fromProc = probe.platform === 'win32' ? undefined : probe.readComm(probe.ppid);
  if (fromProc !== undefined) return formatForShellName(fromProc) ?? 'sh';
  const login = formatForShellName(env['SHELL']);
  if (login === 'fish' || login === 'powershell') return formatForShellName(probe.psComm(probe.ppid)) ?? 'sh';
  return 'sh';
}
