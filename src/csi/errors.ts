import { ERROR_CODES, toWifError } from '../util/errors.js';
import { redact } from '../util/redact.js';

/**
 * A failed Mount: MountResponse.error.code carries `code` (the driver publishes it in its metrics
 * and events, so the codes are stable), and the provider's log gets the message and the fix.
 * Message and hint are redacted at construction: a service-account JWT or an access token can
 * never reach the log, the driver or the pod's events through an error.
 */
export const CSI_ERROR_CODES = {
  attributes_invalid: 'MountRequest.attributes is not a JSON object of strings',
  parameter_missing: 'a required SecretProviderClass parameter (or driver-added key) is absent; the message names it',
  parameter_invalid: 'a parameter is malformed; the message names it',
  service_account_token_missing: 'the driver sent no service-account token for the audience (CSIDriver tokenRequests)',
  identity_invalid: 'the service-account token is malformed, bound to another pod, or would be refused locally',
  identity_expired: 'the service-account token has expired',
  identity_replayed: 'the service-account token was already exchanged and the token it bought is used up; kubelet has not rotated it yet',
  exchange_denied: 'the token endpoint refused the service-account token (rule, audience, namespace, issuer, replay)',
  exchange_bad_request: 'the token endpoint rejected the request as malformed (400)',
  endpoint_unreachable: 'the token endpoint could not be reached',
  endpoint_timeout: 'the token endpoint did not answer in time',
  endpoint_failed: 'the token endpoint kept failing (5xx, 429) or answered unexpectedly',
  invalid_response: 'the token endpoint answered 2xx with an unusable body',
  insecure_endpoint: 'baseUrl is not https (http only for loopback)',
  internal_error: 'a bug in the provider',
} as const;

export type CsiErrorCode = keyof typeof CSI_ERROR_CODES;

export class CsiMountError extends Error {
  readonly code: CsiErrorCode;
  readonly hint: string | undefined;
  constructor(code: CsiErrorCode, message: string, hint?: string) {
    super(redact(message));
    this.name = 'CsiMountError';
    this.code = code;
    this.hint = hint === undefined ? undefined : redact(hint);
  }
}

/** Anything thrown during a Mount as a CsiMountError; core WifErrors keep their code when it is a Mount code. */
export function toMountError(err: unknown): CsiMountError {
  if (err instanceof CsiMountError) return err;
  const w = toWifError(err);
  const code: CsiErrorCode = w.code in CSI_ERROR_CODES ? (w.code as CsiErrorCode) : w.code in ERROR_CODES && w.exitCode === 2 ? 'parameter_invalid' : 'internal_error';
  return new CsiMountError(code, w.message, w.hint);
}
