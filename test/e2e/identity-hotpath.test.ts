// The hot path (a fresh cached token) must not carry any identity source: dist/claude-wif.cjs is
// the entry every `claude-wif token` parses, so a source module bundled into it costs every call.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';

const ENTRY = join(ROOT, 'dist', 'claude-wif.cjs');
const FULL = join(ROOT, 'dist', 'cli.mjs');

// One distinctive string per source module (and the proxy, gRPC and AWS code they pull in).
const SOURCE_STRINGS: Record<string, string> = {
  'github-actions': 'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  gitlab: 'CI_JOB_JWT_V2',
  kubernetes: '/var/run/secrets/kubernetes.io/serviceaccount/token',
  gcp: 'computeMetadata/v1',
  'azure-imds': '/metadata/identity/oauth2/token',
  'azure-app-service': 'x-identity-header',
  'azure-workload-identity': 'AZURE_FEDERATED_TOKEN_FILE',
  aws: 'GetWebIdentityToken',
  spiffe: '/SpiffeWorkloadAPI/FetchJWTSVID',
  okta: 'not a custom authorization server',
  circleci: 'CIRCLE_OIDC_TOKEN_V2',
  buildkite: 'buildkite-agent',
  'terraform-cloud': 'TFC_WORKLOAD_IDENTITY_TOKEN',
  command: 'no shell is used',
  file: 'while being read',
  detection: 'documented detection order',
  'cloud-metadata': 'found by the metadata probe',
  proxy: 'refused to open a tunnel',
  'AWS SDK': 'AWS4-HMAC-SHA256',
  gRPC: 'application/grpc',
};

describe('hot-path entry', () => {
  it.skipIf(!existsSync(ENTRY))('contains no identity source, detection, proxy, gRPC or AWS code', () => {
    const hot = readFileSync(ENTRY, 'utf8');
    const full = readFileSync(FULL, 'utf8');
    for (const [what, s] of Object.entries(SOURCE_STRINGS)) {
      expect(hot.includes(s), `${what} (${s}) is in the hot-path entry`).toBe(false);
    }
    // …and the strings are real: the full CLI bundle has the sources (the AWS SDK stays in node_modules).
    for (const [what, s] of Object.entries(SOURCE_STRINGS)) {
      if (what === 'AWS SDK') continue;
      expect(full.includes(s), `${what} (${s}) missing from the full CLI`).toBe(true);
    }
  });
});
