/**
 * A peer: the PeerJS server (`peer` package) as its users run it, `PeerServer` on its own HTTP
 * server with the WebSocket at `/peerjs`. Clients connect with `?key=peerjs&id=<id>&token=<t>`,
 * get `OPEN`, and send `{type, dst, payload}`; the server relays each to `dst` with `src` set.
 *
 * Two limits are raised, both for the idle benchmark's 10,000 connections: the concurrent
 * client limit (5,000 by default) and the heartbeat timeout (90 s by default; PeerJS clients
 * send a `HEARTBEAT` every 5 s, which would make the idle connections not idle). Everything
 * else is the package's default.
 */
import type { AddressInfo } from 'node:net';
import { PeerServer } from 'peer';
import { serveBenchmark } from './ipc.js';

PeerServer(
  {
    host: '127.0.0.1',
    port: 0,
    path: '/',
    key: 'peerjs',
    concurrent_limit: 1_000_000,
    alive_timeout: 3_600_000,
  },
  (server) => serveBenchmark((server.address() as AddressInfo).port),
);
