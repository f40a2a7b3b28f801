// Plays the Secrets Store CSI driver and kubelet for the csi-provider tests: a gRPC client built
// from src/csi/v1alpha1.proto (with @grpc/proto-loader, independent of the provider's runtime
// descriptor), service-account tokens in the shape kubelet issues, the attributes the driver
// sends, and a volume writer with the driver's `..data` symlink layout.
import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../../src/sandbox/server.js';
import type { SandboxRuleConfig } from '../../src/sandbox/config.js';

export const PROTO = fileURLToPath(new URL('../../src/csi/v1alpha1.proto', import.meta.url));
export const K8S_RULE = 'fdrl_k8sapps';
export const K8S_NAMESPACE = 'apps';
export const AUDIENCE = 'https://api.anthropic.com';

export interface WireFile {
  path: string;
  mode: number;
  contents: Buffer;
}
export interface WireMountResponse {
  object_version: Array<{ id: string; version: string }>;
  error: { code: string } | null;
  files: WireFile[];
}
export interface DriverClient {
  version(): Promise<{ version: string; runtime_name: string; runtime_version: string }>;
  mount(req: { attributes: string; secrets?: string; target_path?: string; permission?: string; current_object_version?: Array<{ id: string; version: string }> }): Promise<WireMountResponse>;
  close(): void;
}

/** A client for the provider's socket, the way the driver dials it (unix:…, insecure). */
export async function driverClient(socket: string): Promise<DriverClient> {
  const grpc = await import('@grpc/grpc-js');
  const loader = await import('@grpc/proto-loader');
  const def = loader.loadSync(PROTO, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { v1alpha1: { CSIDriverProvider: new (addr: string, creds: unknown) => Record<string, (...a: unknown[]) => void> & { close(): void } } };
  const client = new pkg.v1alpha1.CSIDriverProvider(`unix:${socket}`, grpc.credentials.createInsecure());
  const call = <T>(method: string, req: unknown): Promise<T> =>
    new Promise((resolve, reject) => {
      client[method]!(req, { deadline: Date.now() + 60_000 }, (err: Error | null, res: T) => (err ? reject(err) : resolve(res)));
    });
  return {
    version: () => call('Version', { version: 'v1alpha1' }),
    mount: (req) => call('Mount', { secrets: '{}', target_path: '/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/anthropic/mount', permission: '420', current_object_version: [], ...req }),
    close: () => client.close(),
  };
}

/** The sandbox rule trusting service accounts of one namespace (a cluster's issuer = the sandbox issuer). */
export function k8sRule(extra: Partial<SandboxRuleConfig> = {}): SandboxRuleConfig {
  return {
    id: K8S_RULE,
    issuer_id: 'fdis_sandbox',
    service_account_id: 'svac_sandbox',
    match: { subject_prefix: `system:serviceaccount:${K8S_NAMESPACE}:*`, audience: AUDIENCE },
    ...extra,
  };
}

export interface Pod {
  name: string;
  namespace: string;
  uid: string;
  serviceAccount: string;
}

export function pod(name: string, namespace = K8S_NAMESPACE, serviceAccount = 'model-client'): Pod {
  return { name, namespace, uid: randomUUID(), serviceAccount };
}

/** A pod-bound service-account token as kubelet's TokenRequest issues it. */
export function kubeletToken(sandbox: Sandbox, p: Pod, opts: { audience?: string; lifetimeSeconds?: number; iat?: number; jti?: false } = {}): Promise<string> {
  return sandbox.mint({
    sub: `system:serviceaccount:${p.namespace}:${p.serviceAccount}`,
    aud: [opts.audience ?? AUDIENCE],
    lifetimeSeconds: opts.lifetimeSeconds ?? 3600,
    ...(opts.iat !== undefined ? { iat: opts.iat } : {}),
    // Kubernetes 1.29+ puts a jti in service-account tokens; older clusters do not.
    ...(opts.jti === false ? { jti: false as const } : {}),
    claims: {
      'kubernetes.io': {
        namespace: p.namespace,
        node: { name: 'node-1', uid: '5b7f8d7c-0000-4000-8000-00000000000a' },
        pod: { name: p.name, uid: p.uid },
        serviceaccount: { name: p.serviceAccount, uid: '6c1e2f3a-0000-4000-8000-00000000000b' },
      },
    },
  });
}

/** The attributes JSON the driver sends: SecretProviderClass parameters + pod info + tokens. */
export function attributes(p: Pod, params: Record<string, string>, tokens?: Record<string, string> | null, expiry = '2030-01-01T00:00:00Z'): string {
  const out: Record<string, string> = {
    ...params,
    'csi.storage.k8s.io/pod.name': p.name,
    'csi.storage.k8s.io/pod.namespace': p.namespace,
    'csi.storage.k8s.io/pod.uid': p.uid,
    'csi.storage.k8s.io/serviceAccount.name': p.serviceAccount,
    'csi.storage.k8s.io/ephemeral': 'true',
    secretProviderClass: 'anthropic',
    providerName: 'claude-wif',
  };
  if (tokens) {
    out['csi.storage.k8s.io/serviceAccount.tokens'] = JSON.stringify(Object.fromEntries(Object.entries(tokens).map(([aud, token]) => [aud, { token, expirationTimestamp: expiry }])));
  }
  return JSON.stringify(out);
}

/** SecretProviderClass parameters for the sandbox's Kubernetes rule. */
export function spcParams(sandbox: Sandbox, extra: Record<string, string> = {}): Record<string, string> {
  return { organizationId: sandbox.config.organization_id, federationRuleId: K8S_RULE, serviceAccountId: 'svac_sandbox', workspaceId: 'default', baseUrl: sandbox.url, ...extra };
}

/**
 * Writes a Mount's files the way the driver's atomic writer does: a timestamped directory with
 * the payload, `..data` → that directory, and one symlink per top-level name into `..data`.
 * A later write swaps `..data` atomically and removes the old directory.
 */
export function writeVolume(target: string, files: WireFile[]): void {
  mkdirSync(target, { recursive: true });
  const ts = join(target, `..${Date.now()}_${Math.random().toString(36).slice(2)}`);
  for (const f of files) {
    const p = join(ts, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.contents);
    chmodSync(p, f.mode);
  }
  const old = readdirSync(target).filter((n) => n.startsWith('..') && n !== '..data' && join(target, n) !== ts);
  const tmpLink = join(target, '..data_tmp');
  rmSync(tmpLink, { force: true });
  symlinkSync(ts.slice(target.length + 1), tmpLink);
  renameSync(tmpLink, join(target, '..data'));
  for (const top of new Set(files.map((f) => f.path.split('/')[0]!))) {
    const link = join(target, top);
    try {
      symlinkSync(join('..data', top), link);
    } catch {
      /* already linked */
    }
  }
  for (const o of old) rmSync(join(target, o), { recursive: true, force: true });
}
