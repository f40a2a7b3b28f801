// The local WIF sandbox: an emulator of Anthropic's federation server side (issuer, token
// endpoint, minimal API) used as the product demo and as the test peer for the whole suite.
export { startSandbox, loadSandboxConfig } from './server.js';
export type { Sandbox, SandboxOptions, InjectedFault } from './server.js';
export type { SandboxConfig, SandboxIssuerConfig, SandboxRuleConfig, SandboxRuleMatch, SandboxServiceAccountConfig } from './config.js';
export { defaultSandboxConfig, validateSandboxConfig } from './config.js';
export type { MintOptions, SigningAlg } from './issuer.js';
export type { ExchangeRecord, DenialReason } from './token-endpoint.js';
export type { ApiCallRecord } from './api.js';
