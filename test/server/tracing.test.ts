import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connectClient, PASSWORD, rejection, uniqueName } from '../helpers/api.js';
import { OtlpReceiver, type ReceivedSpan } from '../helpers/otlp.js';
import { ServeProcess } from '../helpers/serve-process.js';
import { within } from '../helpers/wait.js';

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
const RECORDER = fileURLToPath(new URL('../fixtures/record-imports.mjs', import.meta.url));

const dirs: string[] = [];
const procs: ServeProcess[] = [];
after(() => {
  for (const p of procs) p.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'natter-tracing-'));
  dirs.push(d);
  return d;
}

function serve(env: Record<string, string>): ServeProcess {
  const p = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', tempDir()], { env });
  procs.push(p);
  return p;
}

/** The spans of one trace, by name (one each), checking there is exactly one of each name asked for. */
function traceOf(spans: ReceivedSpan[], root: ReceivedSpan): Map<string, ReceivedSpan[]> {
  const byName = new Map<string, ReceivedSpan[]>();
  for (const s of spans.filter((s) => s.traceId === root.traceId)) {
    byName.set(s.name, [...(byName.get(s.name) ?? []), s]);
  }
  return byName;
}

function only(map: Map<string, ReceivedSpan[]>, name: string): ReceivedSpan {
  const list = map.get(name) ?? [];
  assert.equal(list.length, 1, `one ${name} span in the trace, not ${list.length}`);
  return list[0] as ReceivedSpan;
}

describe('tracing', () => {
  test('each request is a trace: a root span named after the op, its phases under it, the write and fan-out under the handler', async () => {
    const receiver = await OtlpReceiver.start();
    after(() => receiver.close());
    const proc = serve({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: '100' });
    const { port } = await proc.listening();
    const c = await connectClient(`ws://127.0.0.1:${port}`);
    const reg = await c.request('register', { username: uniqueName('traced'), password: PASSWORD });
    const { channels } = await c.request('servers.create', { name: 'traced' });
    const general = channels[0];
    assert.ok(general);
    await c.request('messages.send', { conversationId: general.id, body: 'hello, traces', nonce: 'n1' });
    const missing = await rejection(
      c.request('messages.send', { conversationId: '00000000000000000000000000', body: 'nowhere', nonce: 'n2' }),
    );
    c.close();
    assert.equal(await proc.stop(), 0, proc.stderr);
    assert.deepEqual(receiver.refused, [], 'every export was OTLP/HTTP JSON to /v1/traces');

    const roots = receiver.spans.filter((s) => s.parentSpanId === '');
    const register = roots.find((s) => s.name === 'register');
    assert.ok(register, `a register trace among ${receiver.spans.map((s) => s.name).join(', ')}`);
    assert.equal(register.kind, 2, 'kind server');
    assert.equal(register.attributes['natter.op'], 'register');
    assert.equal(register.attributes['natter.transport'], 'ws');
    assert.equal(register.attributes['natter.result_code'], 'ok');
    assert.equal(register.attributes['enduser.id'], reg.user.id);
    assert.match(String(register.attributes['natter.request_id']), /^[A-Za-z0-9_-]{8}$/);
    assert.equal(register.resource['service.name'], 'natter');
    assert.match(String(register.resource['service.version']), /^\d+\.\d+\.\d+/);
    assert.match(String(register.resource['service.instance.id']), /-\d+$/);
    assert.equal(
      register.resource['process.command_args'],
      undefined,
      'no command line: it may hold a database password',
    );

    const sends = roots.filter((s) => s.name === 'messages.send');
    assert.equal(sends.length, 2, 'one trace per send');
    const ok = sends.find((s) => s.attributes['natter.result_code'] === 'ok');
    assert.ok(ok);
    assert.notEqual(ok.status.code, 2, 'a request that worked is not an error');
    const trace = traceOf(receiver.spans, ok);
    for (const phase of ['decode', 'validate', 'authorize', 'handle']) {
      assert.equal(only(trace, phase).parentSpanId, ok.spanId, `${phase} is a child of the request`);
    }
    const write = only(trace, 'db.write');
    assert.equal(write.parentSpanId, only(trace, 'handle').spanId, 'the write is under the handler');
    const fanout = only(trace, 'fanout');
    assert.equal(fanout.parentSpanId, write.spanId, 'the committed batch fans out under the write that opened it');
    assert.ok(Number(fanout.attributes['natter.effects']) >= 1);

    const failed = sends.find((s) => s !== ok);
    assert.ok(failed);
    assert.equal(failed.attributes['natter.result_code'], missing.code);
    assert.equal(failed.status.code, 2, 'status ERROR');
    assert.equal(failed.status.message, missing.code);
    assert.ok(traceOf(receiver.spans, failed).has('handle'), 'the failed request has its spans too');
    const ids = new Set(receiver.spans.map((s) => s.spanId));
    for (const s of receiver.spans) {
      assert.ok(s.parentSpanId === '' || ids.has(s.parentSpanId), `the parent of ${s.name} was exported`);
    }
  });

  test('without an OTLP endpoint no OpenTelemetry module is loaded; with one, the SDK is', async () => {
    const run = async (env: Record<string, string>): Promise<string[]> => {
      const file = join(tempDir(), 'imports.txt');
      const clean: NodeJS.ProcessEnv = {};
      for (const [k, v] of Object.entries(process.env))
        if (!k.startsWith('OTEL_') && !k.startsWith('NATTER_')) clean[k] = v;
      const child = spawn(
        process.execPath,
        ['--import', RECORDER, BIN, 'serve', '--port', '0', '--tcp-port', '0', '--data', tempDir()],
        {
          env: { ...clean, NATTER_BCRYPT_COST: '4', NATTER_TEST_IMPORTS: file, ...env },
          stdio: ['ignore', 'ignore', 'pipe'],
        },
      );
      let err = '';
      child.stderr.setEncoding('utf8');
      const listening = new Promise<number>((resolve) => {
        child.stderr.on('data', (chunk: string) => {
          err += chunk;
          const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
      });
      const port = await within(listening, 'natter serve to listen', undefined, () => err);
      // A request runs the dispatcher, the write path and the fan-out.
      const c = await connectClient(`ws://127.0.0.1:${port}`);
      await c.request('register', { username: uniqueName('plain'), password: PASSWORD });
      c.close();
      child.kill('SIGTERM');
      await once(child, 'exit');
      return readFileSync(file, 'utf8').split('\n');
    };
    const off = await run({});
    assert.ok(
      off.some((u) => u.includes('/dist/server/dispatch.js')),
      'the recorder saw the server modules load',
    );
    assert.deepEqual(
      off.filter((u) => u.includes('@opentelemetry')),
      [],
      'no OpenTelemetry module without an endpoint',
    );
    const receiver = await OtlpReceiver.start();
    after(() => receiver.close());
    const on = await run({ OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url });
    assert.ok(
      on.some((u) => u.includes('@opentelemetry/sdk-node')),
      'with an endpoint the SDK is loaded (so the recorder would have seen it)',
    );
  });

  test('an unreachable collector does not stop natter serving, nor stopping in time', async () => {
    // A collector that accepts connections and never answers: the worst case for a stop.
    const sockets = new Set<Socket>();
    const silent = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    after(() => {
      for (const s of sockets) s.destroy();
      silent.close();
    });
    const address = silent.address();
    assert.ok(address && typeof address === 'object');
    const proc = serve({
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${address.port}`,
      OTEL_BSP_SCHEDULE_DELAY: '50',
    });
    const { port } = await proc.listening();
    const c = await connectClient(`ws://127.0.0.1:${port}`);
    for (let i = 0; i < 3; i++)
      await c.request('register', { username: uniqueName('dark'), password: PASSWORD }).catch(() => {});
    const again = await connectClient(`ws://127.0.0.1:${port}`);
    const r = await again.request('register', { username: uniqueName('dark'), password: PASSWORD });
    assert.ok(r.token, 'requests are answered while the collector is silent');
    c.close();
    again.close();
    // ServeProcess.stop waits up to 15 s: the stop gives up on the collector after 5.
    assert.equal(await proc.stop(), 0, proc.stderr);
    assert.match(proc.stderr, /natter stopped/);
  });
});
