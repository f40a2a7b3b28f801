import { isAbsolute } from 'node:path';
import { readEnv } from '../config/paths.js';
import { WifError } from '../util/errors.js';
import { decodeFields, encodeStrings, GrpcStatusError, GrpcTransportError, unaryCall, utf8, type GrpcTarget } from './grpc.js';
import { audienceOf, optionString } from './options.js';
import type { IdentitySource } from './source.js';

/** Service path of the Workload API (workload.proto declares no package). */
export const FETCH_JWT_SVID_PATH = '/SpiffeWorkloadAPI/FetchJWTSVID';
const AGENT_FIX = 'check that the SPIRE agent (or other Workload API provider) is running and that SPIFFE_ENDPOINT_SOCKET / "socket" names its socket';

/**
 * The Workload API address (SPIFFE Workload Endpoint spec): `unix:///path` or `unix:/path`, or
 * `tcp://IP:port`; an absolute path is accepted as shorthand for unix.
 */
export function parseWorkloadAddress(address: string): GrpcTarget {
  const a = address.trim();
  if (isAbsolute(a) && !a.includes(':')) return { socketPath: a };
  let url: URL;
  try {
    url = new URL(a);
  } catch {
    throw new WifError('config_invalid', `spiffe: workload API address ${JSON.stringify(a)} is not a URI (expected unix:///path/to/agent.sock or tcp://IP:port)`);
  }
  if (url.protocol === 'unix:') {
    if (url.host || !url.pathname.startsWith('/')) throw new WifError('config_invalid', `spiffe: ${JSON.stringify(a)} must be unix:///absolute/path or unix:/absolute/path`);
    return { socketPath: decodeURIComponent(url.pathname) };
  }
  if (url.protocol === 'tcp:') {
    if (!url.hostname || !url.port) throw new WifError('config_invalid', `spiffe: ${JSON.stringify(a)} must be tcp://IP:port`);
    return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) };
  }
  throw new WifError('config_invalid', `spiffe: workload API address scheme ${url.protocol} is not unix: or tcp:`);
}

export interface JwtSvid {
  spiffeId: string;
  svid: string;
  hint: string;
}

/** JWTSVIDResponse { repeated JWTSVID svids = 1 } with JWTSVID { spiffe_id = 1; svid = 2; hint = 3 }. */
export function decodeJwtSvidResponse(buf: Uint8Array): JwtSvid[] {
  return (decodeFields(buf).get(1) ?? []).map((m) => {
    const f = decodeFields(m);
    return { spiffeId: utf8(f.get(1)?.[0]), svid: utf8(f.get(2)?.[0]), hint: utf8(f.get(3)?.[0]) };
  });
}

/**
 * SPIFFE Workload API (spec §6): FetchJWTSVID(audience) over gRPC on the agent socket, with the
 * `workload.spiffe.io: true` metadata every call must carry. SPIRE agents cache JWT-SVIDs and hand
 * the same one out until it nears expiry, so this source does not claim to mint on demand.
 */
const spiffe: IdentitySource = {
  name: 'spiffe',
  mintsOnDemand: false,
  describe(options, env) {
    return `SPIFFE Workload API ${optionString(options, 'socket') ?? readEnv(env, 'SPIFFE_ENDPOINT_SOCKET') ?? '(no socket configured)'}, audience ${audienceOf(options)}`;
  },
  async fetch(ctx) {
    const address = optionString(ctx.options, 'socket') ?? readEnv(ctx.env, 'SPIFFE_ENDPOINT_SOCKET');
    if (!address) throw new WifError('identity_unavailable', 'spiffe: no Workload API socket: SPIFFE_ENDPOINT_SOCKET is not set and no "socket" option is configured', { hint: AGENT_FIX });
    const target = parseWorkloadAddress(address);
    const audience = audienceOf(ctx.options);
    const wanted = optionString(ctx.options, 'spiffe_id');
    const request = encodeStrings([[1, audience], ...(wanted ? ([[2, wanted]] as Array<[number, string]>) : [])]);
    let reply: Buffer;
    try {
      ctx.log.debug(`spiffe: FetchJWTSVID on ${address} (audience ${audience})`);
      reply = await unaryCall(target, FETCH_JWT_SVID_PATH, request, { 'workload.spiffe.io': 'true' }, ctx.timeoutMs);
    } catch (err) {
      if (err instanceof GrpcTransportError) {
        throw new WifError(err.kind === 'timeout' ? 'endpoint_timeout' : 'endpoint_unreachable', `spiffe: the Workload API at ${address}: ${err.message}`, { hint: AGENT_FIX, details: { source: 'spiffe' } });
      }
      if (err instanceof GrpcStatusError) {
        // DEADLINE_EXCEEDED is the call's own deadline (the grpc-timeout we send) noticed by the
        // agent before our timer: the same timeout either way (under load the agent's status won
        // the race, and the fault matrix saw endpoint_unreachable for a hang).
        const code = err.code === 4 ? 'endpoint_timeout' : err.code === 14 ? 'endpoint_unreachable' : 'identity_unavailable';
        throw new WifError(code, `spiffe: FetchJWTSVID on ${address} failed: ${err.message}`, {
          hint: err.code === 7
            ? 'the agent has no identity for this workload: register it (e.g. `spire-server entry create` with selectors matching this process)'
            : AGENT_FIX,
          details: { source: 'spiffe', grpc_status: err.code },
        });
      }
      throw err;
    }
    const svids = decodeJwtSvidResponse(reply);
    const chosen = wanted ? svids.find((s) => s.spiffeId === wanted) : svids[0];
    if (!chosen || !chosen.svid) {
      throw new WifError('identity_unavailable', `spiffe: the Workload API returned ${svids.length} JWT-SVID(s)${wanted ? `, none for ${wanted}` : ''}`, {
        hint: 'register this workload for the SPIFFE ID you need, or set "spiffe_id" to one it has',
      });
    }
    return { jwt: chosen.svid, origin: `SPIFFE ${chosen.spiffeId} (audience ${audience})` };
  },
};

export default spiffe;
