import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertEvent, check } from '../helpers/contract.js';
import { DEADLINE_MS, waitUntil, within } from '../helpers/wait.js';

// Runs the built CLI (bin/natter -> dist/, which `npm test` builds first) as a subprocess.

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = join(ROOT, 'bin', 'natter');

const dirs: string[] = [];

export function tempDir(prefix = 'natter-cli-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** The environment without any NATTER_* setting of the caller's. */
export function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NATTER_')) env[k] = v;
  return { ...env, ...extra };
}

export type Result = { code: number | null; stdout: string; stderr: string };

/**
 * Runs `natter args...` with `env`, feeding `input` on stdin (in `cwd` when
 * given); never throws on a non-zero exit. A command still running at the
 * deadline is killed and the call fails, saying which command hung.
 */
export async function natter(args: string[], env: Record<string, string>, input = '', cwd?: string): Promise<Result> {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: cleanEnv(env),
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(cwd === undefined ? {} : { cwd }),
  });
  let stdout = '';
  let stderr = '';
  const done = new Promise<Result>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
  try {
    return await within(
      done,
      `natter ${args.join(' ')} to exit`,
      DEADLINE_MS,
      () => `stdout: ${stdout}\nstderr: ${stderr}`,
    );
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** A long-running `natter listen`: its stdout lines as they come. */
export class Listener {
  readonly lines: string[] = [];
  stderr = '';
  private out = '';
  private waiters: (() => void)[] = [];
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (c: string) => {
      this.out += c;
      let nl = this.out.indexOf('\n');
      while (nl !== -1) {
        const line = this.out.slice(0, nl);
        // --json prints each event as received, with the conversation's name added as `target`
        // (and, on a fatal error, an error document, which is the CLI's and not an event).
        if (line.startsWith('{"event":')) check(() => assertEvent(JSON.parse(line), ['target']));
        this.lines.push(line);
        this.out = this.out.slice(nl + 1);
        nl = this.out.indexOf('\n');
      }
      this.wake();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (c: string) => {
      this.stderr += c;
      this.wake();
    });
    this.exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  }

  static async start(args: string[], env: Record<string, string>, label = 'listen'): Promise<Listener> {
    const child = spawn(process.execPath, [BIN, 'listen', ...args], {
      env: cleanEnv(env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const l = new Listener(child, label);
    await l.until(() => /listening on/.test(l.stderr), 'the listening line');
    return l;
  }

  /** Parsed NDJSON lines. */
  get events(): { event: string; data: Record<string, unknown>; cursor?: string; target?: string }[] {
    return this.lines.map((l) => JSON.parse(l) as never);
  }

  /** Waits until `check` holds, re-checking on every output. */
  async until(check: () => boolean, what: string, timeoutMs = DEADLINE_MS): Promise<void> {
    await waitUntil(
      () => (check() ? true : undefined),
      (wake) => this.waiters.push(wake),
      {
        what: `${what} (${this.label})`,
        timeoutMs,
        detail: () => `stdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`,
      },
    );
  }

  /** Waits for a JSON event line that matches. */
  async event(
    pred: (e: { event: string; data: Record<string, unknown>; cursor?: string; target?: string }) => boolean,
    what: string,
  ) {
    await this.until(() => this.events.some(pred), what);
    return this.events.find(pred);
  }

  /** Stops it with SIGINT; resolves with its exit code. */
  async stop(): Promise<number | null> {
    this.child.kill('SIGINT');
    return this.exitCode();
  }

  /** Its exit code, once it exits. */
  exitCode(): Promise<number | null> {
    return within(this.exited, `${this.label} to exit`, DEADLINE_MS, () => `stderr:\n${this.stderr}`);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
