// deploy/: the Helm chart, its checked-in rendering (deploy/manifests, no Helm here) and the
// driver settings, validated against the Kubernetes schemas (kubernetes-models) and against what
// the provider actually accepts.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { CSIDriver } from 'kubernetes-models/storage.k8s.io/v1';
import { DaemonSet } from 'kubernetes-models/apps/v1';
import { Pod, ServiceAccount } from 'kubernetes-models/v1';
import { buildProgram } from '../../src/cli/main.js';
import { CSI_ERROR_CODES } from '../../src/csi/errors.js';
import { DEFAULT_CSI_AUDIENCE, DRIVER_KEYS, parseMountParams } from '../../src/csi/params.js';
import { PROVIDER_NAME } from '../../src/csi/provider.js';
import { DEFAULT_PROVIDERS_DIR, DEFAULT_SOCKET } from '../../src/csi/server.js';
import { ROOT } from '../helpers/cli.js';
// @ts-expect-error: a plain ES module script without type declarations
import { OUTPUTS, renderChart } from '../../scripts/render-chart.mjs';

type Doc = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec?: Record<string, unknown>; [k: string]: unknown };
const docs = (text: string): Doc[] => YAML.parseAllDocuments(text).map((d) => d.toJSON() as Doc).filter(Boolean);
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ServiceAccount': ServiceAccount as never,
  'v1/Pod': Pod as never,
  'apps/v1/DaemonSet': DaemonSet as never,
  'storage.k8s.io/v1/CSIDriver': CSIDriver as never,
};

/** The SecretProviderClass CRD (secrets-store.csi.x-k8s.io/v1): spec.provider a string, spec.parameters a map of strings. */
function validateSecretProviderClass(d: Doc): void {
  const spec = d.spec as { provider?: unknown; parameters?: Record<string, unknown> } | undefined;
  if (!d.metadata?.name) throw new Error('metadata.name is required');
  if (!spec || typeof spec.provider !== 'string' || !spec.provider) throw new Error('spec.provider must be a string');
  for (const [k, v] of Object.entries(spec.parameters ?? {})) if (typeof v !== 'string') throw new Error(`spec.parameters.${k} must be a string`);
  const known = new Set(['provider', 'parameters', 'secretObjects']);
  for (const k of Object.keys(spec)) if (!known.has(k)) throw new Error(`spec.${k} is not a SecretProviderClass field`);
}

function validate(d: Doc): void {
  if (d.apiVersion === 'secrets-store.csi.x-k8s.io/v1' && d.kind === 'SecretProviderClass') return validateSecretProviderClass(d);
  const Model = MODELS[`${d.apiVersion}/${d.kind}`];
  if (!Model) throw new Error(`no schema for ${d.apiVersion} ${d.kind}`);
  new Model(d as never).validate();
}

const manifestFiles = readdirSync(join(ROOT, 'deploy/manifests')).filter((f) => f.endsWith('.yaml'));
const all = (): Array<{ file: string; doc: Doc }> => [
  ...manifestFiles.flatMap((f) => docs(read(`deploy/manifests/${f}`)).map((doc) => ({ file: `deploy/manifests/${f}`, doc }))),
  ...docs(renderChart({ examples: { enabled: true } })).map((doc) => ({ file: 'chart (examples.enabled=true)', doc })),
];
const find = (kind: string, name?: string): Doc => {
  const d = all().find((x) => x.doc.kind === kind && (name === undefined || x.doc.metadata.name === name));
  if (!d) throw new Error(`no ${kind}`);
  return d.doc;
};

describe('deploy/', () => {
  it('deploy/manifests is the chart rendered (node scripts/render-chart.mjs)', () => {
    for (const [path, render] of Object.entries(OUTPUTS as Record<string, () => string>)) {
      expect(read(path), `${path} is stale: run node scripts/render-chart.mjs`).toBe(render().replace(/\n*$/, '\n'));
    }
  });

  it('every manifest validates against the Kubernetes schemas', () => {
    const seen = all();
    expect(seen.length).toBeGreaterThanOrEqual(8);
    for (const { file, doc } of seen) expect(() => validate(doc), `${file}: ${doc.kind} ${doc.metadata?.name}`).not.toThrow();
    expect(new Set(seen.map((s) => s.doc.kind))).toEqual(new Set(['DaemonSet', 'ServiceAccount', 'CSIDriver', 'SecretProviderClass', 'Pod']));
    expect(docs(read('deploy/manifests/examples.yaml')).map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(['SecretProviderClass/anthropic', 'Pod/sdk-app-root', 'Pod/sdk-app-nonroot']);
    expect(docs(read('deploy/manifests/provider.yaml')).map((d) => d.kind).sort()).toEqual(['DaemonSet', 'ServiceAccount']);
  });

  it('the validation can fail: a broken DaemonSet and a non-string SecretProviderClass parameter are refused', () => {
    const ds = structuredClone(find('DaemonSet'));
    ((ds.spec as { template: { spec: { containers: Array<{ securityContext: Record<string, unknown> }> } } }).template.spec.containers[0]!.securityContext)['runAsUser'] = 'root';
    expect(() => validate(ds)).toThrow(/runAsUser must be integer/);
    const spc = structuredClone(find('SecretProviderClass'));
    (spc.spec as { parameters: Record<string, unknown> }).parameters['workspaceId'] = 5;
    expect(() => validate(spc)).toThrow(/must be a string/);
    expect(() => validate({ apiVersion: 'v1', kind: 'Nonsense', metadata: { name: 'x' } })).toThrow(/no schema/);
  });

  it('the DaemonSet serves the driver\'s providers directory with the default socket, limits, a locked-down context, no API token', () => {
    const ds = find('DaemonSet');
    const pod = (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec as {
      automountServiceAccountToken: boolean;
      containers: Array<{ args: string[]; resources: { requests: Record<string, string>; limits: Record<string, string> }; securityContext: Record<string, unknown>; volumeMounts: Array<{ name: string; mountPath: string }> }>;
      volumes: Array<{ name: string; hostPath?: { path: string } }>;
    };
    const c = pod.containers[0]!;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(c.args[0]).toBe('csi-provider');
    expect(c.args[c.args.indexOf('--socket') + 1]).toBe(DEFAULT_SOCKET);
    expect(pod.volumes.find((v) => v.hostPath)!.hostPath!.path).toBe(DEFAULT_PROVIDERS_DIR);
    expect(c.volumeMounts[0]!.mountPath).toBe(DEFAULT_PROVIDERS_DIR);
    expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
    expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
    expect(c.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    // Every flag in args is one the command has.
    const program = buildProgram({ stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: ROOT, clock: { now: () => 0, sleep: async () => {} }, stdoutIsTTY: false, stderrIsTTY: false, stdinIsTTY: false } as never, () => {});
    const cmd = program.commands.find((x) => x.name() === 'csi-provider')!;
    const flags = new Set(cmd.options.map((o) => o.long));
    for (const a of c.args.filter((x) => x.startsWith('--'))) expect(flags.has(a), a).toBe(true);
  });

  it('the driver settings hand the provider service-account tokens for Anthropic\'s audience and enable rotation', () => {
    const csi = find('CSIDriver');
    expect(csi.metadata.name).toBe('secrets-store.csi.k8s.io');
    expect(csi.spec).toMatchObject({ podInfoOnMount: true, requiresRepublish: true, tokenRequests: [{ audience: DEFAULT_CSI_AUDIENCE }] });
    const values = YAML.parse(read('deploy/driver-values.yaml')) as Record<string, unknown>;
    expect(values).toMatchObject({ tokenRequests: [{ audience: DEFAULT_CSI_AUDIENCE }], enableSecretRotation: true });
  });

  it('the example SecretProviderClass names this provider and its parameters are accepted by the provider', () => {
    const spc = find('SecretProviderClass');
    const spec = spc.spec as { provider: string; parameters: Record<string, string> };
    expect(spec.provider).toBe(PROVIDER_NAME);
    const token = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln';
    const p = parseMountParams({
      ...spec.parameters,
      [DRIVER_KEYS.podUid]: 'b1f0c0de-0000-4000-8000-000000000001',
      [DRIVER_KEYS.podNamespace]: spc.metadata.namespace!,
      [DRIVER_KEYS.serviceAccountTokens]: JSON.stringify({ [DEFAULT_CSI_AUDIENCE]: { token, expirationTimestamp: '2030-01-01T00:00:00Z' } }),
    });
    expect(p).toMatchObject({ federationRuleId: spec.parameters['federationRuleId'], audience: DEFAULT_CSI_AUDIENCE, serviceAccountToken: token });
  });

  it('the example pods mount that class and point ANTHROPIC_CONFIG_DIR at the mount; the non-root one runs its app under claude-wif exec', () => {
    const spc = find('SecretProviderClass');
    for (const name of ['sdk-app-root', 'sdk-app-nonroot']) {
      const pod = find('Pod', name) as unknown as { metadata: { namespace: string }; spec: { volumes: Array<{ name: string; csi?: { driver: string; volumeAttributes: Record<string, string> } }>; containers: Array<{ command: string[]; env: Array<{ name: string; value: string }>; volumeMounts: Array<{ name: string; mountPath: string }> }>; securityContext?: { runAsNonRoot?: boolean } } };
      expect(pod.metadata.namespace).toBe(spc.metadata.namespace);
      const vol = pod.spec.volumes.find((v) => v.csi)!;
      expect(vol.csi).toMatchObject({ driver: 'secrets-store.csi.k8s.io', volumeAttributes: { secretProviderClass: spc.metadata.name } });
      const c = pod.spec.containers[0]!;
      const mount = c.volumeMounts.find((m) => m.name === vol.name)!;
      expect(c.env.find((e) => e.name === 'ANTHROPIC_CONFIG_DIR')!.value).toBe(mount.mountPath);
      if (name === 'sdk-app-nonroot') {
        expect(pod.spec.securityContext?.runAsNonRoot).toBe(true);
        expect(c.command.slice(0, 3)).toEqual(['claude-wif', 'exec', '--']);
      }
    }
  });

  it('the README lists every Mount error code with its meaning', () => {
    const readme = read('README.md');
    const start = readme.indexOf('\n## At fleet scale');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    expect(section.length).toBeGreaterThan(0);
    for (const [code, meaning] of Object.entries(CSI_ERROR_CODES)) expect(section).toContain(`| \`${code}\` | ${meaning} |`);
  });
});
