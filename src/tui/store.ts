import { reduce } from './reducer.js';
import type { Action, State } from './state.js';

/**
 * The one place the app's state lives: the reducer plus subscribers (React
 * reads it with useSyncExternalStore). Actions dispatched in one go (the
 * events of one packet, a reply and what it causes) reach subscribers as one
 * change, once the code that dispatched them is done: each change React hears
 * of is a render of the whole screen.
 */
export class Store {
  private listeners = new Set<() => void>();
  private notifying = false;

  constructor(public state: State) {}

  readonly dispatch = (action: Action): void => {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    if (this.notifying) return;
    this.notifying = true;
    queueMicrotask(() => {
      this.notifying = false;
      for (const fn of this.listeners) fn();
    });
  };

  readonly subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  readonly get = (): State => this.state;
}
