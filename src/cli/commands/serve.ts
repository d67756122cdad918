import { Command, InvalidArgumentError, Option } from 'commander';
import { usageError } from '../util.js';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('expected a port number from 0 to 65535');
  return n;
}

function cost(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 4 || n > 31) throw new InvalidArgumentError('expected a bcrypt cost from 4 to 31');
  return n;
}

type ServeOptions = {
  host: string;
  port: number;
  tcpPort: number;
  data: string;
  bcryptCost: number;
  allowOrigin: string[];
  limits?: string;
  quiet?: boolean;
};

/** `natter serve`: run the server in the foreground until SIGINT/SIGTERM. */
export function serveCommand(): Command {
  return new Command('serve')
    .description('run the natter server (HTTP + WebSocket, and NDJSON over TCP)')
    .addOption(new Option('--host <host>', 'address to listen on').env('NATTER_HOST').default('127.0.0.1'))
    .addOption(
      new Option('--port <port>', 'HTTP and WebSocket port (0 = any free port)')
        .env('NATTER_PORT')
        .default(7777)
        .argParser(port),
    )
    .addOption(
      new Option('--tcp-port <port>', 'NDJSON-over-TCP port (0 disables TCP)')
        .env('NATTER_TCP_PORT')
        .default(7778)
        .argParser(port),
    )
    .addOption(new Option('--data <dir>', 'data directory (database lives here)').env('NATTER_DATA').default('./data'))
    .addOption(
      new Option('--bcrypt-cost <n>', 'bcrypt cost for new password hashes')
        .env('NATTER_BCRYPT_COST')
        .default(12)
        .argParser(cost),
    )
    .addOption(
      new Option('--allow-origin <origin...>', 'extra Origins allowed to open WebSockets (e.g. https://chat.example)')
        .env('NATTER_ALLOW_ORIGIN')
        .default([]),
    )
    .addOption(
      new Option(
        '--limits <file>',
        'JSON file of rate limits to change, e.g. {"sendPerUser": {"capacity": 20, "refillMs": 100}}',
      ).env('NATTER_LIMITS'),
    )
    .option('--quiet', 'do not log the start and stop lines')
    .action(async (opts: ServeOptions) => {
      const { startServer } = await import('../../server/server.js');
      const { parseLimits, defaultConfig } = await import('../../server/config.js');
      let limits = defaultConfig().limits;
      if (opts.limits) {
        const { readFileSync } = await import('node:fs');
        let text: string;
        try {
          text = readFileSync(opts.limits, 'utf8');
        } catch (err) {
          throw usageError(`cannot read --limits ${opts.limits}: ${(err as Error).message}`);
        }
        try {
          limits = { ...limits, ...parseLimits(text, opts.limits) };
        } catch (err) {
          throw usageError((err as Error).message);
        }
      }
      const server = await startServer({
        limits,
        host: opts.host,
        port: opts.port,
        tcpPort: opts.tcpPort === 0 ? null : opts.tcpPort,
        dataDir: opts.data,
        bcryptCost: opts.bcryptCost,
        allowedOrigins: typeof opts.allowOrigin === 'string' ? [opts.allowOrigin] : opts.allowOrigin,
        log: !opts.quiet,
      });
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          process.stderr.write(`natter: second ${signal}, exiting now\n`);
          process.exit(1);
        }
        server.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            process.stderr.write(`natter: shutdown failed: ${err instanceof Error ? err.message : String(err)}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
}
