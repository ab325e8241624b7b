/**
 * A peer: the least a Socket.IO relay can do. Clients connect over the WebSocket transport
 * only (no long-polling, no upgrade) naming their pair in the handshake's `auth`
 * (`{pair, side}`); every `ice_candidate` event is parsed by Socket.IO, stamped with
 * `fromUserId` and emitted to the other side of its pair. No validation, no limits, no metrics,
 * like the bare relay; Socket.IO's own defaults otherwise (heartbeat, buffer size, no
 * compression), and it does not serve its client bundle.
 */
import { createServer } from 'node:http';
import { Server, type Socket } from 'socket.io';
import { serveBenchmark } from './ipc.js';

const sockets = new Map<string, Socket>();

const httpServer = createServer((_req, res) => res.writeHead(426).end());
const io = new Server(httpServer, { transports: ['websocket'], serveClient: false });

io.on('connection', (socket) => {
  const auth: Record<string, unknown> = socket.handshake.auth;
  const pair = auth['pair'];
  const side = auth['side'];
  if (typeof pair !== 'string' || (side !== 'a' && side !== 'b')) {
    socket.disconnect(true);
    return;
  }
  const self = `${pair}:${side}`;
  const peerKey = `${pair}:${side === 'a' ? 'b' : 'a'}`;
  const fromUserId = `${side}-${pair}`;
  socket.on('ice_candidate', (msg: unknown) => {
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return;
    const peer = sockets.get(peerKey);
    if (peer === undefined) return;
    (msg as Record<string, unknown>)['fromUserId'] = fromUserId;
    peer.emit('ice_candidate', msg);
  });
  socket.on('disconnect', () => {
    if (sockets.get(self) === socket) sockets.delete(self);
  });
  sockets.set(self, socket);
});

httpServer.listen(0, '127.0.0.1', () => {
  const address = httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  serveBenchmark(address.port);
});
