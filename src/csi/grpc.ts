/**
 * The gRPC stack of `claude-wif csi-provider`, and nothing else imports it. scripts/build.mjs
 * bundles this module on its own (dist/csi-grpc.mjs) and leaves it external to dist/cli.mjs, so
 * grpc-js and protobufjs are read from disk only when the provider starts — never by token, env,
 * exec or any other command.
 */
export { Server, ServerCredentials, loadPackageDefinition, status } from '@grpc/grpc-js';
export type { ServerUnaryCall, sendUnaryData, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
export { fromJSON } from '@grpc/proto-loader';
