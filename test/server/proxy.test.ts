import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { NatterClient } from '../../src/client/index.js';
import type { ErrorBody } from '../../src/protocol/index.js';
import { ConfigError } from '../../src/server/config.js';
import { parseProxyHeader, TrustedProxies } from '../../src/server/transports/proxy.js';
import { PASSWORD, uniqueName } from '../helpers/api.js';
import { onceWithin } from '../helpers/deadline.js';
import { rawRequest, rawUpgrade } from '../helpers/http-raw.js';
import { LOOSE_LIMITS, startTestServer, type TestServer } from '../helpers/server.js';

// natter behind a reverse proxy. The test servers trust 127.0.0.1 as their
// proxy; connections from 127.0.0.2 (also this machine) are anyone else.

const UNTRUSTED = '127.0.0.2';

let t: TestServer;
before(async () => {
  t = await startTestServer({ trustProxy: ['127.0.0.1', '10.0.0.0/8', 'fd00::/8'], authDeadlineMs: 2000 });
});
after(() => t.destroy());

type Line = { id?: unknown; event?: string; data?: Record<string, unknown>; result?: unknown; error?: ErrorBody };

/** A raw socket to the TCP port that parses the lines it receives. */
class Lines {
  readonly lines: Line[] = [];
  closed = false;
  private text = '';
  private waiters: (() => void)[] = [];

  constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.text += d;
      let nl = this.text.indexOf('\n');
      while (nl !== -1) {
        this.lines.push(JSON.parse(this.text.slice(0, nl)) as Line);
        this.text = this.text.slice(nl + 1);
        nl = this.text.indexOf('\n');
      }
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static async open(port: number, localAddress?: string): Promise<Lines> {
    const socket = connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
    const l = new Lines(socket);
    await onceWithin(socket, 'connect');
    return l;
  }

  until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.lines)}`)),
        timeoutMs,
      );
      const attempt = () => {
        if (check()) {
          clearTimeout(timer);
          resolve();
        } else this.waiters.push(attempt);
      };
      attempt();
    });
  }

  async find(pred: (l: Line) => boolean, what: string): Promise<Line> {
    await this.until(() => this.lines.some(pred), what);
    return this.lines.find(pred) as Line;
  }

  /** Registers a fresh user; returns the session's recorded address. */
  async registeredAddress(id = 1): Promise<string> {
    this.socket.write(
      `${JSON.stringify({ id, op: 'register', params: { username: uniqueName('px'), password: PASSWORD } })}\n`,
    );
    const reply = await this.find((l) => l.id === id, 'the register reply');
    assert.equal(reply.error, undefined, JSON.stringify(reply.error));
    return (reply.result as { session: { address: string } }).session.address;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A PROXY protocol v2 header (PROXY command, TCP) for an IPv4 or IPv6 source address. */
function v2Header(source: string, family: 4 | 6, command: 'PROXY' | 'LOCAL' = 'PROXY'): Buffer {
  const signature = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
  const addr = (a: string) =>
    family === 4
      ? Buffer.from(a.split('.').map(Number))
      : Buffer.from(
          a
            .split(':')
            .map((g) => g.padStart(4, '0'))
            .join(''),
          'hex',
        );
  const ports = Buffer.alloc(4);
  ports.writeUInt16BE(51234, 0);
  ports.writeUInt16BE(7778, 2);
  const destination = family === 4 ? '192.0.2.1' : '2001:0db8:0000:0000:0000:0000:0000:0001';
  // A TLV after the addresses (PP2_TYPE_AUTHORITY), as HAProxy may send: skipped.
  const tlv = Buffer.concat([Buffer.from([0x02, 0x00, 0x0b]), Buffer.from('example.com')]);
  const body = Buffer.concat([addr(source), addr(destination), ports, tlv]);
  const head = Buffer.alloc(4);
  head[0] = command === 'PROXY' ? 0x21 : 0x20;
  head[1] = family === 4 ? 0x11 : 0x21;
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([signature, head, body]);
}

describe('the TCP port behind a proxy (PROXY protocol)', () => {
  test('a v1 header from a trusted proxy names the client: its address is the session address', async () => {
    const c = await Lines.open(t.server.tcpPort ?? 0);
    c.socket.write('PROXY TCP4 198.51.100.23 192.0.2.1 40000 7778\r\n');
    await c.find((l) => l.event === 'hello', 'hello');
    assert.equal(await c.registeredAddress(), '198.51.100.23');
    c.socket.destroy();
  });

  test('a v2 binary header (IPv4 and IPv6, with a TLV) names the client; the first request may share its packet', async () => {
    const v4 = await Lines.open(t.server.tcpPort ?? 0);
    const request = { id: 1, op: 'register', params: { username: uniqueName('v2'), password: PASSWORD } };
    v4.socket.write(Buffer.concat([v2Header('203.0.113.77', 4), Buffer.from(`${JSON.stringify(request)}\n`)]));
    const reply = await v4.find((l) => l.id === 1, 'the register reply');
    assert.equal((reply.result as { session: { address: string } }).session.address, '203.0.113.77');
    assert.equal(v4.lines[0]?.event, 'hello', 'hello came first');
    v4.socket.destroy();

    const v6 = await Lines.open(t.server.tcpPort ?? 0);
    v6.socket.write(v2Header('2001:0db8:0000:0000:0000:0000:0000:00aa', 6));
    assert.equal(await v6.registeredAddress(), '2001:db8::aa');
    v6.socket.destroy();
  });

  test("a proxy speaking for itself (v2 LOCAL, v1 UNKNOWN: health checks) keeps the proxy's own address", async () => {
    const local = await Lines.open(t.server.tcpPort ?? 0);
    local.socket.write(v2Header('0.0.0.0', 4, 'LOCAL'));
    assert.equal(await local.registeredAddress(), '127.0.0.1');
    local.socket.destroy();
    const unknown = await Lines.open(t.server.tcpPort ?? 0);
    unknown.socket.write('PROXY UNKNOWN\r\n');
    assert.equal(await unknown.registeredAddress(), '127.0.0.1');
    unknown.socket.destroy();
  });

  test('a trusted proxy that sends no PROXY header, or a garbled one, is answered with why and closed, before any hello', async () => {
    const cases: [string | null, RegExp][] = [
      ['{"id":1,"op":"ping"}\n', /does not start with a PROXY protocol header/],
      ['PROXY TCP4 not-an-address 192.0.2.1 1 2\r\n', /malformed PROXY v1 line/],
      ['PROXY TCP6 198.51.100.1 192.0.2.1 1 2\r\n', /malformed PROXY v1 line/],
      [`PROXY TCP4 ${'1'.repeat(120)}`, /longer than 107 bytes/],
      [null, /no PROXY protocol header within 2 s/],
    ];
    for (const [sent, why] of cases) {
      const c = await Lines.open(t.server.tcpPort ?? 0);
      if (sent !== null) c.socket.write(sent);
      await c.until(() => c.closed, 'the close');
      assert.equal(c.lines.length, 1, JSON.stringify(c.lines));
      assert.equal(c.lines[0]?.error?.code, 'bad_request');
      assert.match(
        c.lines[0]?.error?.message ?? '',
        /expected a PROXY protocol header from the proxy at 127\.0\.0\.1: /,
      );
      assert.match(c.lines[0]?.error?.message ?? '', why);
    }
  });

  test('a PROXY header from an address that is not trusted is not believed: the connection is closed (4002)', async () => {
    const c = await Lines.open(t.server.tcpPort ?? 0, UNTRUSTED);
    await c.find((l) => l.event === 'hello', 'hello');
    c.socket.write('PROXY TCP4 198.51.100.99 192.0.2.1 40000 7778\r\n{"id":1,"op":"register","params":{}}\n');
    const closing = await c.find((l) => l.event === 'closing', 'the closing event');
    assert.equal(closing.data?.code, 4002);
    assert.match(String(closing.data?.reason), /PROXY protocol header from an address that is not a trusted proxy/);
    await c.until(() => c.closed, 'the close');
    assert.ok(!c.lines.some((l) => l.id === 1), 'the request behind it was not served');

    // Without a header it is an ordinary client, under its own address.
    const plain = await Lines.open(t.server.tcpPort ?? 0, UNTRUSTED);
    await plain.find((l) => l.event === 'hello', 'hello');
    assert.equal(await plain.registeredAddress(), UNTRUSTED);
    plain.socket.destroy();
  });

  test('the per-address cap counts the client the header names, not the proxy', async () => {
    const srv = await startTestServer({ trustProxy: ['127.0.0.1'], maxConnectionsPerAddress: 2 });
    try {
      const open = async (client: string) => {
        const c = await Lines.open(srv.server.tcpPort ?? 0);
        c.socket.write(`PROXY TCP4 ${client} 192.0.2.1 40000 7778\r\n`);
        await c.until(() => c.lines.length > 0, 'a first line');
        return c;
      };
      const a1 = await open('198.51.100.1');
      const a2 = await open('198.51.100.1');
      const a3 = await open('198.51.100.1');
      const b1 = await open('198.51.100.2');
      assert.equal(a1.lines[0]?.event, 'hello');
      assert.equal(a2.lines[0]?.event, 'hello');
      assert.equal(a3.lines[0]?.error?.code, 'rate_limited', 'the third from one client');
      assert.equal(b1.lines[0]?.event, 'hello', 'another client through the same proxy');
      for (const c of [a1, a2, a3, b1]) c.socket.destroy();
    } finally {
      await srv.destroy();
    }
  });

  test('with TLS, the PROXY header comes before the handshake', async () => {
    const dir = fileURLToPath(new URL('../fixtures/tls/', import.meta.url));
    const srv = await startTestServer({
      trustProxy: ['127.0.0.1'],
      tls: { certFile: join(dir, 'server.pem'), keyFile: join(dir, 'server.key') },
    });
    try {
      const raw = connect({ host: '127.0.0.1', port: srv.server.tcpPort ?? 0 });
      await onceWithin(raw, 'connect');
      raw.write('PROXY TCP6 2001:db8::5 2001:db8::1 40000 7778\r\n');
      const secure = tlsConnect({ socket: raw, ca: readFileSync(join(dir, 'ca.pem')), servername: 'localhost' });
      const c = new Lines(secure);
      await c.find((l) => l.event === 'hello', 'hello over TLS');
      assert.equal(await c.registeredAddress(), '2001:db8::5');
      secure.destroy();
    } finally {
      await srv.destroy();
    }
  });
});

describe('HTTP and WebSocket behind a proxy (X-Forwarded-For)', () => {
  const register = (headers: Record<string, string>, localAddress?: string) =>
    rawRequest(`${t.httpUrl}/api/v1/register`, {
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ username: uniqueName('xff'), password: PASSWORD }),
      ...(localAddress ? { localAddress } : {}),
    });
  const addressOf = (r: Awaited<ReturnType<typeof register>>) => {
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body.result as { session: { address: string } }).session.address;
  };

  test('from a trusted proxy, the right-most address that is not a trusted proxy is the client', async () => {
    assert.equal(addressOf(await register({ 'x-forwarded-for': '198.51.100.7' })), '198.51.100.7');
    // The client wrote the first entry itself; the proxies appended the rest.
    assert.equal(addressOf(await register({ 'x-forwarded-for': '6.6.6.6, 198.51.100.8, 10.1.2.3' })), '198.51.100.8');
    assert.equal(addressOf(await register({ 'x-forwarded-for': '203.0.113.9:51000' })), '203.0.113.9');
    assert.equal(addressOf(await register({ 'x-forwarded-for': '[2001:DB8:0::9]:443' })), '2001:db8::9');
    assert.equal(addressOf(await register({ 'x-forwarded-for': '::ffff:198.51.100.10' })), '198.51.100.10');
    // Nothing usable: the last trustworthy address stands.
    assert.equal(addressOf(await register({ 'x-forwarded-for': 'unknown, 10.9.9.9' })), '10.9.9.9');
    assert.equal(addressOf(await register({})), '127.0.0.1');
  });

  test('from anyone else X-Forwarded-For is ignored', async () => {
    assert.equal(addressOf(await register({ 'x-forwarded-for': '198.51.100.7' }, UNTRUSTED)), UNTRUSTED);
  });

  test('throttles count the forwarded client: registrations per address', async () => {
    const srv = await startTestServer({
      trustProxy: ['127.0.0.1'],
      limits: { ...LOOSE_LIMITS, registerPerAddress: { capacity: 1, refillMs: 3_600_000 } },
    });
    try {
      const reg = (client: string) =>
        rawRequest(`${srv.httpUrl}/api/v1/register`, {
          headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
          body: JSON.stringify({ username: uniqueName('thr'), password: PASSWORD }),
        });
      assert.equal((await reg('198.51.100.31')).status, 200);
      const again = await reg('198.51.100.31');
      assert.equal(again.status, 429);
      assert.equal(again.body.error?.code, 'rate_limited');
      assert.equal((await reg('198.51.100.32')).status, 200, 'another client behind the same proxy');
    } finally {
      await srv.destroy();
    }
  });

  test('a WebSocket upgrade through a trusted proxy: its session address and its slot of the cap are the client’s', async () => {
    const srv = await startTestServer({ trustProxy: ['127.0.0.1'], maxConnectionsPerAddress: 2 });
    try {
      const ws = await NatterClient.connect(srv.wsUrl);
      // NatterClient sends no X-Forwarded-For: the proxy's own address, and its socket is not counted.
      const { session } = await ws.request('register', { username: uniqueName('wsx'), password: PASSWORD });
      assert.equal(session.address, '127.0.0.1');
      const upgrade = (client: string) => rawUpgrade(srv.httpUrl, { headers: { 'x-forwarded-for': client } });
      // rawUpgrade closes an accepted socket at once; these stay open.
      const held: Socket[] = [];
      const hold = async (client: string) => {
        const s = connect({ host: '127.0.0.1', port: srv.server.port });
        s.on('error', () => {});
        await onceWithin(s, 'connect');
        s.write(
          `GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Forwarded-For: ${client}\r\n\r\n`,
        );
        let text = '';
        s.setEncoding('utf8');
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no upgrade answer: ${text}`)), 5000);
          s.on('data', (d: string) => {
            text += d;
            if (text.includes('\r\n\r\n')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        held.push(s);
        return Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      };
      assert.equal(await hold('198.51.100.41'), 101);
      assert.equal(await hold('198.51.100.41'), 101);
      assert.equal(await hold('198.51.100.41'), 429, 'the third from one client');
      assert.equal((await upgrade('198.51.100.42')).status, 101, 'another client through the same proxy');
      for (const s of held) s.destroy();
      ws.close();
    } finally {
      await srv.destroy();
    }
  });
});

describe('--trust-proxy values', () => {
  test('IPv4 and IPv6 addresses and CIDR ranges are taken; anything else is refused in words', () => {
    const p = new TrustedProxies(['127.0.0.1', ' 10.0.0.0/8', '::1', 'fd00::/8', '::ffff:192.168.1.1', '']);
    assert.deepEqual(p.entries, ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '192.168.1.1']);
    for (const [address, trusted] of [
      ['127.0.0.1', true],
      ['127.0.0.2', false],
      ['10.200.3.4', true],
      ['11.0.0.1', false],
      ['::1', true],
      ['fd12:3456::1', true],
      ['fe80::1', false],
      ['192.168.1.1', true],
      ['not an address', false],
    ] as const) {
      assert.equal(p.trusts(address), trusted, address);
    }
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/', '/8', '::/129', '1.2.3', '10.0.0.0/8x']) {
      assert.throws(
        () => new TrustedProxies([bad]),
        (err: unknown) =>
          err instanceof ConfigError && /--trust-proxy: ".*" is not an IP address or CIDR range/.test(err.message),
        bad,
      );
    }
    assert.equal(new TrustedProxies([]).trusts('127.0.0.1'), false, 'nobody by default');
  });

  test('the PROXY header parser waits for a whole header and says what is wrong with a bad one', () => {
    const v1 = Buffer.from('PROXY TCP4 198.51.100.1 192.0.2.1 1 2\r\nrest');
    const whole = v1.indexOf('rest');
    for (let n = 1; n < whole; n++) assert.equal(parseProxyHeader(v1.subarray(0, n)).status, 'partial', `${n} bytes`);
    assert.deepEqual(parseProxyHeader(v1), { status: 'ok', header: { address: '198.51.100.1' }, length: whole });
    const v2 = v2Header('198.51.100.2', 4);
    assert.equal(parseProxyHeader(v2.subarray(0, v2.length - 1)).status, 'partial');
    assert.deepEqual(parseProxyHeader(v2), { status: 'ok', header: { address: '198.51.100.2' }, length: v2.length });
    const v3 = Buffer.from(v2);
    v3[12] = 0x31;
    assert.match(JSON.stringify(parseProxyHeader(v3)), /unknown version 3/);
    assert.match(JSON.stringify(parseProxyHeader(Buffer.from('GET / HTTP/1.1\r\n'))), /does not start with a PROXY/);
    assert.match(JSON.stringify(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n'))), /malformed/);
  });
});
