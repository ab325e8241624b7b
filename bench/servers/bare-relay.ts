/**
 * The baseline: a bare `ws` JSON relay, the least a relay can do. Clients connect with
 * `?pair=<n>&side=<a|b>`; every text frame is parsed, stamped with `fromUserId` and
 * re-serialised to the other side of its pair. No auth, no validation, no limits, no metrics.
 *
 * Same `ws` settings as the signaling server (no compression, no client tracking, 64 KiB
 * frames), so the difference measured is the work done per message, not the transport.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { serveBenchmark } from './ipc.js';

const sockets = new Map<string, WebSocket>();

const wss = new WebSocketServer({
  noServer: true,
  clientTracking: false,
  perMessageDeflate: false,
  maxPayload: 65_536,
});

const httpServer = createServer((_req, res) => res.writeHead(426).end());
httpServer.on('upgrade', (req, socket, head) => {
  socket.on('error', () => undefined);
  const url = new URL(req.url ?? '/', 'http://localhost');
  const pair = url.searchParams.get('pair');
  const side = url.searchParams.get('side');
  if (pair === null || (side !== 'a' && side !== 'b')) {
    socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, pair, side));
});

function onConnection(ws: WebSocket, pair: string, side: 'a' | 'b'): void {
  const self = `${pair}:${side}`;
  const peerKey = `${pair}:${side === 'a' ? 'b' : 'a'}`;
  const fromUserId = `${side}-${pair}`;
  ws.on('error', () => undefined);
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return;
    let msg: unknown;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return;
    const peer = sockets.get(peerKey);
    if (peer === undefined) return;
    (msg as Record<string, unknown>)['fromUserId'] = fromUserId;
    peer.send(JSON.stringify(msg));
  });
  ws.on('close', () => {
    if (sockets.get(self) === ws) sockets.delete(self);
  });
  sockets.set(self, ws);
}

httpServer.listen(0, '127.0.0.1', () => {
  const address = httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  serveBenchmark(address.port);
});
