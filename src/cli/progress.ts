import { formatBytes } from '../client/media.js';

// A progress line on stderr for a long upload or download: only on a
// terminal, and only for files large enough to take a moment, so scripts and
// pipes see no progress noise at all.

/** Files smaller than this go up and down without a progress line. */
export const PROGRESS_FROM_BYTES = 1024 * 1024;

/** The line is redrawn at most this often. */
const REDRAW_MS = 100;

export type Progress = {
  /** How many bytes of the file have gone (or come) so far. */
  update(done: number): void;
  /** Clears the line (the command then prints what it did). */
  end(): void;
};

const silent: Progress = { update() {}, end() {} };

/** `uploading photo.png  42%  4.2 MiB of 10 MiB` on stderr, when stderr is a terminal and the file is large. */
export function progress(verb: string, name: string, total: number): Progress {
  if (process.stderr.isTTY !== true || total < PROGRESS_FROM_BYTES) return silent;
  let drawn = 0;
  let shown = false;
  return {
    update(done) {
      const now = performance.now();
      if (done < total && now - drawn < REDRAW_MS) return;
      drawn = now;
      shown = true;
      const pct = Math.floor((done / total) * 100);
      process.stderr.write(`\r\x1b[2K${verb} ${name}  ${pct}%  ${formatBytes(done)} of ${formatBytes(total)}`);
    },
    end() {
      if (shown) process.stderr.write('\r\x1b[2K');
      shown = false;
    },
  };
}
