import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net';

/**
 * A TCP relay in front of a port of the server that keeps what clients send
 * through it, so a test can see the requests themselves (a `Range` header).
 * Bytes pass unchanged both ways.
 */
export type Relay = {
  /** `ws://127.0.0.1:<port>` of the relay (its HTTP side is the same address). */
  url: string;
  /** Everything clients sent so far, as Latin-1 text. */
  seen(): string;
  close(): Promise<void>;
};

export async function relay(port: number): Promise<Relay> {
  let seen = '';
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
    });
    client.pipe(upstream).pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen: () => seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
