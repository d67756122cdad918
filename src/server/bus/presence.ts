/**
 * Who is online across the cluster: this node's users and each other node's,
 * counted per user, so that a user online on two nodes goes offline only
 * when the last of them lets go. `onChange` hears the transitions of the
 * whole: offline everywhere to online somewhere, and back.
 */
export class ClusterPresence {
  private readonly local = new Set<string>();
  private readonly remote = new Map<string, Set<string>>();
  /** Per user, how many nodes (this one included) hold them online. */
  private readonly counts = new Map<string, number>();

  constructor(private readonly onChange: (userId: string, online: boolean) => void) {}

  /** This node's users online. */
  localUsers(): string[] {
    return [...this.local];
  }

  /** Online on any node? */
  isOnline(userId: string): boolean {
    return this.counts.has(userId);
  }

  /** Everyone online on any node. */
  users(): IterableIterator<string> {
    return this.counts.keys();
  }

  /** This node's count of present connections for `userId` went 0 -> 1 (true) or 1 -> 0 (false). */
  setLocal(userId: string, online: boolean): void {
    this.toggle(this.local, userId, online);
  }

  /** Another node says a user came online there or left it. */
  setRemote(node: string, userId: string, online: boolean): void {
    let set = this.remote.get(node);
    if (!set) {
      if (!online) return;
      set = new Set();
      this.remote.set(node, set);
    }
    this.toggle(set, userId, online);
  }

  /** Another node's complete list of its online users (from its heartbeat). */
  replaceRemote(node: string, users: Iterable<string>): void {
    const before = this.remote.get(node) ?? new Set<string>();
    const now = new Set(users);
    this.remote.set(node, now);
    for (const userId of now) if (!before.has(userId)) this.up(userId);
    for (const userId of before) if (!now.has(userId)) this.down(userId);
  }

  /** Forgets a node (gone silent, or said goodbye); returns how many users it held. */
  dropNode(node: string): number {
    const set = this.remote.get(node);
    if (!set) return 0;
    this.remote.delete(node);
    for (const userId of set) this.down(userId);
    return set.size;
  }

  private toggle(set: Set<string>, userId: string, online: boolean): void {
    if (online) {
      if (set.has(userId)) return;
      set.add(userId);
      this.up(userId);
    } else if (set.delete(userId)) {
      this.down(userId);
    }
  }

  private up(userId: string): void {
    const n = this.counts.get(userId) ?? 0;
    this.counts.set(userId, n + 1);
    if (n === 0) this.onChange(userId, true);
  }

  private down(userId: string): void {
    const n = this.counts.get(userId) ?? 0;
    if (n > 1) {
      this.counts.set(userId, n - 1);
      return;
    }
    this.counts.delete(userId);
    if (n === 1) this.onChange(userId, false);
  }
}
