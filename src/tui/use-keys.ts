import { useInput, useStdin } from 'ink';
import { useEffect, useState } from 'react';
import type { ChatIntents } from './intents.js';
import { splitKeys } from './key-chunks.js';
import { type Bindings, matchRawInput } from './keys.js';
import { parseMouse, withoutMouse } from './mouse.js';
import { PasteReader } from './paste.js';
import type { Store } from './store.js';

/**
 * Routes the terminal's keys to the chat's intents: each chunk Ink reads is
 * split into keys, a bracketed paste is handed over whole, and function keys, which Ink hands
 * to `useInput` as nothing at all, are read from the raw input.
 */
export function useKeys(intents: ChatIntents, store: Store, keys: Bindings): void {
  const { stdin } = useStdin();
  const [paste] = useState(() => new PasteReader());
  // Esc and an Alt chord right after it can come in one read (`ESC ESC 3`), which Ink reports as
  // an Esc and then a plain `3`: it is Esc, then Alt-3. The raw read says when (`chord`).
  const [alt] = useState(() => ({ chord: false, armed: false }));
  useInput((input, key) => {
    // A bracketed paste is put back together and handed over whole, line breaks and all.
    const step = paste.feed(input, key);
    if (step.kind === 'paste') intents.paste(step.text);
    if (step.kind !== 'key') return;
    if (alt.chord && key.escape) {
      intents.key('', key);
      alt.armed = true;
      return;
    }
    if (alt.armed) {
      alt.armed = false;
      if ([...input].length === 1 && !key.ctrl && !key.meta) {
        intents.key(input, { ...key, meta: true });
        return;
      }
    }
    // Mouse reports are read from the raw input below; here they are not keys.
    const keysOnly = withoutMouse(input);
    if (keysOnly === '' && input !== '') return;
    for (const part of splitKeys(keysOnly, key)) intents.key(part.input, part.key);
  });
  useEffect(() => {
    const onData = (data: Buffer | string) => {
      const text = data.toString();
      if (/\u001b\u001b[^\u001b[O]/.test(text)) {
        alt.chord = true;
        // Only the keys of this read are the chord's.
        setImmediate(() => {
          alt.chord = false;
          alt.armed = false;
        });
      }
      if (matchRawInput(text, keys) === 'help')
        store.dispatch({ type: 'overlay', overlay: { kind: 'help', offset: 0 } });
      for (const ev of parseMouse(text)) intents.mouse(ev);
    };
    stdin.on('data', onData);
    return () => {
      stdin.off('data', onData);
    };
  }, [stdin, store, keys, intents, alt]);
}
