import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HostCheck, parseAllowedHosts } from '../../src/server/transports/hosts.js';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { rawRequest, rawUpgrade } from '../helpers/http-raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

// What a web page in a browser can do to a natter server the browser can reach
// (on localhost, or on a private network): DNS rebinding puts the attacker's
// host name in Host; a "simple" cross-site POST (text/plain or a form) needs no
// CORS preflight. Neither may reach the API.

let t: TestServer;
let open: TestServer;
before(async () => {
  t = await startTestServer({ allowedHosts: ['chat.example.com', '*.natter.test'] });
  open = await startTestServer({ allowedHosts: ['*'] });
});
after(async () => {
  await t.destroy();
  await open.destroy();
});

const post = (server: TestServer, op: string, headers: Record<string, string>, body?: string) =>
  rawRequest(`${server.httpUrl}/api/v1/${op}`, { headers, ...(body === undefined ? {} : { body }) });

describe('the Host header (DNS rebinding)', () => {
  test('a name the server does not answer to is refused on the API and healthz: 403 host_not_allowed saying how to allow it', async () => {
    const r = await post(t, 'ping', { host: 'evil.example:7777', 'content-type': 'application/json' }, '{}');
    assert.equal(r.status, 403);
    assert.equal(r.body.error?.code, 'host_not_allowed');
    assert.match(
      r.body.error?.message ?? '',
      /"evil\.example:7777".*--allow-host evil\.example \(or NATTER_ALLOWED_HOSTS\)/,
    );
    const health = await rawRequest(`${t.httpUrl}/healthz`, { method: 'GET', headers: { host: 'evil.example' } });
    assert.equal(health.status, 403);
    assert.equal(health.body.error?.code, 'host_not_allowed');
  });

  test('a refused Host is not served: a register through it creates no account', async () => {
    const body = JSON.stringify({ username: 'rebound', password: PASSWORD });
    const r = await post(t, 'register', { host: 'attacker.example', 'content-type': 'application/json' }, body);
    assert.equal(r.status, 403);
    const ok = await new HttpApi(t.httpUrl).call('register', { username: 'rebound', password: PASSWORD });
    assert.equal(ok.user.username, 'rebound', 'the name was still free');
  });

  test('IP addresses, localhost and --allow-host names (a wildcard covers one level) are served', async () => {
    for (const host of [
      '127.0.0.1',
      `127.0.0.1:${t.server.port}`,
      '10.20.30.40',
      '[::1]:7777',
      '[2001:db8::1]',
      'localhost',
      `LocalHost.:${t.server.port}`,
      'chat.example.com',
      'CHAT.example.com:443',
      'eu.natter.test',
    ]) {
      const r = await post(t, 'ping', { host, 'content-type': 'application/json' }, '{}');
      assert.equal(r.status, 200, `Host: ${host}: ${JSON.stringify(r.body)}`);
    }
    for (const host of ['natter.test', 'a.b.natter.test', 'chat.example.com.evil.example', 'localhost.evil.example']) {
      const r = await post(t, 'ping', { host, 'content-type': 'application/json' }, '{}');
      assert.equal(r.status, 403, `Host: ${host}`);
    }
  });

  test('--allow-host * turns the check off', async () => {
    const r = await post(open, 'ping', { host: 'anything.example', 'content-type': 'application/json' }, '{}');
    assert.equal(r.status, 200);
  });

  test('a WebSocket upgrade naming another host is refused with 403 host_not_allowed before the upgrade', async () => {
    const refused = await rawUpgrade(t.httpUrl, { headers: { host: 'evil.example' } });
    assert.equal(refused.status, 403);
    assert.equal(refused.body?.error?.code, 'host_not_allowed');
    assert.match(refused.body?.error?.message ?? '', /--allow-host evil\.example/);
    assert.equal((await rawUpgrade(t.httpUrl, { headers: { host: 'localhost' } })).status, 101);
    assert.equal((await rawUpgrade(t.httpUrl, { headers: { host: 'chat.example.com' } })).status, 101);
  });

  test('the --host name is served; other names are not', () => {
    const check = new HostCheck(parseAllowedHosts([]), 'chat.example.org', () => []);
    assert.equal(check.check('chat.example.org:7777'), null);
    assert.equal(check.check('localhost'), null);
    assert.equal(check.check('other.example.org')?.code, 'host_not_allowed');
    const onAll = new HostCheck(parseAllowedHosts([]), '0.0.0.0', () => []);
    assert.equal(onAll.check('0.0.0.0'), null, 'an IP literal');
    assert.equal(onAll.check('example.org')?.code, 'host_not_allowed');
  });

  test('--allow-host refuses what is not a host name, in words', () => {
    for (const bad of ['https://chat.example.com', 'chat.example.com:443', 'two words', '10.0.0.1', '*example.com']) {
      assert.throws(() => parseAllowedHosts([bad]), /--allow-host: ".*" is not a host name/, bad);
    }
    assert.deepEqual(parseAllowedHosts(['*']), ['*']);
    assert.deepEqual(parseAllowedHosts(['Chat.Example.COM.', '*.Natter.test', 'bücher.example']), [
      'chat.example.com',
      '*.natter.test',
      'xn--bcher-kva.example',
    ]);
  });
});

describe('request bodies must be JSON (cross-site simple requests)', () => {
  test('a text/plain or form POST to /api/v1/login is refused with 415 unsupported_media_type, before any password check', async () => {
    await new HttpApi(t.httpUrl).call('register', { username: 'formuser', password: PASSWORD });
    const login = JSON.stringify({ username: 'formuser', password: PASSWORD });
    for (const type of [
      'text/plain',
      'text/plain;charset=UTF-8',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const r = await post(t, 'login', { 'content-type': type }, login);
      assert.equal(r.status, 415, type);
      assert.equal(r.body.error?.code, 'unsupported_media_type');
      assert.match(r.body.error?.message ?? '', /Content-Type: application\/json/);
      assert.equal(r.body.result, undefined, 'no token');
    }
    const none = await post(t, 'login', {}, login);
    assert.equal(none.status, 415, 'a body without a Content-Type');
    assert.match(none.body.error?.message ?? '', /not no Content-Type/);
    const latin = await post(t, 'login', { 'content-type': 'application/json; charset=iso-8859-1' }, login);
    assert.equal(latin.status, 415, 'JSON in another charset');
  });

  test('application/json with or without a UTF-8 charset, in any case, is served', async () => {
    const login = JSON.stringify({ username: 'formuser', password: PASSWORD });
    for (const type of [
      'application/json',
      'Application/JSON',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
    ]) {
      const r = await post(t, 'login', { 'content-type': type }, login);
      assert.equal(r.status, 200, `${type}: ${JSON.stringify(r.body)}`);
    }
  });

  test('a request without a body needs no Content-Type', async () => {
    const { token } = await new HttpApi(t.httpUrl).call('register', { username: 'nobody', password: PASSWORD });
    const r = await post(t, 'whoami', { authorization: `Bearer ${token}` });
    assert.equal(r.status, 200);
    assert.equal((r.body.result as { user: { username: string } }).user.username, 'nobody');
  });
});
