import { distinctNames, type Named, SHOWN_MARK } from '../../client/names.js';
import type { State } from '../state.js';

/** My servers, as id and name. */
export function serverList(state: Pick<State, 'servers'>): Named[] {
  return Object.values(state.servers).map((s) => ({ id: s.id, name: s.name }));
}

/** My groups, as id and name. */
export function groupList(state: Pick<State, 'conversations'>): Named[] {
  return Object.values(state.conversations)
    .filter((c) => c.kind === 'group')
    .map((c) => ({ id: c.id, name: c.name }));
}

/**
 * How each of my servers and groups is named on screen, by id: its name, and
 * when another of mine has the same name, `·` and the start of its id
 * (`acme·2f9k`), as the sidebar shows it and commands take it.
 */
export function shownNames(state: Pick<State, 'servers' | 'conversations'>): Map<string, string> {
  return new Map([...distinctNames(serverList(state), SHOWN_MARK), ...distinctNames(groupList(state), SHOWN_MARK)]);
}
