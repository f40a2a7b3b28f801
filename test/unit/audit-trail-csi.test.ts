import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProvider } from '../../src/csi/provider.js';
import { startSandbox, type Sandbox } from '../../src/sandbox/server.js';
import { defaultSandboxConfig } from '../../src/sandbox/config.js';
import { createLogger } from '../../src/util/log.js';
import { assertNoSecrets } from '../helpers/cli.js';
import { attributes, AUDIENCE, k8sRule, kubeletToken, pod, spcParams } from '../helpers/csi.js';
import { tempHome, type TempHome } from '../helpers/env.js';

// The CSI provider's exchanges reach the audit trail with the pod they were for.
describe('audit trail: csi-provider', () => {
  let sandbox: Sandbox;
  let h: TempHome;
  beforeAll(async () => {
    sandbox = await startSandbox({ config: { rules: [...defaultSandboxConfig().rules, k8sRule()] } });
    h = tempHome();
  });
  afterAll(async () => {
    await sandbox.close();
    h.cleanup();
  });

  it('writes one event per Mount exchange (success and denial), naming the pod, never the service-account token', async () => {
    const log = join(h.home, 'csi-audit.jsonl');
    const provider = createProvider({ clock: { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }, log: createLogger({ write: () => true }, 'quiet'), env: { CLAUDE_WIF_AUDIT_LOG: log }, userAgent: 'claude-wif-test' });
    const p = pod('model-client-1');
    const sa = await kubeletToken(sandbox, p);
    const ok = await provider.mount({ attributes: attributes(p, spcParams(sandbox), { [AUDIENCE]: sa }), secrets: '{}', target_path: '/x', permission: '420', current_object_version: [] } as never);
    expect(ok.error ?? null).toBeNull();
    const q = pod('model-client-2');
    const sa2 = await kubeletToken(sandbox, q);
    const denied = await provider.mount({ attributes: attributes(q, spcParams(sandbox, { federationRuleId: 'fdrl_nosuchrule' }), { [AUDIENCE]: sa2 }), secrets: '{}', target_path: '/x', permission: '420', current_object_version: [] } as never);
    expect(denied.error).not.toBeNull();
    const ev = readFileSync(log, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(ev).toHaveLength(2);
    expect(ev[0]).toMatchObject({ component: 'csi-provider', outcome: 'success', federation_rule_id: 'fdrl_k8sapps', request_id: sandbox.exchanges[0]!.request_id, context: { pod_name: 'model-client-1', pod_namespace: p.namespace, pod_uid: p.uid } });
    expect(ev[0].sub).toMatch(/^system:serviceaccount:/);
    expect(ev[1]).toMatchObject({ component: 'csi-provider', outcome: 'failure', error_code: 'exchange_denied', http_status: 401, context: { pod_name: 'model-client-2' } });
    const token = (sandbox.exchanges[0]!.response as { access_token: string }).access_token;
    assertNoSecrets(readFileSync(log, 'utf8'), [sa, sa2, token]);
  });
});
