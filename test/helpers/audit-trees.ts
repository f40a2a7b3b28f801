import { chmodSync, cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fakeAnthropicToken } from './fixtures.js';
import { ROOT } from './cli.js';

/**
 * Realistic planted trees for `claude-wif audit`: a repository and a home directory holding every
 * kind of access path the audit recognises. Every credential is made at run time. `expected`
 * lists what must be found: rule, path (relative to the audit's working directory, or absolute
 * for home files), line, and for key values the variable.
 */
export interface Expected {
  rule: string;
  path: string;
  line?: number;
  variable?: string;
  context?: string;
  subject?: string;
}

export interface Planted {
  secrets: string[];
  expected: Expected[];
}

function put(root: string, rel: string, text: string, mode?: number): void {
  const file = join(root, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text, mode === undefined ? undefined : { mode });
  if (mode !== undefined) chmodSync(file, mode);
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A service repository at <cwd>/<name>: keys and references in every place they are found in practice. */
export function plantRepository(cwd: string, name = 'shop'): Planted {
  const r = join(cwd, name);
  const p = (rel: string) => `${name}/${rel}`;
  const k = {
    dotenv: fakeAnthropicToken('api03', 'dotenv'),
    admin: fakeAnthropicToken('admin01', 'ops'),
    dockerEnv: fakeAnthropicToken('api03', 'image'),
    composeOauth: fakeAnthropicToken('oat01', 'compose'),
    secretData: fakeAnthropicToken('api03', 'secret-data'),
    secretString: fakeAnthropicToken('admin01', 'secret-string'),
    helm: fakeAnthropicToken('api03', 'helm'),
    settings: fakeAnthropicToken('api03', 'settings'),
    script: fakeAnthropicToken('api03', 'script'),
    refresh: fakeAnthropicToken('ort01', 'toml'),
    pasted: fakeAnthropicToken('oat01', 'pasted'),
    skippedGit: fakeAnthropicToken('api03', 'git-object'),
    skippedModules: fakeAnthropicToken('api03', 'node-module'),
    skippedBinary: fakeAnthropicToken('api03', 'binary'),
    skippedLarge: fakeAnthropicToken('api03', 'large'),
  };
  put(r, '.git/config', '[core]\n\tbare = false\n[remote "origin"]\n\turl = git@github.com:acme/shop.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n');
  put(r, '.git/objects/ab/cdef', `ANTHROPIC_API_KEY=${k.skippedGit}\n`);
  put(r, 'node_modules/anthropic-helper/index.js', `module.exports = { key: "${k.skippedModules}" };\n`);
  put(r, 'assets/logo.png', Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0]), Buffer.from(k.skippedBinary)]).toString('latin1'));
  put(r, 'logs/huge.log', `${'x'.repeat(1100 * 1024)}\nANTHROPIC_API_KEY=${k.skippedLarge}\n`);
  put(r, 'README.md', '# shop\n\nSet `ANTHROPIC_API_KEY=sk-ant-api03-xxxxxxxxxxxxxxxx` in your .env (placeholder).\n');
  put(r, 'src/app.ts', 'export const port = 8080;\n');

  put(r, '.env', `# local settings\nANTHROPIC_API_KEY=${k.dotenv}\nPORT=8080\n`);
  put(r, '.env.production', `NODE_ENV=production\nANTHROPIC_ADMIN_KEY="${k.admin}"\n`);
  put(r, 'scripts/deploy.sh', '#!/bin/sh\nset -eu\nexport ANTHROPIC_API_KEY="$(vault kv get -field=key secret/anthropic)"\n./run.sh\n');
  put(r, 'Dockerfile', `FROM node:20-slim\nARG ANTHROPIC_API_KEY\nWORKDIR /app\nENV ANTHROPIC_API_KEY=${k.dockerEnv}\nCMD ["node", "server.js"]\n`);
  put(r, 'docker-compose.yml', `services:\n  api:\n    image: shop\n    environment:\n      - ANTHROPIC_API_KEY=\${ANTHROPIC_API_KEY}\n      - PORT=8080\n  worker:\n    image: shop\n    environment:\n      CLAUDE_CODE_OAUTH_TOKEN: ${k.composeOauth}\n`);
  put(
    r,
    'deploy/k8s/secret.yaml',
    `apiVersion: v1\nkind: Secret\nmetadata:\n  name: anthropic\n  namespace: shop\ntype: Opaque\ndata:\n  api-key: ${b64(k.secretData)}\nstringData:\n  admin-key: "${k.secretString}"\n`,
  );
  put(
    r,
    'deploy/k8s/deployment.yaml',
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: checkout',
      '  namespace: shop',
      'spec:',
      '  template:',
      '    spec:',
      '      serviceAccountName: checkout',
      '      containers:',
      '        - name: app',
      '          image: shop:1.0',
      '          env:',
      '            - name: ANTHROPIC_API_KEY',
      '              valueFrom:',
      '                secretKeyRef:',
      '                  name: anthropic',
      '                  key: api-key',
      '          envFrom:',
      '            - secretRef:',
      '                name: anthropic-credentials',
      '',
    ].join('\n'),
  );
  put(r, 'charts/shop/Chart.yaml', 'apiVersion: v2\nname: shop\nversion: 1.0.0\n');
  put(r, 'charts/shop/values.yaml', `replicaCount: 2\nanthropic:\n  apiKey: ${k.helm}\n`);
  put(r, '.claude/settings.json', JSON.stringify({ env: { ANTHROPIC_API_KEY: k.settings }, apiKeyHelper: '~/bin/print-anthropic-key.sh' }, null, 2) + '\n');
  put(r, '.claude/settings.local.json', JSON.stringify({ env: { ANTHROPIC_AUTH_TOKEN: '${GATEWAY_TOKEN}' } }, null, 2) + '\n');
  put(
    r,
    '.github/workflows/review.yml',
    [
      'name: review',
      'on: [pull_request]',
      'jobs:',
      '  review:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - uses: anthropics/claude-code-action@v1',
      '        with:',
      '          anthropic_api_key: ${{ secrets.ANTHROPIC_API_KEY }}',
      '',
    ].join('\n'),
  );
  put(
    r,
    '.github/workflows/nightly.yml',
    ['name: nightly', 'on:', '  schedule: [{ cron: "0 3 * * *" }]', 'jobs:', '  run:', '    runs-on: ubuntu-latest', '    env:', '      ANTHROPIC_API_KEY: ${{ secrets.CLAUDE_KEY }}', '    steps:', '      - run: python nightly.py', ''].join('\n'),
  );
  put(r, '.gitlab-ci.yml', ['summarise:', '  image: python:3.12', '  script:', '    - pip install anthropic', '    - curl -H "x-api-key: $ANTHROPIC_API_KEY" https://api.anthropic.com/v1/models', ''].join('\n'));
  put(r, '.circleci/config.yml', ['version: 2.1', 'jobs:', '  build:', '    docker: [{ image: cimg/python:3.12 }]', '    steps:', '      - run: python agent.py --key "${ANTHROPIC_API_KEY}"', ''].join('\n'));
  put(r, 'deploy/claude.service', '[Unit]\nDescription=agent\n[Service]\nEnvironment=ANTHROPIC_API_KEY=%d/anthropic\nExecStart=/usr/bin/agent\n');
  put(r, 'src/client.py', `import anthropic\n\nclient = anthropic.Anthropic(\n    api_key="${k.script}",\n)\n`);
  put(r, 'config/app.toml', `[anthropic]\nrefresh_token = "${k.refresh}"\n`);
  put(r, 'notes/debug.txt', `token that worked yesterday: ${k.pasted}\n`);

  // The good state: a federated profile, a workflow and a manifest (and the repo's own examples).
  put(r, 'deploy/anthropic/prod.json', JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_01shop', identity_token: { source: 'file', path: '/var/run/secrets/anthropic.com/token' } }, claude_wif: { identity: { source: 'kubernetes' } } }, null, 2) + '\n');
  put(r, '.github/workflows/federated.yml', ['name: federated', 'on: [push]', 'permissions: { id-token: write, contents: read }', 'jobs:', '  run:', '    runs-on: ubuntu-latest', '    steps:', '      - run: npx claude-wif exec -- claude -p "hello"', ''].join('\n'));
  cpSync(join(ROOT, 'examples'), join(r, 'examples'), { recursive: true });

  const e: Expected[] = [
    { rule: 'static-api-key', path: p('.env'), line: 2, variable: 'ANTHROPIC_API_KEY', context: 'dotenv' },
    { rule: 'static-admin-key', path: p('.env.production'), line: 2, variable: 'ANTHROPIC_ADMIN_KEY', context: 'dotenv' },
    { rule: 'api-key-variable', path: p('scripts/deploy.sh'), line: 3, variable: 'ANTHROPIC_API_KEY', context: 'shell' },
    { rule: 'api-key-variable', path: p('Dockerfile'), line: 2, variable: 'ANTHROPIC_API_KEY', context: 'dockerfile-arg' },
    { rule: 'static-api-key', path: p('Dockerfile'), line: 4, variable: 'ANTHROPIC_API_KEY', context: 'dockerfile-env' },
    { rule: 'api-key-variable', path: p('docker-compose.yml'), line: 5, variable: 'ANTHROPIC_API_KEY', context: 'compose-environment' },
    { rule: 'static-oauth-token', path: p('docker-compose.yml'), line: 10, variable: 'CLAUDE_CODE_OAUTH_TOKEN', context: 'compose-environment' },
    { rule: 'static-api-key', path: p('deploy/k8s/secret.yaml'), line: 8, variable: 'api-key', context: 'kubernetes-secret-data' },
    { rule: 'static-admin-key', path: p('deploy/k8s/secret.yaml'), line: 10, variable: 'admin-key', context: 'kubernetes-secret-stringData' },
    { rule: 'kubernetes-secret-key-ref', path: p('deploy/k8s/deployment.yaml'), line: 16, variable: 'ANTHROPIC_API_KEY', subject: 'system:serviceaccount:shop:checkout' },
    { rule: 'kubernetes-secret-key-ref', path: p('deploy/k8s/deployment.yaml'), line: 20, context: 'kubernetes-secret-env-from' },
    { rule: 'static-api-key', path: p('charts/shop/values.yaml'), line: 3, variable: 'apiKey', context: 'helm-values' },
    { rule: 'static-api-key', path: p('.claude/settings.json'), line: 3, variable: 'ANTHROPIC_API_KEY', context: 'claude-settings' },
    { rule: 'claude-settings-api-key-helper', path: p('.claude/settings.json'), line: 5 },
    { rule: 'claude-settings-env-credential', path: p('.claude/settings.local.json'), line: 3, variable: 'ANTHROPIC_AUTH_TOKEN' },
    { rule: 'workflow-secret-reference', path: p('.github/workflows/review.yml'), line: 9, variable: 'anthropic_api_key', subject: 'repo:acme/shop:ref:refs/heads/<branch>' },
    { rule: 'workflow-secret-reference', path: p('.github/workflows/nightly.yml'), line: 8, variable: 'ANTHROPIC_API_KEY' },
    { rule: 'ci-variable-reference', path: p('.gitlab-ci.yml'), line: 5, variable: 'ANTHROPIC_API_KEY' },
    { rule: 'ci-variable-reference', path: p('.circleci/config.yml'), line: 6, variable: 'ANTHROPIC_API_KEY' },
    { rule: 'api-key-variable', path: p('deploy/claude.service'), line: 4, variable: 'ANTHROPIC_API_KEY', context: 'systemd-environment' },
    { rule: 'static-api-key', path: p('src/client.py'), line: 4, variable: 'api_key', context: 'script' },
    { rule: 'static-refresh-token', path: p('config/app.toml'), line: 2, variable: 'refresh_token' },
    { rule: 'static-oauth-token', path: p('notes/debug.txt'), line: 1 },
    { rule: 'federated-profile', path: p('deploy/anthropic/prod.json') },
    { rule: 'federated-ci', path: p('.github/workflows/federated.yml'), line: 8 },
    { rule: 'federated-ci', path: p('examples/github-actions/claude.yml') },
    { rule: 'federated-ci', path: p('examples/gitlab/.gitlab-ci.yml') },
    { rule: 'federated-manifest', path: p('examples/kubernetes/proxy-sidecar.yaml') },
    { rule: 'federated-manifest', path: p('examples/systemd/claude-wif-agent.service') },
    { rule: 'federated-profile', path: p('examples/systemd/prod.json') },
  ];
  return { secrets: Object.values(k), expected: e };
}

/** A developer's home: shell start-up files, the SDK config dir, Claude Code's user settings and login. */
export function plantHome(home: string, configDir: string): Planted {
  const k = {
    bashrc: fakeAnthropicToken('api03', 'bashrc'),
    fish: fakeAnthropicToken('oat01', 'fish'),
    cache: fakeAnthropicToken('oat01', 'cache'),
    leaky: fakeAnthropicToken('oat01', 'leaky'),
    userSettings: fakeAnthropicToken('api03', 'user-settings'),
    login: fakeAnthropicToken('oat01', 'login'),
    loginRefresh: fakeAnthropicToken('ort01', 'login'),
  };
  put(home, '.bashrc', `# ~/.bashrc\nalias ll='ls -l'\nexport ANTHROPIC_API_KEY=${k.bashrc}\n`);
  put(home, '.zshrc', 'export ANTHROPIC_FEDERATION_RULE_ID=fdrl_01dev\nexport ANTHROPIC_ORGANIZATION_ID=00000000-0000-4000-8000-000000000001\n');
  put(home, '.config/fish/config.fish', `set -gx CLAUDE_CODE_OAUTH_TOKEN ${k.fish}\n`);
  mkdirSync(join(configDir, 'credentials'), { recursive: true, mode: 0o700 });
  chmodSync(join(configDir, 'credentials'), 0o700);
  put(configDir, 'configs/prod.json', JSON.stringify({ version: '1.0', organization_id: '00000000-0000-4000-8000-000000000001', authentication: { type: 'oidc_federation', federation_rule_id: 'fdrl_01prod', identity_token: { source: 'file', path: '/tmp/none' } }, claude_wif: { identity: { source: 'github-actions' } } }, null, 2) + '\n');
  put(configDir, 'credentials/prod.json', JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: k.cache, expires_at: 2_000_000_000 }) + '\n', 0o600);
  put(configDir, 'credentials/leaky.json', JSON.stringify({ version: '1.0', type: 'oauth_token', access_token: k.leaky, expires_at: 2_000_000_000 }) + '\n', 0o644);
  put(home, '.claude/settings.json', JSON.stringify({ env: { ANTHROPIC_API_KEY: k.userSettings } }, null, 2) + '\n');
  put(home, '.claude/.credentials.json', JSON.stringify({ claudeAiOauth: { accessToken: k.login, refreshToken: k.loginRefresh, expiresAt: 2_000_000_000_000 } }) + '\n', 0o600);
  const e: Expected[] = [
    { rule: 'static-api-key', path: join(home, '.bashrc'), line: 3, variable: 'ANTHROPIC_API_KEY', context: 'shell' },
    { rule: 'federated-environment', path: join(home, '.zshrc'), line: 1 },
    { rule: 'static-oauth-token', path: join(home, '.config/fish/config.fish'), line: 1, variable: 'CLAUDE_CODE_OAUTH_TOKEN' },
    { rule: 'federated-profile', path: join(configDir, 'configs/prod.json') },
    { rule: 'federated-token-cache', path: join(configDir, 'credentials/prod.json'), line: 1 },
    { rule: 'federated-token-cache', path: join(configDir, 'credentials/leaky.json'), line: 1 },
    { rule: 'credentials-file-permissions', path: join(configDir, 'credentials/leaky.json') },
    { rule: 'static-api-key', path: join(home, '.claude/settings.json'), line: 3, variable: 'ANTHROPIC_API_KEY', context: 'claude-settings' },
    { rule: 'user-login-cache', path: join(home, '.claude/.credentials.json'), line: 1 },
  ];
  return { secrets: Object.values(k), expected: e };
}
