import { reduce } from './reducer.js';
import type { Action, State } from './state.js';

/** The one place the app's state lives: the reducer plus subscribers (React reads it with useSyncExternalStore). */
export class Store {
  private listeners = new Set<() => void>();

  constructor(public state: State) {}

  readonly dispatch = (action: Action): void => {
    const next = reduce(this.state, action);
    if (next === this.state) return;
    this.state = next;
    for (const fn of this.listeners) fn();
  };

  readonly subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  readonly get = (): State => this.state;
}
