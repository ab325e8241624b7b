/**
 * The ICE servers handed to each client in `connection_established`: the configured STUN URLs,
 * and TURN with short-lived credentials in the shared-secret scheme coturn implements
 * (`use-auth-secret`): username `<expiry-unix>:<userId>`, credential
 * base64(HMAC-SHA1(secret, username)). See draft-uberti-behave-turn-rest-00.
 */
import { createHmac } from 'node:crypto';
import type { IceServer } from '../client-lib/protocol.js';
import type { SignalingConfig } from '../config/config.js';

/** ICE servers for `userId`, with TURN credentials valid for `turnTtlS` from `nowMs`. */
export function iceServersFor(
  config: Pick<SignalingConfig, 'stunUrls' | 'turnUrls' | 'turnSecret' | 'turnTtlS'>,
  userId: string,
  nowMs = Date.now(),
): IceServer[] {
  const servers: IceServer[] = [];
  if (config.stunUrls.length > 0) servers.push({ urls: [...config.stunUrls] });
  if (config.turnUrls.length > 0 && config.turnSecret !== undefined) {
    const expiry = Math.floor(nowMs / 1000) + config.turnTtlS;
    const username = `${expiry}:${userId}`;
    const credential = createHmac('sha1', config.turnSecret).update(username).digest('base64');
    servers.push({ urls: [...config.turnUrls], username, credential });
  }
  return servers;
}
