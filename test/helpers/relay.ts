import { type AddressInfo, createServer, connect as netConnect, type Socket } from 'node:net';

/**
 * A TCP relay in front of a port of the server that keeps what clients send
 * through it, so a test can see the requests themselves (a `Range` header).
 * Bytes pass unchanged both ways, up to `cutAfterBytes` from the server on
 * one connection when that is given.
 */
export type Relay = {
  /** `ws://127.0.0.1:<port>` of the relay (its HTTP side is the same address). */
  url: string;
  /** Everything clients sent so far, as Latin-1 text. */
  seen(): string;
  close(): Promise<void>;
};

export async function relay(port: number, options: { cutAfterBytes?: number } = {}): Promise<Relay> {
  let seen = '';
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = netConnect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.on('data', (d: Buffer) => {
      seen += d.toString('latin1');
    });
    client.pipe(upstream);
    // With `cutAfterBytes`, a connection that has carried that much from the server is cut, as a network failure would.
    let passed = 0;
    const cut = options.cutAfterBytes ?? Number.POSITIVE_INFINITY;
    upstream.on('data', (d: Buffer) => {
      const room = cut - passed;
      passed += d.length;
      if (d.length < room) {
        if (!client.write(d)) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
        return;
      }
      client.end(d.subarray(0, room), () => client.destroy());
      upstream.destroy();
    });
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
