/**
 * Constants of the Anthropic Workload Identity Federation protocol (spec: anthropic-wif.md), each
 * with the reason it has this value. The client, doctor and the sandbox server all read them here.
 */

/** The audience to request identity tokens for, everywhere except Entra (spec §6). */
export const DEFAULT_AUDIENCE = 'https://api.anthropic.com';
