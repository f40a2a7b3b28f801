/**
 * What an access token may look like before claude-wif prints it, writes it to a file, or puts it
 * in an HTTP header: RFC 6750 §2.1's b64token (letters, digits, `-._~+/`, trailing `=`), bounded.
 * A token from a hostile or broken endpoint with CR/LF in it printed two lines from `token` and
 * killed a running proxy on its first request (ERR_INVALID_CHAR from node:http); anything outside
 * this grammar is refused where it enters (the exchange, a cache file) instead.
 */
export const MAX_TOKEN_LENGTH = 4096;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function isTokenText(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_TOKEN_LENGTH && B64TOKEN.test(value);
}
