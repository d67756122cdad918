import { useInput, useStdin } from 'ink';
import { useEffect } from 'react';
import type { ChatIntents } from './intents.js';
import { splitKeys } from './key-chunks.js';
import { type Bindings, matchRawInput } from './keys.js';
import type { Store } from './store.js';

/**
 * Routes the terminal's keys to the chat's intents: each chunk Ink reads is
 * split into keys (a paste stays whole), and function keys, which Ink hands
 * to `useInput` as nothing at all, are read from the raw input.
 */
export function useKeys(intents: ChatIntents, store: Store, keys: Bindings): void {
  const { stdin } = useStdin();
  useInput((input, key) => {
    for (const part of splitKeys(input, key)) intents.key(part.input, part.key);
  });
  useEffect(() => {
    const onData = (data: Buffer | string) => {
      if (matchRawInput(data.toString(), keys) === 'help')
        store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
    };
    stdin.on('data', onData);
    return () => {
      stdin.off('data', onData);
    };
  }, [stdin, store, keys]);
}
