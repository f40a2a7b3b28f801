import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { commandArgv } from '../../src/cli/commands/exec.js';
import { parseMode } from '../../src/run/exec/modes.js';
import { chooseTarget } from '../../src/run/exec/session.js';
import {
  buildChildEnv,
  childEnvPlan,
  EXEC_MARKER_VAR,
  exitStatus,
  forwardSignals,
  parseProcStat,
  terminalAlreadyDelivered,
  type DeliveryProbe,
  type SignalSource,
} from '../../src/run/exec/child.js';
import { WifError } from '../../src/util/errors.js';
import { runCli } from '../helpers/cli.js';
import { cleanEnv, tempHome } from '../helpers/env.js';

describe('childEnvPlan / buildChildEnv', () => {
  const parent = {
    PATH: '/usr/bin',
    HOME: '/home/u',
    ANTHROPIC_API_KEY: 'sk-ant-api03-x',
    ANTHROPIC_AUTH_TOKEN: '',
    CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-y',
    CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR: '3',
    CLAUDE_CODE_SOMETHING_NEW_FILE_DESCRIPTOR: '5',
    OTHER_FILE_DESCRIPTOR: '6',
    ANTHROPIC_FEDERATION_RULE_ID: 'fdrl_x',
    ANTHROPIC_IDENTITY_TOKEN: 'eyJ.x.y',
    ANTHROPIC_PROFILE: 'prod',
    ANTHROPIC_CONFIG_DIR: '/etc/anthropic',
    ANTHROPIC_BASE_URL: 'https://elsewhere.example',
    ANTHROPIC_CUSTOM_HEADERS: 'x-a: b',
    CLAUDE_WIF_TOKEN_EXPIRES_AT: '1',
    UNRELATED: 'kept',
  };

  it('deletes (never blanks) every competing credential and federation/profile input; sets marker and scrub', () => {
    const plan = childEnvPlan(parent, {
      mode: [
        { name: 'ANTHROPIC_CONFIG_DIR', value: '/tmp/private' },
        { name: 'ANTHROPIC_PROFILE', value: 'prod' },
      ],
      baseUrl: 'https://api.anthropic.com',
      marker: 'prod',
      scrub: true,
    });
    const env = buildChildEnv(parent, plan);
    expect(env).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/u',
      OTHER_FILE_DESCRIPTOR: '6',
      ANTHROPIC_CUSTOM_HEADERS: 'x-a: b',
      UNRELATED: 'kept',
      ANTHROPIC_CONFIG_DIR: '/tmp/private',
      ANTHROPIC_PROFILE: 'prod',
      [EXEC_MARKER_VAR]: 'prod',
      CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: '1',
    });
    // An empty ANTHROPIC_AUTH_TOKEN is removed too: empty still takes a precedence slot somewhere.
    expect('ANTHROPIC_AUTH_TOKEN' in env).toBe(false);
    expect(plan.unset).toContain('CLAUDE_CODE_SOMETHING_NEW_FILE_DESCRIPTOR');
    expect(plan.unset).not.toContain('ANTHROPIC_CONFIG_DIR');
  });

  it('sets ANTHROPIC_BASE_URL only when the base URL is not the default; --no-scrub leaves the scrub variable alone', () => {
    const plan = childEnvPlan({ ...parent, CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: '0' }, { mode: [], baseUrl: 'http://127.0.0.1:4000', marker: 'env', scrub: false });
    const env = buildChildEnv({ ...parent, CLAUDE_CODE_SUBPROCESS_ENV_SCRUB: '0' }, plan);
    expect(env['ANTHROPIC_BASE_URL']).toBe('http://127.0.0.1:4000');
    expect(env['CLAUDE_CODE_SUBPROCESS_ENV_SCRUB']).toBe('0');
    expect(plan.unset).not.toContain('CLAUDE_CODE_SUBPROCESS_ENV_SCRUB');
  });

  it('a mode may set what is otherwise removed, or remove more (null)', () => {
    const plan = childEnvPlan(parent, {
      mode: [
        { name: 'ANTHROPIC_AUTH_TOKEN', value: 'sk-ant-oat01-new' },
        { name: 'ANTHROPIC_CUSTOM_HEADERS', value: null },
      ],
      baseUrl: 'https://api.anthropic.com',
      marker: 'p',
      scrub: true,
    });
    const env = buildChildEnv(parent, plan);
    expect(env['ANTHROPIC_AUTH_TOKEN']).toBe('sk-ant-oat01-new');
    expect('ANTHROPIC_CUSTOM_HEADERS' in env).toBe(false);
  });
});

describe('exitStatus', () => {
  it('is the code, or 128+N for a signal', () => {
    expect(exitStatus({ code: 0, signal: null })).toBe(0);
    expect(exitStatus({ code: 255, signal: null })).toBe(255);
    expect(exitStatus({ code: null, signal: 'SIGTERM' })).toBe(143);
    expect(exitStatus({ code: null, signal: 'SIGINT' })).toBe(130);
    expect(exitStatus({ code: null, signal: 'SIGKILL' })).toBe(137);
  });
});

describe('terminal double delivery', () => {
  const stat = (pid: number, pgrp: number, tpgid: number, comm = 'node') => `${pid} (${comm}) S 1 ${pgrp} ${pgrp} 34816 ${tpgid} 4194560 100 0 0 0`;

  it('parses /proc/<pid>/stat, including a command name with spaces and parentheses', () => {
    expect(parseProcStat(stat(10, 20, 30, 'a) b (c'))).toEqual({ pgrp: 20, tpgid: 30 });
    expect(parseProcStat('garbage')).toBeUndefined();
  });

  const probe = (self: string | undefined, child: string | undefined, over: Partial<DeliveryProbe> = {}): DeliveryProbe => ({
    platform: 'linux',
    readStat: (pid) => (pid === 'self' ? self : child),
    stdinIsTTY: false,
    ...over,
  });

  it('skips INT/QUIT/WINCH only when we are the terminal foreground group and the child is in it', () => {
    const fg = probe(stat(100, 100, 100), stat(101, 100, 100));
    expect(terminalAlreadyDelivered('SIGINT', 101, fg)).toBe(true);
    expect(terminalAlreadyDelivered('SIGQUIT', 101, fg)).toBe(true);
    expect(terminalAlreadyDelivered('SIGWINCH', 101, fg)).toBe(true);
    // Never for signals a terminal does not send.
    expect(terminalAlreadyDelivered('SIGTERM', 101, fg)).toBe(false);
    expect(terminalAlreadyDelivered('SIGHUP', 101, fg)).toBe(false);
  });

  it('forwards when there is no controlling terminal, when backgrounded, or when the child left our group', () => {
    expect(terminalAlreadyDelivered('SIGINT', 101, probe(stat(100, 100, -1), stat(101, 100, -1)))).toBe(false);
    expect(terminalAlreadyDelivered('SIGINT', 101, probe(stat(100, 100, 555), stat(101, 100, 555)))).toBe(false);
    // An interactive shell as the child takes its own group and the terminal's foreground.
    expect(terminalAlreadyDelivered('SIGINT', 101, probe(stat(100, 100, 100), stat(101, 101, 100)))).toBe(false);
  });

  it('without /proc, falls back to "stdin is a TTY"', () => {
    expect(terminalAlreadyDelivered('SIGINT', 101, probe(undefined, undefined, { platform: 'darwin', stdinIsTTY: true }))).toBe(true);
    expect(terminalAlreadyDelivered('SIGINT', 101, probe(undefined, undefined, { platform: 'darwin', stdinIsTTY: false }))).toBe(false);
  });

  it('forwardSignals: forwards to the attached child, delivers a signal that came before it, and uninstalls', () => {
    const source = new EventEmitter() as EventEmitter & SignalSource;
    const sent: string[] = [];
    const f = forwardSignals({ source, probe: probe(stat(100, 100, -1), undefined) });
    expect(source.listenerCount('SIGTERM')).toBe(1);
    source.emit('SIGWINCH', 'SIGWINCH');
    source.emit('SIGTERM', 'SIGTERM');
    expect(f.pending).toBe('SIGTERM');
    f.attach({ pid: 101, kill: (s) => (sent.push(s), true) });
    source.emit('SIGUSR1', 'SIGUSR1');
    source.emit('SIGINT', 'SIGINT');
    // The early SIGTERM (the child was being started) is delivered on attach, not lost.
    expect(sent).toEqual(['SIGTERM', 'SIGUSR1', 'SIGINT']);
    expect(f.received.map((r) => `${r.signal}:${r.forwarded}`)).toEqual(['SIGWINCH:false', 'SIGTERM:false', 'SIGUSR1:true', 'SIGINT:true']);
    f.dispose();
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH']) expect(source.listenerCount(s)).toBe(0);
  });

  it('forwardSignals: does not forward ^C the terminal already delivered', () => {
    const source = new EventEmitter() as EventEmitter & SignalSource;
    const sent: string[] = [];
    const f = forwardSignals({ source, probe: probe(stat(100, 100, 100), stat(101, 100, 100)) });
    f.attach({ pid: 101, kill: (s) => (sent.push(s), true) });
    source.emit('SIGINT', 'SIGINT');
    source.emit('SIGTERM', 'SIGTERM');
    expect(sent).toEqual(['SIGTERM']);
    f.dispose();
  });
});

describe('exec options', () => {
  it('parseMode: sidecar by default, token, proxy, federation; others are usage errors', () => {
    expect(parseMode(undefined)).toBe('sidecar');
    for (const m of ['sidecar', 'token', 'proxy', 'federation']) expect(parseMode(m)).toBe(m);
    const err = (() => {
      try {
        parseMode('nope');
      } catch (e) {
        return e as WifError;
      }
    })();
    expect(err).toBeInstanceOf(WifError);
    expect(err!.exitCode).toBe(2);
  });

  it('chooseTarget: claude-code when the command is `claude`, explicit --target wins', () => {
    expect(chooseTarget(undefined, 'claude')).toBe('claude-code');
    expect(chooseTarget(undefined, '/usr/local/bin/claude')).toBe('claude-code');
    expect(chooseTarget(undefined, 'node')).toBe('sdk');
    expect(chooseTarget(undefined, 'claude-wrapper')).toBe('sdk');
    expect(chooseTarget('sdk', 'claude')).toBe('sdk');
  });

  it('commandArgv: everything after the first `--`, untouched; a command without `--` is refused', () => {
    // What run() hands the command: its operands, and the command line after the first `--`.
    const cmd = (raw: string[], args: string[]) => ({ args, passthrough: raw.includes('--') ? raw.slice(raw.indexOf('--') + 1) : undefined });
    expect(commandArgv(cmd(['exec', '--', 'a', '--', '', '-p'], ['a', '--', '', '-p']))).toEqual(['a', '--', '', '-p']);
    expect(commandArgv(cmd(['exec'], []))).toEqual([]);
    expect(commandArgv(cmd(['exec', '--'], []))).toEqual([]);
    expect(() => commandArgv(cmd(['exec', 'claude', '-p', 'x'], ['claude']))).toThrow(/put `--` between/);
    // A command both before and after `--` would be joined by commander: refused.
    expect(() => commandArgv(cmd(['exec', 'a', '--', 'b'], ['a', 'b']))).toThrow(/put `--` between/);
  });
});

describe('exec through the CLI (in-process, before anything is spawned)', () => {
  it('refuses nesting before resolving any configuration', async () => {
    const h = tempHome();
    try {
      const r = await runCli(['exec', '--', 'true'], cleanEnv(h.home, { [EXEC_MARKER_VAR]: 'outer' }));
      expect(r.code).toBe(2);
      expect(r.stderr).toContain('exec_nested');
    } finally {
      h.cleanup();
    }
  });

  it('usage errors: unknown option, unknown mode, missing `--`', async () => {
    const h = tempHome();
    try {
      const env = cleanEnv(h.home);
      expect((await runCli(['exec', '--bogus', '--', 'true'], env)).code).toBe(2);
      expect((await runCli(['exec', '--mode', 'bogus', '--', 'true'], env)).stderr).toContain('is not one of sidecar, token, proxy, federation');
      expect((await runCli(['exec', 'true'], env)).code).toBe(2);
      expect((await runCli(['exec', '--min-ttl', 'soon', '--', 'true'], env)).code).toBe(2);
      // Each value is checked once, by the option's parser, before the command runs: same message as before.
      const target = await runCli(['exec', '--target', 'curl', '--', 'true'], env);
      expect(target.code).toBe(2);
      expect(target.stderr).toContain('--target "curl" is not one of sdk, claude-code');
      expect((await runCli(['exec', '--min-ttl', '86401', '--', 'true'], env)).stderr).toContain('--min-ttl "86401" is not a number of seconds between 0 and 86400');
      expect((await runCli(['token', '--format', 'xml'], env)).stderr).toContain('--format "xml" is not one of raw, json');
      expect((await runCli(['env', '--format', 'csh'], env)).stderr).toContain('--format "csh" is not one of sh, fish, powershell, cmd, dotenv, json, github');
    } finally {
      h.cleanup();
    }
  });
});
