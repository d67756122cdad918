import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import { saveCredential } from '../../src/cli/util.js';
import { waitFor, within } from './wait.js';

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));
/** The terminal the end-to-end tests draw in. */
export const COLS = 120;
export const ROWS = 40;

/**
 * The real `natter tui` in a pseudo-terminal (util-linux `script` provides
 * it), its output fed to a headless terminal emulator so the test reads the
 * screen as a person would see it.
 */
export class Screen {
  private readonly term = new xterm.Terminal({ cols: COLS, rows: ROWS, allowProposedApi: true });
  private readonly child: ChildProcess;
  private pending = Promise.resolve();
  /** Everything the app wrote, as written. */
  readonly output: Buffer[] = [];

  constructor(env: Record<string, string>) {
    this.child = spawn('script', ['-qfec', `stty cols ${COLS} rows ${ROWS}; exec ${BIN} tui`, '/dev/null'], {
      env: { ...process.env, TERM: 'xterm-256color', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.output.push(chunk);
      this.pending = this.pending.then(() => new Promise<void>((r) => this.term.write(chunk, r)));
    });
  }

  /** The screen's text, one string per row. */
  async text(): Promise<string> {
    await this.pending;
    const buf = this.term.buffer.active;
    const rows: string[] = [];
    for (let i = 0; i < ROWS; i++) rows.push(buf.getLine(buf.viewportY + i)?.translateToString(true) ?? '');
    return rows.join('\n');
  }

  /** The cells drawn in inverse video (the composer's cursor), with where they are and whether any cell has a colour. */
  async styles(): Promise<{ inverse: { row: number; col: number; char: string }[]; coloured: number }> {
    await this.pending;
    const buf = this.term.buffer.active;
    const inverse: { row: number; col: number; char: string }[] = [];
    let coloured = 0;
    for (let row = 0; row < ROWS; row++) {
      const line = buf.getLine(buf.viewportY + row);
      for (let col = 0; col < COLS; col++) {
        const cell = line?.getCell(col);
        if (!cell) continue;
        if (cell.isInverse()) inverse.push({ row, col, char: cell.getChars() || ' ' });
        if (!cell.isFgDefault() || !cell.isBgDefault()) coloured++;
      }
    }
    return { inverse, coloured };
  }

  /** Waits until the screen matches `expected` (a pattern, or a test of the whole screen); resolves with it. */
  async waitFor(expected: RegExp | ((screen: string) => boolean), what: string): Promise<string> {
    const matches = typeof expected === 'function' ? expected : (s: string) => expected.test(s);
    let last = '';
    return waitFor(
      async () => {
        last = await this.text();
        return matches(last) ? last : undefined;
      },
      { what, intervalMs: 50, detail: () => `the screen was:\n${last}` },
    );
  }

  /**
   * Types `keys`, then waits until the screen shows their effect (`expected`), as a person
   * would before typing on: the next keys never arrive before the app has taken these.
   */
  async type(keys: string, expected: RegExp | ((screen: string) => boolean), what: string): Promise<string> {
    this.child.stdin?.write(keys);
    return this.waitFor(expected, what);
  }

  /** Bytes written so far. */
  get bytes(): number {
    return this.output.reduce((n, b) => n + b.length, 0);
  }

  /** Ctrl-C; resolves with the exit code (the app is killed if it does not exit by the deadline). */
  async quit(): Promise<number | null> {
    const exited = new Promise<number | null>((resolve) => this.child.on('exit', (code) => resolve(code)));
    this.child.stdin?.write('\u0003');
    try {
      return await within(exited, 'the terminal app to exit on Ctrl-C');
    } catch (err) {
      this.child.kill('SIGKILL');
      throw err;
    }
  }
}

/** A registration's or login's reply: the parts a saved login keeps. */
export type Registered = { token: string; user: { id: string; username: string }; session: { id: string } };

/** Saves `reg`'s session for `url` in the config directory `home`, as logging in does: the app starts on the chat. */
export function saveLogin(home: string, url: string, reg: Registered): string {
  saveCredential(home, url, {
    token: reg.token,
    username: reg.user.username,
    userId: reg.user.id,
    sessionId: reg.session.id,
    savedAt: Date.now(),
  });
  return home;
}
