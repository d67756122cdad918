import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { z } from 'zod';
import { AuditAction, OP_NAMES, type OpName, operations, paramsError, parseRequest } from '../../src/protocol/index.js';
import { PROTOCOL_INTERNALS, SCHEMA_WORDING } from '../helpers/words.js';

function refusal(op: string, params: unknown) {
  const r = parseRequest({ id: 1, op, params });
  assert.ok(!r.ok, `${op} ${JSON.stringify(params).slice(0, 80)} should be refused`);
  return r.error;
}

describe('schema problems in words', () => {
  test('a bound names the field and the bound: number of uses, lengths, page sizes', () => {
    const e = refusal('invites.create', { serverId: 'abc', maxUses: 100_000_000 });
    assert.equal(e.message, 'number of uses must be at most 100000');
    assert.equal(e.field, 'params.maxUses', 'the path stays, for programs');
    assert.equal(
      refusal('invites.create', { serverId: 'abc', expiresInSeconds: 5 }).message,
      'lifetime of the invite, in seconds, must be at least 60',
    );
    assert.equal(
      refusal('messages.history', { conversationId: 'c', limit: 500 }).message,
      'number of items asked for must be at most 100',
    );
    assert.equal(refusal('login', { username: '', password: 'x' }).message, 'username must not be empty');
    assert.equal(refusal('hello', { protocol: 0 }).message, 'protocol version must be more than 0');
    assert.equal(
      refusal('groups.create', { name: 'g', usernames: Array(60).fill('ann') }).message,
      'list of usernames must hold at most 50 items',
    );
    assert.equal(
      refusal('groups.create', { name: 'g', usernames: ['ann', ''] }).message,
      'a username in the list must not be empty',
    );
  });

  test('a missing field, one of the wrong kind, a choice, an unknown field', () => {
    assert.equal(refusal('invites.create', {}).message, 'server id is missing');
    assert.equal(
      refusal('invites.create', { serverId: 'abc', maxUses: '3' }).message,
      'number of uses must be a number',
    );
    assert.equal(
      refusal('invites.create', { serverId: 'abc', maxUses: 1.5 }).message,
      'number of uses must be a whole number',
    );
    assert.equal(
      refusal('members.role', { serverId: 'a', userId: 'b', role: 'boss' }).message,
      'role must be "admin", "moderator" or "member"',
    );
    assert.equal(
      refusal('settings.update', { groupAdds: 'nobody' }).message,
      'who may add you to groups must be "everyone", "contacts" or "invite"',
    );
    assert.equal(refusal('auth', { token: 'abc', presence: 'yes' }).message, 'presence must be true or false');
    const unknown = refusal('ping', { colour: 'red' });
    assert.equal(unknown.message, 'unknown field "colour" in the parameters ("params")');
    assert.equal(unknown.field, 'params.colour');
    assert.equal(
      refusal('invites.create', { serverId: 'a b' }).message,
      'server id is not an id: ids hold only letters, digits, "_" and "-"',
    );
    // The envelope's own fields, for those who write requests by hand.
    const r = parseRequest({ id: 1 });
    assert.ok(!r.ok);
    assert.equal(r.error.message, 'the operation ("op") is missing');
  });

  test('natter’s own rules keep their words; a password’s subject is the field it was given in', () => {
    assert.equal(
      refusal('servers.create', { name: 'x'.repeat(65) }).message,
      'server name must be at most 64 characters',
    );
    assert.equal(refusal('servers.create', { name: ' ' }).message, 'server name must not be empty');
    assert.equal(
      refusal('groups.create', { name: 'g'.repeat(65), usernames: ['ann'] }).message.startsWith('group name '),
      true,
    );
    assert.equal(
      refusal('channels.create', { serverId: 'a', name: 'c'.repeat(40) }).message,
      'channel name must be 1 to 32 characters',
    );
    assert.equal(
      refusal('messages.send', { conversationId: 'c', body: 'm'.repeat(4001), nonce: 'n' }).message,
      'message must be at most 4000 characters',
    );
    assert.equal(
      refusal('messages.send', { conversationId: 'c', body: '  ', nonce: 'n' }).message,
      'message must not be empty',
    );
    assert.equal(
      refusal('register', { username: 'ann', password: 'short' }).message,
      'password must be at least 8 characters',
    );
    assert.equal(
      refusal('password.change', { currentPassword: 'whatever it is', newPassword: 'short' }).message,
      'new password must be at least 8 characters',
    );
  });

  test('a lone surrogate is reported on the field, in words', () => {
    const r = parseRequest(
      JSON.parse('{"id":1,"op":"messages.send","params":{"conversationId":"c","body":"a\\ud800","nonce":"n"}}'),
    );
    assert.ok(!r.ok);
    assert.equal(r.error.field, 'params.body');
    assert.match(r.error.message, /^message holds a lone surrogate \(U\+D800\)/);
  });

  test('paramsError checks as the server does, for clients to refuse before a round trip', () => {
    assert.equal(paramsError('servers.create', { name: 'acme' }), null);
    const e = paramsError('invites.create', { serverId: 'abc', maxUses: 0 });
    assert.equal(e?.code, 'bad_request');
    assert.equal(e?.message, 'number of uses must be at least 1');
    assert.equal(e?.field, 'params.maxUses');
  });
});

/** The object shapes an operation's params may take (a union has several). */
function shapes(schema: z.ZodType): Record<string, z.ZodType>[] {
  if (schema instanceof z.ZodObject) return [schema.shape as Record<string, z.ZodType>];
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap(shapes);
  return [];
}

/** Values of the wrong kind or out of bounds for any field. */
const BAD_VALUES: unknown[] = [12345, 'text', '', 'x'.repeat(5000), 1e15, -1, 1.5, {}, [], [''], true, null];
/** Values one of which fits each field, to hold the other fields valid while one is bad. */
const GOOD_VALUES: unknown[] = ['abc', 'correct horse battery', 1, true, ['ann'], 'admin', 'everyone'];

/** A value `shape`'s `key` takes, or undefined. */
function goodValue(shape: Record<string, z.ZodType>, key: string): unknown {
  return GOOD_VALUES.find((v) => shape[key]?.safeParse(v).success);
}

test('every operation, every field, every kind of bad value: the message has no operation name, field path or schema wording', () => {
  let refused = 0;
  for (const op of OP_NAMES) {
    const cases: unknown[] = [{ unexpected: 1 }, 'not an object', {}];
    for (const shape of shapes(operations[op as OpName].params)) {
      const valid: Record<string, unknown> = {};
      for (const key of Object.keys(shape)) valid[key] = goodValue(shape, key);
      cases.push({ ...valid, unexpected: 1 });
      for (const key of Object.keys(shape)) {
        const { [key]: _, ...others } = valid;
        cases.push(others);
        for (const v of BAD_VALUES) cases.push({ ...valid, [key]: v });
      }
    }
    for (const params of cases) {
      const r = parseRequest({ id: 1, op, params });
      if (r.ok) continue;
      refused++;
      const what = `${op} ${JSON.stringify(params).slice(0, 60)}: "${r.error.message}"`;
      // The audit log's actions are values people type (`natter audit acme --action member.kick`), not operations.
      const text = r.error.message.replace(/"([a-z]+\.[a-z]+)"/g, (m, name: string) =>
        (AuditAction.options as readonly string[]).includes(name) ? '"an action"' : m,
      );
      assert.doesNotMatch(text, PROTOCOL_INTERNALS, what);
      assert.doesNotMatch(r.error.message, SCHEMA_WORDING, what);
      assert.ok(r.error.message.length > 0, what);
    }
  }
  assert.ok(refused > 1000, `a good many refusals checked (${refused})`);
});
