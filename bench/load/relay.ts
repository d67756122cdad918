/**
 * The floor: a WebSocket relay that does nothing but forward each text frame
 * to the other clients in its room (no parsing, no storage, no auth), and its
 * adapter. Run as a server with `node --import tsx bench/load/relay.ts PORT`.
 */
import WebSocket, { WebSocketServer } from 'ws';
import type { Adapter } from './adapter.js';

export function relayAdapter(url: string): Adapter {
  const open = (room: number) =>
    new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`${url}/?room=${room}`, { perMessageDeflate: false, skipUTF8Validation: true });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    });
  return {
    name: 'relay',
    async open(_i, room, onBody) {
      const ws = await open(room);
      ws.on('message', (data: Buffer) => onBody(data.toString('latin1')));
      return {
        send(body) {
          ws.send(body);
        },
        close() {
          ws.terminate();
        },
      };
    },
    async reconnect() {
      const ws = await open(0);
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close();
      });
    },
  };
}

function serve(port: number): void {
  const rooms = new Map<string, Set<WebSocket>>();
  const wss = new WebSocketServer({ port, host: '127.0.0.1', perMessageDeflate: false, clientTracking: false });
  wss.on('connection', (ws, req) => {
    const room = new URL(req.url ?? '/', 'http://x').searchParams.get('room') ?? '0';
    let members = rooms.get(room);
    if (!members) {
      members = new Set();
      rooms.set(room, members);
    }
    const set = members;
    set.add(ws);
    ws.on('message', (data: Buffer, isBinary) => {
      for (const peer of set) if (peer !== ws) peer.send(data, { binary: isBinary });
    });
    ws.on('close', () => set.delete(ws));
    ws.on('error', () => ws.terminate());
  });
  wss.on('listening', () => process.stderr.write(`relay listening on ${port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

if (import.meta.url === `file://${process.argv[1]}`) serve(Number(process.argv[2] ?? 7790));
