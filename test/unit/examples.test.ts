import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { buildProgram } from '../../src/cli/main.js';
import { resolvePlan } from '../../src/core/resolve.js';
import { parseListen } from '../../src/run/listen.js';
import { ROOT } from '../helpers/cli.js';
import { tempHome } from '../helpers/env.js';
import { recordingProcess } from '../../src/cli/io.js';

// The examples are documentation people paste: they must parse, name the same paths and ports
// in every place, use only flags claude-wif has, and carry profiles claude-wif accepts.

const EX = join(ROOT, 'examples');
const read = (p: string) => readFileSync(join(EX, p), 'utf8');
const home = tempHome();
afterAll(() => home.cleanup());

type Obj = Record<string, any>;

/** Long option names a command accepts (its own and the global ones). */
function knownFlags(command: string): Set<string> {
  const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT, clock: { now: Date.now, sleep: async () => {} }, stdoutIsTTY: false, stderrIsTTY: false, stdinIsTTY: false, proc: recordingProcess() }, () => {});
  const cmd = program.commands.find((c) => c.name() === command)!;
  const flags = new Set<string>();
  for (const o of [...program.options, ...cmd.options]) {
    if (o.long) flags.add(o.long);
    if (o.short) flags.add(o.short);
  }
  return flags;
}

/** The value following `flag` in an argv list. */
const argOf = (args: string[], flag: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};

function expectKnownFlags(args: string[], command: string): void {
  const at = args.indexOf(command);
  expect(at, `${command} in ${args.join(' ')}`).toBeGreaterThanOrEqual(0);
  const flags = knownFlags(command);
  for (const a of args) if (a.startsWith('-')) expect(flags.has(a.split('=')[0]!), `${a} is a ${command} option`).toBe(true);
}

/** A profile text must be accepted by claude-wif's resolver (ids, identity source, paths). */
function checkProfile(text: string, name: string) {
  const dir = join(home.home, `cfg-${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(join(dir, 'configs'), { recursive: true });
  writeFileSync(join(dir, 'configs', `${name}.json`), text);
  return resolvePlan({ env: {}, cwd: home.home, profile: name, configDir: dir });
}

function k8s(file: string) {
  const docs = parseAllDocuments(read(file));
  for (const d of docs) expect(d.errors, file).toEqual([]);
  return docs.map((d) => d.toJS() as Obj);
}

interface Pod {
  spec: Obj;
  agent: Obj;
  app: Obj;
  volume(name: string): Obj;
  /** The volume mounted at `path` (or a parent of it) in container c, and the mount. */
  mountOf(c: Obj, path: string): { volume: Obj; mount: Obj } | undefined;
}

function pod(deployment: Obj): Pod {
  const spec = deployment['spec']['template']['spec'] as Obj;
  const agent = (spec['initContainers'] as Obj[]).find((c) => c['name'] === 'claude-wif-agent')!;
  const app = (spec['containers'] as Obj[]).find((c) => c['name'] === 'app')!;
  const volume = (name: string) => (spec['volumes'] as Obj[]).find((v) => v['name'] === name)!;
  return {
    spec,
    agent,
    app,
    volume,
    mountOf(c, path) {
      const m = ((c['volumeMounts'] ?? []) as Obj[]).find((m) => path === m['mountPath'] || path.startsWith(`${m['mountPath']}/`));
      return m ? { volume: volume(m['name']), mount: m } : undefined;
    },
  };
}

const envOf = (c: Obj, name: string): string | undefined => ((c['env'] ?? []) as Obj[]).find((e) => e['name'] === name)?.['value'];

/** What every agent pod shares: projected token → profile path, profile dir, writable state, probes. */
function checkAgentPod(p: Pod, configMap: Obj) {
  const args = p.agent['args'] as string[];
  expectKnownFlags(args, 'agent');
  expect(p.agent['restartPolicy']).toBe('Always'); // a native sidecar: starts first, outlives the app
  // Same user for both containers: the token files are 0600.
  expect(p.spec['securityContext']['runAsUser']).toBeTypeOf('number');

  // The profile comes from the ConfigMap, mounted at $ANTHROPIC_CONFIG_DIR/configs.
  const profileName = argOf(args, '--profile')!;
  const configDir = envOf(p.agent, 'ANTHROPIC_CONFIG_DIR')!;
  const cfgMount = p.mountOf(p.agent, posix.join(configDir, 'configs', `${profileName}.json`))!;
  expect(cfgMount.mount['mountPath']).toBe(posix.join(configDir, 'configs'));
  expect(cfgMount.volume['configMap']['name']).toBe(configMap['metadata']['name']);
  const profileText = configMap['data'][`${profileName}.json`] as string;
  const plan = checkProfile(profileText, profileName);

  // The identity file is the projected service-account token, audience https://api.anthropic.com.
  const idPath = plan.identity!.options['path'] as string;
  const idMount = p.mountOf(p.agent, idPath)!;
  const source = (idMount.volume['projected']['sources'] as Obj[]).find((s) => s['serviceAccountToken'])!['serviceAccountToken'];
  expect(source['audience']).toBe('https://api.anthropic.com');
  expect(posix.join(idMount.mount['mountPath'], source['path'])).toBe(idPath);

  // Everything the agent writes is on a memory-backed emptyDir (the root filesystem is read-only).
  expect(p.agent['securityContext']['readOnlyRootFilesystem']).toBe(true);
  for (const path of [plan.cache.path, envOf(p.agent, 'CLAUDE_WIF_CACHE_DIR')!, argOf(args, '--dir')!]) {
    const m = p.mountOf(p.agent, path);
    expect(m, path).toBeDefined();
    expect(m!.volume['emptyDir']['medium'], path).toBe('Memory');
    expect(m!.mount['readOnly'], path).not.toBe(true);
  }

  // Health: --health names the container port the probes use.
  const health = parseListen(argOf(args, '--health')!, { flag: '--health', defaultHost: '0.0.0.0', loopbackOnly: false });
  expect(health).toMatchObject({ kind: 'tcp', host: '0.0.0.0' });
  const port = (p.agent['ports'] as Obj[]).find((x) => x['name'] === 'health')!;
  expect(port['containerPort']).toBe(health.kind === 'tcp' ? health.port : -1);
  expect(p.agent['startupProbe']['httpGet']).toEqual({ path: '/readyz', port: 'health' });
  expect(p.agent['readinessProbe']['httpGet']).toEqual({ path: '/readyz', port: 'health' });
  expect(p.agent['livenessProbe']['httpGet']).toEqual({ path: '/livez', port: 'health' });
  return { args, profileName };
}

describe('examples/kubernetes', () => {
  const docs = k8s('kubernetes/agent-sidecar.yaml');
  const configMap = docs.find((d) => d['kind'] === 'ConfigMap')!;

  it('agent-sidecar.yaml: projected token → profile → agent → shared emptyDir → the app\'s ANTHROPIC_CONFIG_DIR', () => {
    expect(docs.map((d) => d['kind'])).toEqual(['ServiceAccount', 'ConfigMap', 'Deployment']);
    const deployment = docs.find((d) => d['kind'] === 'Deployment')!;
    const p = pod(deployment);
    expect(p.spec['serviceAccountName']).toBe(docs[0]!['metadata']['name']);
    const { args } = checkAgentPod(p, configMap);
    // The app reads the agent's --dir through the same volume, read-only, and needs nothing else.
    const dir = argOf(args, '--dir')!;
    const shared = p.mountOf(p.agent, dir)!;
    const appMount = ((p.app['volumeMounts'] as Obj[]) ?? []).find((m) => m['name'] === shared.volume['name'])!;
    expect(appMount['readOnly']).toBe(true);
    expect(envOf(p.app, 'ANTHROPIC_CONFIG_DIR')).toBe(posix.join(appMount['mountPath'], posix.relative(shared.mount['mountPath'], dir)));
    expect(((p.app['env'] as Obj[]) ?? []).map((e) => e['name'])).toEqual(['ANTHROPIC_CONFIG_DIR']);
  });

  it('proxy-sidecar.yaml: the app gets the proxy URL and the secret file, never the token directory', () => {
    const proxyDocs = k8s('kubernetes/proxy-sidecar.yaml');
    expect(proxyDocs.map((d) => d['kind'])).toEqual(['Deployment']);
    const p = pod(proxyDocs[0]!);
    expect(p.spec['serviceAccountName']).toBe(docs[0]!['metadata']['name']);
    const { args } = checkAgentPod(p, configMap);
    const listen = parseListen(argOf(args, '--proxy')!, { flag: '--proxy', defaultHost: '127.0.0.1', loopbackOnly: true });
    expect(envOf(p.app, 'ANTHROPIC_BASE_URL')).toBe(listen.kind === 'tcp' ? `http://${listen.host}:${listen.port}` : 'unix');
    const secretFile = argOf(args, '--proxy-secret-file')!;
    const inAgent = p.mountOf(p.agent, secretFile)!;
    const inApp = p.mountOf(p.app, secretFile)!;
    expect(inApp.volume['name']).toBe(inAgent.volume['name']);
    expect(inApp.mount['readOnly']).toBe(true);
    expect((p.app['command'] as string[]).join(' ')).toContain(`ANTHROPIC_AUTH_TOKEN="$(cat ${secretFile})"`);
    // The token directory (and the agent's cache) is on a volume the app does not mount.
    expect(p.mountOf(p.app, argOf(args, '--dir')!)).toBeUndefined();
    expect(envOf(p.app, 'ANTHROPIC_CONFIG_DIR')).toBeUndefined();
  });
});

describe('examples/systemd', () => {
  const unit = read('systemd/claude-wif-agent.service');
  const kv = (key: string): string[] => unit.split('\n').filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
  it('the agent writes to the RuntimeDirectory, reads the profile dir, caches under the StateDirectory, exits cleanly on SIGTERM', () => {
    const exec = kv('ExecStart')[0]!.split(/\s+/);
    expect(exec[0]).toMatch(/\/claude-wif$/);
    const args = exec.slice(1);
    expectKnownFlags(args, 'agent');
    expect(argOf(args, '--dir')).toBe(`/run/${kv('RuntimeDirectory')[0]}`);
    expect(kv('RuntimeDirectoryMode')).toEqual(['0700']);
    const env = Object.fromEntries(kv('Environment').map((e) => e.split('=', 2) as [string, string]));
    expect(env['ANTHROPIC_CONFIG_DIR']).toBe(kv('ReadOnlyPaths')[0]);
    expect(env['CLAUDE_WIF_CACHE_DIR']!.startsWith(`/var/lib/${kv('StateDirectory')[0]}/`)).toBe(true);
    expect(kv('KillSignal')).toEqual(['SIGTERM']);
    const health = argOf(args, '--health')!;
    expect(unit).toContain(`curl -fsS http://${health}/readyz`);
    const plan = checkProfile(read('systemd/prod.json'), argOf(args, '--profile')!);
    expect(plan.identity!.source.value).toBe('gcp');
    // The token cache must be writable under ProtectSystem=strict: in the StateDirectory, not the read-only profile dir.
    expect(plan.cache.path.startsWith(`/var/lib/${kv('StateDirectory')[0]}/`)).toBe(true);
    expect(plan.cache.path.startsWith(`${kv('ReadOnlyPaths')[0]}/`)).toBe(false);
  });
});

describe('examples/github-actions and examples/gitlab', () => {
  it('GitHub: id-token: write, the claude-wif action with the repository variables, then claude-wif exec -- claude -p', () => {
    const wf = parse(read('github-actions/claude.yml')) as Obj;
    expect(wf['permissions']['id-token']).toBe('write');
    const job = Object.values(wf['jobs'] as Obj)[0] as Obj;
    const steps = job['steps'] as Obj[];
    const at = steps.findIndex((s) => /\/claude-wif@/.test(s['uses'] ?? ''));
    expect(at).toBeGreaterThan(0);
    const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as Obj;
    for (const input of Object.keys(steps[at]!['with'] as Obj)) expect(Object.keys(action['inputs'])).toContain(input);
    expect(steps[at]!['with']['organization-id']).toBe('${{ vars.ANTHROPIC_ORGANIZATION_ID }}');
    expect(steps[at]!['with']['federation-rule-id']).toBe('${{ vars.ANTHROPIC_FEDERATION_RULE_ID }}');
    const run = steps.slice(at + 1).map((s) => s['run'] ?? '').join('\n');
    expect(run).toMatch(/claude-wif exec -- claude -p "/);
  });

  it('GitLab: id_tokens with the Anthropic audience, valid ids, claude-wif exec -- claude -p in the script', () => {
    const ci = parse(read('gitlab/.gitlab-ci.yml')) as Obj;
    const job = ci['claude-summary'] as Obj;
    expect(job['id_tokens']['ANTHROPIC_ID_TOKEN']['aud']).toBe('https://api.anthropic.com');
    expect((job['script'] as string[]).join('\n')).toMatch(/claude-wif exec -- claude -p "/);
    const plan = resolvePlan({ env: { ...job['variables'], ANTHROPIC_IDENTITY_TOKEN: 'x' }, cwd: home.home, configDir: join(home.home, 'none') });
    expect(plan.selection.via).toBe('federation env vars');
  });

  it('container: the build context is only the tarball the Dockerfile copies', () => {
    const ignore = read('container/Dockerfile.dockerignore').split('\n').filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('*');
    const copied = /^COPY (\S+) /m.exec(read('container/Dockerfile'))![1]!;
    const kept = ignore.slice(1).map((l) => new RegExp(`^${l.slice(1).replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`));
    expect(ignore.slice(1).every((l) => l.startsWith('!'))).toBe(true);
    expect(kept.some((re) => re.test(copied))).toBe(true);
    for (const f of ['node_modules', '.git', 'package.json', '.env']) expect(kept.some((re) => re.test(f))).toBe(false);
  });

  it('every example file is listed in examples/README.md', () => {
    const readme = read('README.md');
    for (const f of ['kubernetes/agent-sidecar.yaml', 'kubernetes/proxy-sidecar.yaml', 'github-actions/claude.yml', 'gitlab/.gitlab-ci.yml', 'systemd/claude-wif-agent.service', 'systemd/prod.json', 'container/Dockerfile', 'container/Dockerfile.dockerignore']) {
      expect(readme).toContain(`\`${f}\``);
    }
  });
});
