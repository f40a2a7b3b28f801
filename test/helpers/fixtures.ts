import { randomBytes } from 'node:crypto';

/**
 * A token-shaped fake, made at run time so no credential-looking string is ever committed:
 * `sk-ant-<kind>-<label>-<random>`. Each call returns a new value.
 */
export function fakeAnthropicToken(kind: 'oat01' | 'api03' | 'admin01' | 'ort01', label: string): string {
  return `sk-ant-${kind}-${label}-${randomBytes(12).toString('base64url')}`;
}
