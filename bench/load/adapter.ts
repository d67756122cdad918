/** What the load generator needs from each protocol. */

/** One connected, joined client. */
export interface BenchClient {
  /** Sends one body to the client's room (never waits for an acknowledgement). */
  send(body: string): void;
  close(): void;
}

export interface Adapter {
  readonly name: string;
  /**
   * Connects client `i` as a member of `room` and resolves once it receives
   * the room's messages; `onBody` is called with each message body delivered.
   */
  open(i: number, room: number, onBody: (body: string) => void): Promise<BenchClient>;
  /** Connects client `i` with its saved credential and stops once authenticated: a reconnect. */
  reconnect(i: number): Promise<void>;
  /** Logs client `i` in with its password on a new connection, then closes (natter only). */
  login?(i: number): Promise<void>;
  /** Asks for a page of history in `room`: the latest, or before `beforeSeq`; resolves with the oldest seq (natter only). */
  history?(i: number, room: number, beforeSeq?: number): Promise<number>;
  /** Uploads `bytes` as client `i`: an upload slot, then the bytes over HTTP (natter only). */
  upload?(i: number, bytes: Buffer): Promise<void>;
}
