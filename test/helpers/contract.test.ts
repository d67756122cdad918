import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertEvent, assertFrame, assertReply, ContractError } from './contract.js';

// The checker every test client runs on what it receives: it must catch drift, or the suite proves nothing.

const user = { id: 'u1', username: 'alice', displayName: null, status: null, bio: null, createdAt: 1 };

function refused(fn: () => void, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ContractError, String(err));
    for (const f of fragments) assert.ok(err.message.includes(f), `"${f}" in: ${err.message}`);
    return true;
  });
}

describe('replies', () => {
  test('a result that matches its operation passes; so does an error body', () => {
    assertReply('ping', { id: 1, result: { now: 5 } });
    assertReply('whoami', { id: 'a', result: { user, session: null, botToken: null } });
    assertReply('ping', { id: 2, error: { code: 'rate_limited', message: 'slow down', retryAfterMs: 10 } });
    assertReply(undefined, { id: null, error: { code: 'bad_json', message: 'not valid JSON' } });
  });

  test('a missing or mistyped field is named with its path and the operation', () => {
    refused(() => assertReply('ping', { id: 1, result: {} }), 'the reply to "ping"', 'result.now');
    refused(
      () =>
        assertReply('whoami', {
          id: 1,
          result: { user: { ...user, createdAt: 'yesterday' }, session: null, botToken: null },
        }),
      'result.user.createdAt',
    );
  });

  test('a field the schema does not declare is drift too', () => {
    refused(() => assertReply('ping', { id: 1, result: { now: 5, uptime: 3 } }), 'result.uptime: not declared');
    refused(
      () =>
        assertReply('whoami', {
          id: 1,
          result: { user: { ...user, phone: '555 0100' }, session: null, botToken: null },
        }),
      'result.user.phone',
    );
    refused(() => assertReply('ping', { id: 1, result: { now: 5 }, extra: true }), 'extra: not a reply field');
  });

  test('error codes outside the closed set, and replies with both or neither of result and error, are refused', () => {
    refused(() => assertReply('ping', { id: 1, error: { code: 'oops', message: 'x' } }), 'error.code');
    refused(
      () => assertReply('ping', { id: 1, result: { now: 5 }, error: { code: 'internal', message: 'x' } }),
      'exactly one',
    );
    refused(() => assertReply('ping', { id: 1 }), 'exactly one');
    refused(() => assertReply('ping', { result: { now: 5 } }), 'id: missing');
  });
});

describe('events', () => {
  const message = {
    id: 'm1',
    conversationId: 'c1',
    seq: 1,
    author: { id: 'u1', username: 'alice', displayName: null },
    bot: false,
    kind: 'text',
    body: 'hi',
    createdAt: 1,
    editedAt: null,
    deletedAt: null,
    nonce: null,
    mentions: [],
  };

  test('a stream event with its cursor and an ephemeral one without pass', () => {
    assertEvent({ event: 'message.created', data: { message }, cursor: '12' });
    assertEvent({ event: 'presence', data: { userId: 'u1', online: true } });
  });

  test('an unknown event, bad data, a missing cursor or a cursor on an ephemeral event is named', () => {
    refused(() => assertEvent({ event: 'message.pinned', data: {} }), 'message.pinned', 'not an event');
    refused(
      () => assertEvent({ event: 'message.created', data: { message: { ...message, seq: -1 } }, cursor: '1' }),
      'event "message.created"',
      'data.message.seq',
    );
    refused(() => assertEvent({ event: 'message.created', data: { message } }), 'cursor: a stream event');
    refused(
      () => assertEvent({ event: 'presence', data: { userId: 'u1', online: true }, cursor: '3' }),
      'carries none',
    );
    refused(() => assertEvent({ event: 'presence', data: { userId: 'u1', online: true, away: true } }), 'data.away');
  });

  test('fields a tool adds are allowed only when named', () => {
    const listened = { event: 'presence', data: { userId: 'u1', online: false }, target: 'acme/general' };
    refused(() => assertEvent(listened), 'target: not an event field');
    assertEvent(listened, ['target']);
  });

  test('a frame is an event or a reply to the op its id was sent with', () => {
    const ops = (id: unknown) => (id === 7 ? 'ping' : undefined);
    assertFrame({ event: 'presence', data: { userId: 'u1', online: true } }, ops);
    assertFrame({ id: 7, result: { now: 1 } }, ops);
    refused(() => assertFrame({ id: 7, result: { when: 1 } }, ops), 'the reply to "ping"', 'result.now');
  });
});
