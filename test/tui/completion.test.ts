import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { COMMANDS } from '../../src/tui/commands.js';
import { type CompletionCandidates, complete } from '../../src/tui/completion.js';

const candidates: CompletionCandidates = {
  usernames: ['Bob', 'bobby', 'alice', 'BOB'],
  channels: ['general', 'dev-talk', '#devops'],
  commands: COMMANDS.map((c) => c.name),
};

describe('complete', () => {
  test('@user prefixes, case-insensitively, with a trailing space', () => {
    assert.deepEqual(complete('hi @al', true, candidates, 0), { text: 'hi @alice ', candidates: ['alice'], index: 0 });
    assert.deepEqual(complete('@BO', true, candidates, 0), {
      text: '@Bob ',
      candidates: ['Bob', 'bobby'],
      index: 0,
    });
  });

  test('repeated Tab cycles through the matches and wraps; negative steps back', () => {
    assert.equal(complete('hi @b', true, candidates, 1)?.text, 'hi @bobby ');
    assert.equal(complete('hi @b', true, candidates, 2)?.text, 'hi @Bob ');
    assert.equal(complete('hi @b', true, candidates, -1)?.text, 'hi @bobby ');
    assert.equal(complete('hi @b', true, candidates, 3)?.index, 1);
  });

  test('a bare @ offers everyone', () => {
    assert.deepEqual(complete('@', true, candidates, 0)?.candidates, ['Bob', 'bobby', 'alice']);
  });

  test('#channel, with or without a # in the candidates', () => {
    assert.deepEqual(complete('see #dev', true, candidates, 0), {
      text: 'see #dev-talk ',
      candidates: ['dev-talk', 'devops'],
      index: 0,
    });
    assert.equal(complete('see #GEN', true, candidates, 0)?.text, 'see #general ');
  });

  test('/command only at the very start', () => {
    assert.deepEqual(complete('/jo', true, candidates, 0), { text: '/join ', candidates: ['join'], index: 0 });
    assert.deepEqual(complete('/c', true, candidates, 0)?.candidates, ['create-server', 'channel']);
    assert.equal(complete('say /jo', true, candidates, 0), null);
    assert.equal(complete('//jo', true, candidates, 0), null);
  });

  test("usernames without @ in a command's USER arguments", () => {
    assert.equal(complete('/kick al', true, candidates, 0)?.text, '/kick alice ');
    assert.equal(complete('/dm ', true, candidates, 0)?.text, '/dm Bob ');
    assert.equal(complete('/group climbing al', true, candidates, 0)?.text, '/group climbing alice ');
    assert.equal(complete('/add bob al', true, candidates, 0)?.text, '/add bob alice ');
    assert.equal(complete('/group al', true, candidates, 0), null, 'the group name is not a user');
    assert.equal(complete('/ban bob al', true, candidates, 0), null, 'the reason is not a user');
    assert.equal(complete('/status al', true, candidates, 0), null);
  });

  test('a name without @, as in weechat: the first word of a message gets ": ", another a space; Tab cycles', () => {
    assert.deepEqual(complete('al', true, candidates, 0), { text: 'alice: ', candidates: ['alice'], index: 0 });
    assert.equal(complete('hello al', true, candidates, 0)?.text, 'hello alice ');
    assert.equal(complete('line one\nal', true, candidates, 0)?.text, 'line one\nalice ');
    assert.equal(complete('hello xyz', true, candidates, 0), null, 'no match');
  });

  test('nothing to complete', () => {
    assert.equal(complete('hi @zed', true, candidates, 0), null, 'no match');
    assert.equal(complete('hi @al', false, candidates, 0), null, 'cursor not at the end');
    assert.equal(complete('hi @al ', true, candidates, 0), null, 'after a space');
    assert.equal(complete('', true, candidates, 0), null);
  });

  test('multi-line text keeps everything before the word', () => {
    assert.equal(complete('line one\n@ali', true, candidates, 0)?.text, 'line one\n@alice ');
  });
});
