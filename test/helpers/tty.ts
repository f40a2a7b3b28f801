import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';

/** Why a tool-dependent test cannot run here, or undefined when it can. */
export function missingTool(tool: string, why: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return r.status === 0 ? undefined : `${tool} is not installed (${why})`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A program on a real pseudo-terminal: tmux on a private socket (never the user's server), with
 * an exact environment. Type with send(), read the screen with screen(), wait for text with
 * waitFor(). Used for interactive configure and for shell completion in zsh.
 */
export class Tmux {
  private readonly socket: string;
  constructor(dir: string, private readonly name = 'test') {
    this.socket = join(dir, 'tmux.sock');
  }

  private tmux(args: string[]): string {
    return execFileSync('tmux', ['-S', this.socket, ...args], { encoding: 'utf8' });
  }

  start(argv: string[], env: Record<string, string>, cwd: string): void {
    const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    // `env -i`: the pane gets exactly this environment, not the tmux server's.
    // Keep the pane after the program exits, so its last screen and status can be read. Set in the
    // same command list as new-session: a program that exits at once must not take the session with it.
    // The exit status is printed by a wrapping sh: tmux's own pane_dead_status is not reliable
    // when the tmux server was started from a test worker.
    const wrapped = ['sh', '-c', '"$@"; printf "\\n[exit %s]\\n" "$?"', 'sh', ...argv];
    this.tmux(['new-session', '-d', '-s', this.name, '-x', '200', '-y', '50', '-c', cwd, 'env', '-i', ...envArgs, ...wrapped, ';', 'set-option', '-t', this.name, 'remain-on-exit', 'on']);
  }

  /** Literal text, then optional keys ("Enter", "Tab", "C-c"). */
  send(text: string, ...keys: string[]): void {
    if (text) this.tmux(['send-keys', '-t', this.name, '-l', text]);
    if (keys.length) this.tmux(['send-keys', '-t', this.name, ...keys]);
  }

  screen(): string {
    return this.tmux(['capture-pane', '-p', '-J', '-S', '-200', '-t', this.name]);
  }

  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < end) {
      last = this.screen();
      if (pattern.test(last)) return last;
      await sleep(50);
    }
    throw new Error(`timed out waiting for ${pattern} on the terminal; screen:\n${last}`);
  }

  /** The program's exit status once it has ended. */
  async exitStatus(timeoutMs = 10_000): Promise<number> {
    const screen = await this.waitFor(/^\[exit (\d+)\]$/m, timeoutMs);
    return Number(/^\[exit (\d+)\]$/m.exec(screen)![1]);
  }

  kill(): void {
    try {
      this.tmux(['kill-server']);
    } catch {
      /* already gone */
    }
  }
}
