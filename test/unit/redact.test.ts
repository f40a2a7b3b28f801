import { describe, expect, it } from 'vitest';
import { addSecret, redact, redactDeep } from '../../src/util/redact.js';
import { WifError } from '../../src/util/errors.js';
import { fakeAnthropicToken } from '../helpers/fixtures.js';

const JWT = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJlLXZhbHVl';
const TOKEN = fakeAnthropicToken('oat01', 'AbCdEfGhIjKlMnOpQrStUvWxYz');

describe('redact', () => {
  it.each([
    ['a bare JWT', `token ${JWT} here`],
    ['a JSON-escaped assertion', JSON.stringify({ assertion: JWT })],
    ['a double-escaped body', JSON.stringify(JSON.stringify({ assertion: JWT }))],
    ['an access token', `got ${TOKEN}`],
    ['a bearer header', `Authorization: Bearer ${TOKEN}`],
    ['a url-encoded form', `client_assertion=${JWT}&x=1`],
  ])('removes %s', (_n, text) => {
    const out = redact(text);
    expect(out).not.toContain(JWT);
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain('c2lnbmF0dXJlLXZhbHVl');
    expect(out).not.toContain(TOKEN.slice(-12));
  });

  it('redacts registered exact secrets and JSON values deeply', () => {
    addSecret('session-secret-123456');
    expect(redact('x session-secret-123456 y')).toBe('x [redacted] y');
    expect(redactDeep({ a: [TOKEN], b: { c: JWT } })).toEqual({ a: ['sk-ant-oat01-…[redacted]'], b: { c: 'eyJ…[redacted-jwt]' } });
  });

  it('is applied by every WifError', () => {
    const e = new WifError('exchange_denied', `denied ${JWT}`, { hint: `use ${TOKEN}` });
    expect(e.message).not.toContain(JWT);
    expect(e.hint).not.toContain(TOKEN);
  });

  it('leaves ordinary text alone', () => {
    expect(redact('profile default at /home/u/.config/anthropic (exit 4)')).toBe('profile default at /home/u/.config/anthropic (exit 4)');
  });
});

describe('redact field values', () => {
  it('redacts secret fields in JSON (also escaped) and forms, not prose', () => {
    expect(redact('{"client_secret":"hunter2"}')).toBe('{"client_secret":"[redacted]"}');
    expect(redact(JSON.stringify(JSON.stringify({ password: 'hunter2' })))).not.toContain('hunter2');
    expect(redact('grant_type=x&client_secret=hunter2&y=1')).toBe('grant_type=x&client_secret=[redacted]&y=1');
    expect(redact('the token endpoint refused the assertion: 401 authentication_error')).toBe('the token endpoint refused the assertion: 401 authentication_error');
  });
});
