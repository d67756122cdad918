import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { connectClient, httpPost, openApi, PASSWORD, rejection, TRANSPORTS, uniqueName } from '../helpers/api.js';
import { RawTcp, RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer({ maxFrameBytes: 16 * 1024 });
});
after(() => t.destroy());

type Reply = { id: unknown; result?: unknown; error?: { code: string; field?: string; message: string } };

/** Sends raw text on a WebSocket or TCP connection and returns the next reply to it. */
type RawConn = {
  send(text: string): void;
  next(): Promise<Reply>;
  closedCode(): Promise<number | 'ended'>;
  close(): void;
};

async function rawConn(transport: 'ws' | 'tcp'): Promise<RawConn> {
  if (transport === 'ws') {
    const ws = await RawWs.open(t.wsUrl);
    let seen = ws.messages.length;
    return {
      send: (text) => ws.send(text),
      next: async () => {
        const m =
          (await ws.waitFor((_m) => ws.messages.length > seen && !('event' in (ws.messages[seen] as object)))) &&
          ws.messages[seen];
        seen++;
        return m as Reply;
      },
      closedCode: () => ws.closed(),
      close: () => ws.close(),
    };
  }
  const tcp = await RawTcp.open(t.tcpUrl);
  let seen = tcp.messages.length;
  return {
    send: (text) => tcp.write(`${text}\n`),
    next: async () => {
      await tcp.waitFor(() => tcp.messages.slice(seen).some((m) => !('event' in (m as object))));
      const rest = tcp.messages.slice(seen);
      const idx = rest.findIndex((m) => !('event' in (m as object)));
      seen += idx + 1;
      return rest[idx] as Reply;
    },
    closedCode: async () => {
      await tcp.closed();
      const closing = tcp.messages.find((m) => (m as { event?: string }).event === 'closing') as
        | { data: { code: number } }
        | undefined;
      return closing ? closing.data.code : 'ended';
    },
    close: () => tcp.close(),
  };
}

for (const transport of ['ws', 'tcp'] as const) {
  describe(`bad input over ${transport}`, () => {
    test('malformed JSON gets bad_json and the connection stays usable', async () => {
      const c = await rawConn(transport);
      c.send('{"op":');
      const r = await c.next();
      assert.equal(r.id, null);
      assert.equal(r.error?.code, 'bad_json');
      c.send('{"id":"p","op":"ping"}');
      const pong = await c.next();
      assert.equal(pong.id, 'p');
      assert.equal(typeof (pong.result as { now: number }).now, 'number');
      c.close();
    });

    test('three undecodable frames in a row close the connection with 4002', async () => {
      const c = await rawConn(transport);
      for (let i = 0; i < 3; i++) c.send('not json');
      assert.equal(await c.closedCode(), 4002);
    });

    test('a bare number, an array and a string are refused as bad_request', async () => {
      const c = await rawConn(transport);
      for (const text of ['42', '[1,2]', '"ping"', 'null']) {
        c.send(text);
        const r = await c.next();
        assert.equal(r.error?.code, 'bad_request', text);
      }
      c.close();
    });

    test('unknown operations, wrong types and extra fields name the field', async () => {
      const c = await rawConn(transport);
      c.send('{"id":1,"op":"launch.missiles"}');
      let r = await c.next();
      assert.equal(r.id, 1);
      assert.equal(r.error?.code, 'unknown_op');
      assert.equal(r.error?.field, 'op');

      c.send('{"id":2,"op":"login","params":{"username":{},"password":"x"}}');
      r = await c.next();
      assert.equal(r.error?.code, 'bad_request');
      assert.equal(r.error?.field, 'params.username');

      c.send('{"id":3,"op":"ping","params":{"extra":true}}');
      r = await c.next();
      assert.equal(r.error?.code, 'bad_request');
      assert.equal(r.error?.field, 'params.extra');

      c.send('{"id":4,"op":"ping","sneaky":1}');
      r = await c.next();
      assert.equal(r.error?.code, 'bad_request');
      assert.equal(r.error?.field, 'sneaky');

      c.send('{"id":5,"op":"ping","params":[]}');
      r = await c.next();
      assert.equal(r.error?.code, 'bad_request');
      c.close();
    });

    test('prototype keys are refused and pollute nothing', async () => {
      const c = await rawConn(transport);
      c.send('{"id":1,"op":"ping","params":{"__proto__":{"polluted":1}}}');
      let r = await c.next();
      assert.equal(r.error?.code, 'bad_request');
      c.send('{"id":2,"op":"ping","params":{"constructor":{"prototype":{"polluted":1}}}}');
      r = await c.next();
      assert.equal(r.error?.code, 'bad_request');
      assert.equal(({} as { polluted?: unknown }).polluted, undefined);
      c.close();
    });

    test('request ids must be short strings or safe integers', async () => {
      const c = await rawConn(transport);
      for (const id of ['9007199254740993', '-1', '1.5', '""', '{}']) {
        c.send(`{"id":${id},"op":"ping"}`);
        const r = await c.next();
        assert.equal(r.error?.code, 'bad_request', `id ${id}`);
        assert.equal(r.error?.field, 'id');
      }
      c.close();
    });

    test('operations that need a login are refused before auth, and repeated tries close the connection', async () => {
      const c = await rawConn(transport);
      for (let i = 0; i < 4; i++) {
        c.send(`{"id":${i},"op":"whoami"}`);
        const r = await c.next();
        assert.equal(r.error?.code, 'unauthenticated');
      }
      c.send('{"id":"last","op":"tokens.list"}');
      assert.equal((await c.next()).error?.code, 'unauthenticated');
      assert.equal(await c.closedCode(), 4003);
    });
  });
}

describe('transport limits', () => {
  test('a WebSocket frame over the limit closes with 1009 and the server carries on', async () => {
    const ws = await RawWs.open(t.wsUrl);
    ws.send(JSON.stringify({ id: 1, op: 'ping', params: { pad: 'x'.repeat(20 * 1024) } }));
    assert.equal(await ws.closed(), 1009);
    const c = await connectClient(t.wsUrl);
    assert.equal(typeof (await c.request('ping', {})).now, 'number');
    c.close();
  });

  test('a binary WebSocket frame is refused with bad_request', async () => {
    const ws = await RawWs.open(t.wsUrl);
    ws.send(Buffer.from('{"id":1,"op":"ping"}'), true);
    const r = (await ws.waitFor((m) => (m as { error?: unknown }).error !== undefined)) as Reply;
    assert.equal(r.error?.code, 'bad_request');
    ws.close();
  });

  test('a text frame that is not UTF-8 closes the WebSocket with 1007', async () => {
    const ws = await RawWs.open(t.wsUrl);
    ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), false);
    assert.equal(await ws.closed(), 1007);
  });

  test('a TCP line over the limit gets payload_too_large and the connection is closed', async () => {
    const tcp = await RawTcp.open(t.tcpUrl);
    tcp.write('x'.repeat(17 * 1024));
    const r = (await tcp.waitFor((m) => (m as Reply).error !== undefined)) as Reply;
    assert.equal(r.error?.code, 'payload_too_large');
    await tcp.closed();
    const closing = tcp.messages.find((m) => (m as { event?: string }).event === 'closing') as {
      data: { code: number };
    };
    assert.equal(closing.data.code, 4010);
  });

  test('TCP lines split byte by byte, and several in one write, are all understood', async () => {
    const tcp = await RawTcp.open(t.tcpUrl);
    const line = Buffer.from('{"id":"slow","op":"ping"}\r\n');
    for (const byte of line) {
      tcp.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    assert.ok((await tcp.reply('slow')).result);
    tcp.write('{"id":"a","op":"ping"}\n{"id":"b","op":"ping"}\n\n{"id":"c","op":"ping"}\n');
    for (const id of ['a', 'b', 'c']) assert.ok((await tcp.reply(id)).result, id);
    tcp.close();
  });

  test('a TCP line that is not UTF-8 gets bad_json', async () => {
    const tcp = await RawTcp.open(t.tcpUrl);
    tcp.write(
      Buffer.concat([
        Buffer.from('{"id":"x","op":"ping","params":{"a":"'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('"}}\n'),
      ]),
    );
    const r = (await tcp.waitFor((m) => (m as Reply).error !== undefined)) as Reply;
    assert.equal(r.error?.code, 'bad_json');
    tcp.close();
  });

  test('connections that never authenticate are closed at the deadline', async () => {
    const quick = await startTestServer({ authDeadlineMs: 150 });
    try {
      const ws = await RawWs.open(quick.wsUrl);
      assert.equal(await ws.closed(), 4003);
      const tcp = await RawTcp.open(quick.tcpUrl);
      await tcp.closed();
      assert.ok(tcp.messages.some((m) => (m as { data?: { code?: number } }).data?.code === 4003));
    } finally {
      await quick.destroy();
    }
  });

  test('a registration still being checked at the deadline gets its answer, and the connection stays', async () => {
    const quick = await startTestServer({ authDeadlineMs: 100, bcryptCost: 10 });
    try {
      // Keep the hashing thread busy with other addresses' work, so the registration waits
      // past the deadline for its turn.
      const hasher = quick.server.services.passwords;
      const busy = Array.from({ length: 12 }, (_, i) => hasher.hash(`busy ${i}`, `10.9.0.${i}`));
      for (const transport of ['ws', 'tcp'] as const) {
        const c = await connectClient(transport === 'ws' ? quick.wsUrl : quick.tcpUrl);
        const res = await c.request('register', { username: uniqueName(`slow${transport}`), password: PASSWORD });
        assert.ok(res.token, 'registered');
        assert.equal((await c.request('whoami', {})).user.id, res.user.id, 'and still connected');
        c.close();
      }
      await Promise.all(busy);
    } finally {
      await quick.destroy();
    }
  });
});

describe('bad input over http', () => {
  test('malformed JSON body is 400 bad_json', async () => {
    const r = await httpPost(t.httpUrl, 'ping', null, null, '{"nope":');
    assert.equal(r.status, 400);
    assert.equal(r.body.error?.code, 'bad_json');
  });

  test('unknown operation is 404 unknown_op', async () => {
    const r = await httpPost(t.httpUrl, 'launch.missiles', {});
    assert.equal(r.status, 404);
    assert.equal(r.body.error?.code, 'unknown_op');
  });

  test('wrong types and extra fields are 400 bad_request naming the field', async () => {
    let r = await httpPost(t.httpUrl, 'register', { username: 42, password: PASSWORD });
    assert.equal(r.status, 400);
    assert.equal(r.body.error?.field, 'params.username');
    r = await httpPost(t.httpUrl, 'ping', { extra: 1 });
    assert.equal(r.body.error?.field, 'params.extra');
  });

  test('a body over the limit is 413 payload_too_large', async () => {
    const r = await httpPost(t.httpUrl, 'ping', { pad: 'x'.repeat(20 * 1024) });
    assert.equal(r.status, 413);
    assert.equal(r.body.error?.code, 'payload_too_large');
  });

  test('a chunked body over the limit is 413 too, not a reset connection', async () => {
    const chunk = new TextEncoder().encode('x'.repeat(8 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 20) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const res = await fetch(`${t.httpUrl}/api/v1/ping`, { method: 'POST', body, duplex: 'half' } as RequestInit);
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'payload_too_large');
  });

  test('no token or a forged token is 401 unauthenticated', async () => {
    let r = await httpPost(t.httpUrl, 'whoami', {});
    assert.equal(r.status, 401);
    assert.equal(r.body.error?.code, 'unauthenticated');
    r = await httpPost(t.httpUrl, 'whoami', {}, 'nts_forged');
    assert.equal(r.status, 401);
    assert.equal(r.body.error?.code, 'unauthenticated');
  });

  test('GET on the API, other paths, and healthz', async () => {
    const get = await fetch(`${t.httpUrl}/api/v1/ping`);
    assert.equal(get.status, 400);
    const missing = await fetch(`${t.httpUrl}/nothing`);
    assert.equal(missing.status, 404);
    const health = await fetch(`${t.httpUrl}/healthz`);
    assert.equal(health.status, 200);
    const body = (await health.json()) as { ok: boolean; protocol: number };
    assert.equal(body.ok, true);
    assert.equal(body.protocol, 1);
  });

  test('X-Request-Id is echoed as the reply id', async () => {
    const res = await fetch(`${t.httpUrl}/api/v1/ping`, { method: 'POST', headers: { 'x-request-id': 'abc-1' } });
    assert.equal(((await res.json()) as { id: string }).id, 'abc-1');
  });
});

for (const transport of TRANSPORTS) {
  describe(`credentials and names over ${transport}`, () => {
    test('unknown user and wrong password get the same answer', async () => {
      const api = await openApi(t, transport);
      const username = uniqueName('cred');
      await (await openApi(t, 'http')).call('register', { username, password: PASSWORD });
      const wrong = await rejection(api.call('login', { username, password: 'not the password' }));
      const unknown = await rejection(
        api.call('login', { username: uniqueName('ghost'), password: 'not the password' }),
      );
      assert.equal(wrong.code, 'invalid_credentials');
      assert.equal(unknown.code, wrong.code);
      assert.equal(unknown.message, wrong.message);
      api.close();
    });

    test('hostile and look-alike usernames are refused', async () => {
      const api = await openApi(t, transport);
      for (const bad of [
        'a',
        'x'.repeat(33),
        'evil\u202etxt',
        'zero\u200bwidth',
        'bom\ufeff',
        'tab\tname',
        '   ',
        'has space',
        '_lead',
        'pаypal',
      ]) {
        const err = await rejection(api.call('register', { username: bad, password: PASSWORD }));
        assert.equal(err.code, 'bad_request', JSON.stringify(bad));
        assert.equal(err.field, 'params.username');
      }
      api.close();
      // Names made only of letters that have Cyrillic twins, one per transport (one database for the file).
      const base = { ws: 'cape', tcp: 'pace', http: 'cope' }[transport];
      await (await openApi(t, 'http')).call('register', { username: base, password: PASSWORD });
      const twins: Record<string, string> = { c: '\u0441', a: '\u0430', p: '\u0440', e: '\u0435', o: '\u043e' };
      const cyrillic = [...base].map((ch) => twins[ch] ?? ch).join('');
      assert.notEqual(cyrillic, base);
      // Another case, an accent (composed or not), or the all-Cyrillic spelling: all taken.
      for (const clash of [base.toUpperCase(), base.replace('e', 'é'), base.replace('e', 'e\u0301'), cyrillic]) {
        const other = await openApi(t, transport);
        const err = await rejection(other.call('register', { username: clash, password: PASSWORD }));
        assert.equal(err.code, 'conflict', clash);
        other.close();
      }
    });

    test('passwords: 8 characters minimum, 72 bytes maximum, never truncated', async () => {
      const api = await openApi(t, transport);
      const short = await rejection(api.call('register', { username: uniqueName('pw'), password: 'seven77' }));
      assert.equal(short.code, 'bad_request');
      assert.equal(short.field, 'params.password');
      const long = await rejection(api.call('register', { username: uniqueName('pw'), password: 'é'.repeat(37) }));
      assert.equal(long.code, 'bad_request', '74 bytes of UTF-8 is too long');
      const p72 = 'éàèù'.repeat(9);
      const username = uniqueName('pw72');
      await api.call('register', { username, password: p72 });
      api.close();
      const again = await openApi(t, transport);
      const over = await rejection(again.call('login', { username, password: `${p72}x` }));
      assert.equal(over.code, 'invalid_credentials', 'the 73rd byte counts');
      await again.call('login', { username, password: p72 });
      again.close();
    });
  });
}
