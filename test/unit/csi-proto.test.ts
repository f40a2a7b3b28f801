// The provider's run-time schema (src/csi/descriptor.ts) is the proto the tests' driver client is
// built from (src/csi/v1alpha1.proto): same messages, fields, numbers, types and methods. And the
// gRPC stack stays out of every bundle but its own chunk.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { fromJSON, loadSync } from '@grpc/proto-loader';
import { CSI_PROVIDER_DESCRIPTOR } from '../../src/csi/descriptor.js';
import { PROTO } from '../helpers/csi.js';

const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

describe('csi provider schema', () => {
  it('descriptor.ts and v1alpha1.proto define the same service and messages', () => {
    const fromProto = loadSync(PROTO, OPTIONS);
    const fromDescriptor = fromJSON(CSI_PROVIDER_DESCRIPTOR as unknown as Record<string, unknown>, OPTIONS);
    const names = ['VersionRequest', 'VersionResponse', 'MountRequest', 'MountResponse', 'File', 'ObjectVersion', 'Error'].map((n) => `v1alpha1.${n}`);
    expect(Object.keys(fromDescriptor).sort()).toEqual(Object.keys(fromProto).sort());
    for (const n of names) {
      const a = (fromProto[n] as { type: { field: unknown[] } }).type;
      const b = (fromDescriptor[n] as { type: { field: unknown[] } }).type;
      expect(b.field, n).toEqual(a.field);
    }
    const svc = (d: typeof fromProto) => Object.entries(d['v1alpha1.CSIDriverProvider'] as Record<string, { path: string; requestStream: boolean; responseStream: boolean; requestType: { type: { name: string } }; responseType: { type: { name: string } } }>)
      .map(([k, m]) => [k, m.path, m.requestStream, m.responseStream, m.requestType.type.name, m.responseType.type.name]);
    expect(svc(fromDescriptor)).toEqual(svc(fromProto));
    expect(svc(fromProto)).toEqual([
      ['Version', '/v1alpha1.CSIDriverProvider/Version', false, false, 'VersionRequest', 'VersionResponse'],
      ['Mount', '/v1alpha1.CSIDriverProvider/Mount', false, false, 'MountRequest', 'MountResponse'],
    ]);
  });

  it('field numbers and types are those of the driver\'s provider/v1alpha1/service.proto', () => {
    const d = loadSync(PROTO, OPTIONS);
    const fields = (n: string) => (d[`v1alpha1.${n}`] as { type: { field: Array<{ name: string; number: number; type: string; label: string }> } }).type.field.map((f) => `${f.label === 'LABEL_REPEATED' ? 'repeated ' : ''}${f.type.replace('TYPE_', '').toLowerCase()} ${f.name}=${f.number}`);
    expect(fields('MountRequest')).toEqual(['string attributes=1', 'string secrets=2', 'string target_path=3', 'string permission=4', 'repeated message current_object_version=5']);
    expect(fields('MountResponse')).toEqual(['repeated message object_version=1', 'message error=2', 'repeated message files=3']);
    expect(fields('File')).toEqual(['string path=1', 'int32 mode=2', 'bytes contents=3']);
    expect(fields('ObjectVersion')).toEqual(['string id=1', 'string version=2']);
    expect(fields('Error')).toEqual(['string code=1']);
    expect(fields('VersionResponse')).toEqual(['string version=1', 'string runtime_name=2', 'string runtime_version=3']);
  });

  it('grpc-js is bundled into dist/csi-grpc.mjs only: the hot path and the full CLI never contain it', () => {
    const dist = (f: string) => readFileSync(fileURLToPath(new URL(`../../dist/${f}`, import.meta.url)), 'utf8');
    // A class name and an error string from inside grpc-js.
    const markers = ['Http2ServerCallStream', 'No address added out of total'];
    const grpc = dist('csi-grpc.mjs');
    expect(markers.some((m) => grpc.includes(m))).toBe(true);
    for (const f of ['claude-wif.cjs', 'cli.mjs']) {
      const text = dist(f);
      for (const m of markers) expect(text.includes(m), `${f} contains ${m}`).toBe(false);
    }
    expect(dist('cli.mjs')).toContain('./csi-grpc.mjs');
    expect(dist('claude-wif.cjs')).not.toContain('csi-grpc');
  });
});
