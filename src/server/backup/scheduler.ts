import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log.js';
import type { Lease } from '../store/port.js';
import { type BackupSource, listBackups, MANIFEST, makeBackup, pruneBackups, removePartials } from './backup-set.js';

/** `natter serve --backup-every --backup-keep --backup-dir`. */
export type BackupSettings = {
  /** Where backups are written (created 0700 when missing). */
  dir: string;
  /** Time between two backups. */
  everyMs: number;
  /** How many of the newest backups are kept; older ones natter made are deleted. */
  keep: number;
};

/** How one scheduled backup went. */
export type BackupOutcome = { ok: boolean; bytes?: number; durationMs: number; error?: string };

/**
 * Takes a backup every `everyMs` while the server runs, into `dir`, and
 * keeps the newest `keep`. The first is due `everyMs` after the newest
 * backup already in `dir` (at once when that is longer ago, or there is
 * none), so restarts neither skip nor repeat backups. On PostgreSQL only the
 * natter holding the `backup` lease takes them (one per cluster); the others
 * ask at each interval and take over when it goes. A failure (a full disk, a
 * directory removed) is logged and counted, leaves nothing half-written,
 * and the next run tries again; the server keeps serving.
 */
export class BackupScheduler {
  /** Backups taken and failed by this natter, when the last one succeeded (ms since the epoch) and its size. */
  readonly stats = {
    successes: 0,
    failures: 0,
    lastSuccessAt: null as number | null,
    lastBytes: null as number | null,
  };
  /** Hears the outcome of each backup this natter runs (for metrics). */
  onBackup: ((outcome: BackupOutcome) => void) | null = null;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Whether the log last said this natter takes the backups (PostgreSQL). */
  #said: boolean | null = null;

  constructor(
    private readonly settings: BackupSettings,
    private readonly source: BackupSource,
    private readonly lease: Lease,
    private readonly log: Logger,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Schedules the first backup. */
  start(): void {
    this.#firstDelay().then(
      (delay) => this.#schedule(delay),
      () => this.#schedule(0),
    );
  }

  /** Stops scheduling, waits for a backup under way and gives the lease up. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#running;
    await this.lease.release();
  }

  /** How long until the first backup is due, from the newest one in the directory. */
  async #firstDelay(): Promise<number> {
    const names = await listBackups(this.settings.dir);
    const newest = names.at(-1);
    if (newest === undefined) return 0;
    const manifest = JSON.parse(await readFile(join(this.settings.dir, newest, MANIFEST), 'utf8')) as {
      createdAt?: string;
    };
    const at = Date.parse(manifest.createdAt ?? '');
    if (!Number.isFinite(at)) return 0;
    return Math.max(0, Math.min(this.settings.everyMs, at + this.settings.everyMs - this.clock()));
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#running = this.#turn().finally(() => {
        this.#running = null;
        this.#schedule(this.settings.everyMs);
      });
    }, delay);
    this.#timer.unref();
  }

  async #turn(): Promise<void> {
    let holding: boolean;
    try {
      holding = await this.lease.hold();
    } catch {
      holding = false;
    }
    if (holding !== this.#said && this.source.database !== null) {
      this.#said = holding;
      this.log.info(
        holding
          ? `backups: this natter takes the scheduled backups into ${this.settings.dir}`
          : 'backups: another natter takes the scheduled backups',
      );
    }
    if (!holding || this.#stopped) return;
    await this.runOnce();
  }

  /** Takes one backup now and prunes old ones; never throws (a failure is logged, counted and reported). */
  async runOnce(): Promise<BackupOutcome> {
    const { dir, keep } = this.settings;
    const started = performance.now();
    let outcome: BackupOutcome;
    try {
      await removePartials(dir);
      const result = await makeBackup(this.source, dir, this.clock());
      const pruned = await pruneBackups(dir, keep);
      const m = result.manifest;
      this.stats.successes++;
      this.stats.lastSuccessAt = this.clock();
      this.stats.lastBytes = m.bytes;
      outcome = { ok: true, bytes: m.bytes, durationMs: result.durationMs };
      this.log.info(
        `backup ${result.path}: ${Math.ceil(m.bytes / 1024)} KiB, ${m.blobs} file(s), in ${(result.durationMs / 1000).toFixed(1)} s` +
          (pruned.length > 0 ? `; removed ${pruned.length} older backup(s)` : ''),
      );
      if (m.missingBlobs.length > 0) {
        this.log.warn(
          `backup ${result.path}: ${m.missingBlobs.length} file(s) named by the database were already gone from ${this.source.mediaDir} (deleted since the snapshot)`,
        );
      }
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.stats.failures++;
      outcome = { ok: false, durationMs: performance.now() - started, error };
      this.log.error(`backup into ${dir} failed (the next is tried in ${this.settings.everyMs / 1000} s)`, err);
    }
    try {
      this.onBackup?.(outcome);
    } catch (err) {
      this.log.error('reporting a backup', err);
    }
    return outcome;
  }
}
