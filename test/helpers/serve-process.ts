import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// `natter serve` as a child process (the built bin/natter, which `npm test` builds
// first): for what only a process shows, such as its umask, signals and exit code.

const BIN = fileURLToPath(new URL('../../bin/natter', import.meta.url));

/** The environment without any NATTER_* setting of the caller's, plus `extra`. */
function envWith(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('NATTER_')) env[k] = v;
  return { ...env, ...extra };
}

export class ServeProcess {
  stderr = '';
  private waiters: (() => void)[] = [];
  exitCode: number | null | undefined = undefined;
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.wake();
    });
    child.stdout?.resume();
    this.exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.exitCode = code;
        this.wake();
        resolve(code);
      });
    });
  }

  /**
   * Runs `natter serve args...` (with `umask` set first when given). Does not
   * wait for anything: see {@link listening} and {@link exit}.
   */
  static spawn(args: string[], options: { env?: Record<string, string>; umask?: string } = {}): ServeProcess {
    const env = envWith({ NATTER_BCRYPT_COST: '4', ...options.env });
    const argv = [process.execPath, BIN, 'serve', ...args];
    const child =
      options.umask === undefined
        ? spawn(argv[0] ?? '', argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('sh', ['-c', `umask ${options.umask} && exec "$@"`, 'sh', ...argv], {
            env,
            stdio: ['ignore', 'pipe', 'pipe'],
          });
    return new ServeProcess(child);
  }

  /** Waits for the start line; returns the ports it names. */
  async listening(timeoutMs = 15_000): Promise<{ port: number; tcpPort: number | null }> {
    const re = /listening on https?:\/\/[^\s]+:(\d+) .*?(?:TCP off|tcp:\/\/[^\s]+:(\d+)|tls:\/\/[^\s]+:(\d+))/;
    await this.until(() => re.test(this.stderr), 'the listening line', timeoutMs);
    const m = re.exec(this.stderr);
    const tcp = m?.[2] ?? m?.[3];
    return { port: Number(m?.[1]), tcpPort: tcp === undefined ? null : Number(tcp) };
  }

  /** Waits for the process to exit; returns its exit code. */
  async exit(timeoutMs = 15_000): Promise<number | null> {
    await this.until(() => this.exitCode !== undefined, 'the process to exit', timeoutMs);
    return this.exitCode ?? null;
  }

  /** Waits until stderr matches `re`. */
  async logged(re: RegExp, timeoutMs = 15_000): Promise<void> {
    await this.until(() => re.test(this.stderr), `a log line matching ${re}`, timeoutMs);
  }

  /** SIGTERM, then waits for the exit. */
  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) this.child.kill('SIGTERM');
    return this.exit();
  }

  /** Ends the process at once, whatever its state (for cleanup after a failure). */
  kill(): void {
    if (this.exitCode === undefined) this.child.kill('SIGKILL');
  }

  private until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`natter serve: timed out waiting for ${what}; stderr:\n${this.stderr}`));
      }, timeoutMs);
      const attempt = () => {
        if (check()) {
          clearTimeout(timer);
          resolve();
        } else if (this.exitCode !== undefined) {
          clearTimeout(timer);
          reject(new Error(`natter serve exited (${this.exitCode}) before ${what}; stderr:\n${this.stderr}`));
        } else {
          this.waiters.push(attempt);
        }
      };
      attempt();
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
