import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  httpPost,
  openApi,
  PASSWORD,
  rejection,
  TRANSPORTS,
  type TransportName,
  uniqueName,
  type WireReply,
} from '../helpers/api.js';
import { RawTcp, RawWs } from '../helpers/raw.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(async () => {
  await t.destroy();
});

/** A user with a server (and its #general), a group and a message of their own, over `transport`. */
async function setup(transport: TransportName) {
  const api = await openApi(t, transport);
  const other = await openApi(t, 'http');
  const otherName = uniqueName('peer');
  await other.call('register', { username: otherName, password: PASSWORD });
  const reg = await api.call('register', { username: uniqueName('writer'), password: PASSWORD });
  const { server, channels } = await api.call('servers.create', { name: 'text rules' });
  const channelId = channels[0]?.id ?? '';
  const invite = await api.call('invites.create', { serverId: server.id });
  await other.call('invites.join', { code: invite.invite.code });
  const { group } = await api.call('groups.create', { name: 'rules group', usernames: [otherName] });
  const { message } = await api.call('messages.send', { conversationId: channelId, body: 'first', nonce: 'first' });
  const otherId = (await api.call('users.get', { username: otherName })).user.id;
  return {
    api,
    other,
    userId: reg.user.id,
    serverId: server.id,
    channelId,
    groupId: group.id,
    messageId: message.id,
    otherId,
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Every free-text field: the request that sets it to `text`, the field's name, and the noun its errors use. */
const FIELDS: { field: string; what: string; send(s: Setup, text: string, n: number): Promise<unknown> }[] = [
  {
    field: 'params.body',
    what: 'message',
    send: (s, text, n) => s.api.call('messages.send', { conversationId: s.channelId, body: text, nonce: `n${n}` }),
  },
  {
    field: 'params.body',
    what: 'message',
    send: (s, text) => s.api.call('messages.edit', { messageId: s.messageId, body: text }),
  },
  {
    field: 'params.displayName',
    what: 'display name',
    send: (s, text) => s.api.call('profile.update', { displayName: text }),
  },
  { field: 'params.status', what: 'status', send: (s, text) => s.api.call('profile.update', { status: text }) },
  { field: 'params.bio', what: 'bio', send: (s, text) => s.api.call('profile.update', { bio: text }) },
  {
    field: 'params.name',
    what: 'server name',
    send: (s, text) => s.api.call('servers.update', { serverId: s.serverId, name: text }),
  },
  {
    field: 'params.description',
    what: 'description',
    send: (s, text) => s.api.call('servers.update', { serverId: s.serverId, description: text }),
  },
  {
    field: 'params.topic',
    what: 'topic',
    send: (s, text) => s.api.call('channels.update', { channelId: s.channelId, topic: text }),
  },
  {
    field: 'params.name',
    what: 'group name',
    send: (s, text) => s.api.call('groups.rename', { groupId: s.groupId, name: text }),
  },
  { field: 'params.name', what: 'token name', send: (s, text) => s.api.call('tokens.create', { name: text }) },
  {
    field: 'params.reason',
    what: 'ban reason',
    send: (s, text) => s.api.call('bans.add', { serverId: s.serverId, userId: s.otherId, reason: text }),
  },
  {
    field: 'params.client',
    what: 'client name',
    send: (_s, text) =>
      openApi(t, 'http').then((a) =>
        a.call('register', { username: uniqueName('client'), password: PASSWORD, client: text }),
      ),
  },
];

describe('format and invisible characters in free text', () => {
  for (const transport of TRANSPORTS) {
    test(`are refused in every free-text field, naming the character and its position (${transport})`, async () => {
      const s = await setup(transport);
      let n = 0;
      for (const { field, what, send } of FIELDS) {
        for (const [text, named, position] of [
          ['hello\u200bthere', 'U+200B ZERO WIDTH SPACE', 6],
          ['tag\u{e0041}', 'U+E0041 TAG "A"', 4],
          ['odd\u2066iso', 'U+2066 LEFT-TO-RIGHT ISOLATE', 4],
          ['\u3164', 'U+3164 HANGUL FILLER', 1],
        ] as const) {
          const err = await rejection(send(s, text, n++) as Promise<unknown>);
          assert.equal(err.code, 'bad_request', `${what}: ${JSON.stringify(text)}`);
          assert.equal(err.field, field, what);
          assert.ok(err.message.includes(`${what} contains`), err.message);
          assert.ok(err.message.includes(`(${named}) at position ${position}`), err.message);
        }
      }
      // Nothing of it was stored: the message and the profile are as they were.
      const history = await s.api.call('messages.history', { conversationId: s.channelId });
      assert.deepEqual(
        history.messages.map((m) => m.body),
        ['first'],
      );
      const me = await s.api.call('users.get', { userId: s.userId });
      assert.equal(me.user.displayName, null);
      s.api.close();
    });

    test(`keep emoji sequences, flags and the joiners of Persian and Hindi words (${transport})`, async () => {
      const s = await setup(transport);
      let n = 100;
      for (const { what, send } of FIELDS) {
        if (what === 'ban reason' || what === 'client name') continue;
        for (const text of ['👩‍💻 ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿', 'می‌خواهم', 'क्‍ष']) {
          await send(s, text, n++);
        }
      }
      const history = await s.api.call('messages.history', { conversationId: s.channelId });
      assert.ok(
        history.messages.some((m) => m.body === '👩‍💻 ❤️ 🏴󠁧󠁢󠁳󠁣󠁴󠁿'),
        'the emoji message is stored as sent',
      );
      const me = await s.api.call('users.get', { userId: s.userId });
      assert.equal(me.user.displayName, 'क्‍ष');
      s.api.close();
    });

    test(`line separators are refused in one-line fields (${transport})`, async () => {
      const s = await setup(transport);
      for (const { field, what, send } of FIELDS.filter((f) => ['status', 'topic', 'group name'].includes(f.what))) {
        const err = await rejection(send(s, 'one\u2028two', 0) as Promise<unknown>);
        assert.equal(err.field, field);
        // In words, with the field's path for programs in `field` only.
        assert.equal(
          err.message,
          `${what} must be one line: it contains a line break (U+2028 LINE SEPARATOR) at position 4`,
        );
      }
      s.api.close();
    });
  }
});

/** Sends `text` as one request over a raw connection (authenticated with `token`) and returns the reply. */
async function rawRequest(transport: TransportName, token: string, text: string, id: number): Promise<WireReply> {
  if (transport === 'http') {
    const op = /"op":"([^"]+)"/.exec(text)?.[1] ?? '';
    const params = text.slice(text.indexOf('"params":') + '"params":'.length, -1);
    return (await httpPost(t.httpUrl, op, null, token, params)).body;
  }
  const auth = `{"id":0,"op":"auth","params":{"token":${JSON.stringify(token)}}}`;
  if (transport === 'ws') {
    const ws = await RawWs.open(t.wsUrl);
    ws.send(auth);
    await ws.reply(0);
    ws.send(text);
    const r = await ws.reply(id);
    ws.close();
    return r;
  }
  const tcp = await RawTcp.open(t.tcpUrl);
  tcp.write(`${auth}\n`);
  await tcp.reply(0);
  tcp.write(`${text}\n`);
  const r = await tcp.reply(id);
  tcp.close();
  return r;
}

describe('lone surrogates', () => {
  for (const transport of TRANSPORTS) {
    test(`anywhere in a request are refused as bad_request naming the field, before anything is written (${transport})`, async () => {
      const http = await openApi(t, 'http');
      const reg = await http.call('register', { username: uniqueName('lone'), password: PASSWORD });
      const token = reg.token;
      const { channels } = await http.call('servers.create', { name: 'surrogates' });
      const channelId = channels[0]?.id ?? '';
      const cases: [string, string][] = [
        [
          `{"id":7,"op":"messages.send","params":{"conversationId":"${channelId}","body":"a\\ud800b","nonce":"s1"}}`,
          'params.body',
        ],
        [
          `{"id":7,"op":"messages.send","params":{"conversationId":"${channelId}","body":"end \\udfff","nonce":"s2"}}`,
          'params.body',
        ],
        [`{"id":7,"op":"profile.update","params":{"status":"\\ud83d"}}`, 'params.status'],
        [`{"id":7,"op":"groups.create","params":{"name":"g","usernames":["x\\udc00"]}}`, 'params.usernames[0]'],
      ];
      for (const [text, field] of cases) {
        const reply = await rawRequest(transport, token, text, 7);
        assert.equal(reply.error?.code, 'bad_request', `${field}: ${JSON.stringify(reply)}`);
        assert.equal(reply.error?.field, field);
        assert.match(
          reply.error?.message ?? '',
          /holds a lone surrogate \(U\+D[89A-F][0-9A-F]{2}\), which is not a character/,
        );
      }
      // A pair written as two escapes is one character, and fine.
      const ok = await rawRequest(
        transport,
        token,
        `{"id":8,"op":"messages.send","params":{"conversationId":"${channelId}","body":"pair \\ud83d\\ude00","nonce":"s3"}}`,
        8,
      );
      assert.ok(ok.result, JSON.stringify(ok));
      const history = await http.call('messages.history', { conversationId: channelId });
      assert.deepEqual(
        history.messages.map((m) => m.body),
        ['pair 😀'],
      );
      const me = await http.call('users.get', { userId: reg.user.id });
      assert.equal(me.user.status, null);
    });
  }
});
