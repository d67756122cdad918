/**
 * The IRC adapter (for ngircd): NICK/USER, wait for 001, JOIN the room's
 * channel and wait for the end of its NAMES list; answers PING; reads PRIVMSG.
 */
import { connect, type Socket } from 'node:net';
import type { Adapter } from './adapter.js';

type Line = (line: string) => void;

/** Connects, registers as nick `b<i>`, and calls `onLine` with each line (without CRLF). */
function register(host: string, port: number, i: number, onLine: Line): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, noDelay: true });
    let rest = '';
    let welcomed = false;
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      const text = rest + chunk;
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        const line = text.slice(start, text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
        start = nl + 1;
        if (line.startsWith('PING ')) {
          socket.write(`PONG ${line.slice(5)}\r\n`);
          continue;
        }
        if (!welcomed && line.includes(' 001 ')) {
          welcomed = true;
          resolve(socket);
        }
        onLine(line);
      }
      rest = text.slice(start);
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`irc client ${i} closed before 001`)));
    socket.write(`NICK b${i}\r\nUSER b${i} 0 * :natter bench\r\n`);
  });
}

export function ircAdapter(host: string, port: number): Adapter {
  return {
    name: 'ngircd',
    async open(i, room, onBody) {
      const channel = `#r${room}`;
      let joined: () => void = () => {};
      const ready = new Promise<void>((r) => {
        joined = r;
      });
      const socket = await register(host, port, i, (line) => {
        const p = line.indexOf(' PRIVMSG ');
        if (p > 0) {
          const colon = line.indexOf(' :', p + 9);
          if (colon > 0) onBody(line.slice(colon + 2));
          return;
        }
        if (line.includes(' 366 ')) joined();
      });
      socket.write(`JOIN ${channel}\r\n`);
      await ready;
      return {
        send(body) {
          socket.write(`PRIVMSG ${channel} :${body}\r\n`);
        },
        close() {
          socket.destroy();
        },
      };
    },
    async reconnect(i) {
      const socket = await register(host, port, i, () => {});
      socket.removeAllListeners('close');
      await new Promise<void>((resolve) => {
        socket.once('close', () => resolve());
        socket.end('QUIT\r\n');
      });
    },
  };
}
