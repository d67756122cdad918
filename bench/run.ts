/**
 * Runs one benchmark workload against natter and its peers, side by side.
 *
 *   node --import tsx bench/run.ts --workload w3 --rate 0.5 [--targets natter,ngircd,relay] [--runs 3]
 *   node --import tsx bench/run.ts --workload w3 --rate 0.2 --targets natter-cluster
 *   node --import tsx bench/run.ts --workload w3 --targets natter --natter-root ../natter-before
 *
 * natter-cluster: three nodes (`--nodes`) on one PostgreSQL database and one
 * NATS server (`--database`, a role that may create databases, and `--bus`;
 * by default the local ones). The nodes, PostgreSQL and NATS share both
 * cores (a cluster is several processes), the load generator alone is pinned
 * (core 1); with --pin-cluster the nodes run on core 0 and PostgreSQL and
 * NATS on core 1 instead. The fixture is moved into a fresh database with
 * migrate-data, and client i talks to node i % 3.
 *
 * --natter-root: the natter servers are run from another checkout (another
 * commit, with its dependencies installed), so that two commits are measured
 * side by side on the same machine; results record that checkout's commit.
 *
 * Each run starts the server pinned to core 0 (`taskset -c 0`) on fresh data,
 * runs the load generator pinned to core 1 (`taskset -c 1`), stops the server
 * by its PID, and appends one JSON line to bench/results/<workload>.jsonl.
 * `bench/compare.ts` prints the medians. See docs/benchmarks.md.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { migrateData } from '../src/server/store/migrate-data.js';
import type { Job } from './load/generator.js';
import { sleep } from './load/measure.js';
import { createFixture } from './load/natter.js';
import { benchDatabase } from './postgres.js';

const HERE = dirname(new URL(import.meta.url).pathname);
const ROOT = join(HERE, '..');
const CACHE = join(HERE, '.cache');
const RESULTS = join(HERE, 'results');
const HOST = '127.0.0.1';
const PORTS = { natter: 27771, 'natter-cluster': 27781, ngircd: 26667, relay: 27790 } as const;
type Target = keyof typeof PORTS;

const { values: args } = parseArgs({
  options: {
    workload: { type: 'string' },
    targets: { type: 'string' },
    runs: { type: 'string', default: '3' },
    /** natter's upload rate (MiB/s, its `uploadBytesPerSecond`); its default when absent. */
    'upload-rate': { type: 'string' },
    clients: { type: 'string' },
    rate: { type: 'string' },
    seconds: { type: 'string' },
    'seed-messages': { type: 'string', default: '1000000' },
    dry: { type: 'boolean', default: false },
    'natter-root': { type: 'string' },
    'pin-cluster': { type: 'boolean', default: false },
    nodes: { type: 'string', default: '3' },
    database: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    bus: { type: 'string', default: 'nats://127.0.0.1:4222' },
  },
});
/** The checkout whose natter is measured: this one, or --natter-root. */
const NATTER_ROOT = args['natter-root'] ? join(process.cwd(), args['natter-root']) : ROOT;
if (args['natter-root'] && !existsSync(join(NATTER_ROOT, 'bench', 'server-process.ts'))) {
  throw new Error(`--natter-root ${NATTER_ROOT} is not a natter checkout (no bench/server-process.ts)`);
}

type Workload = {
  /** Which targets can run it (natter-only features have no IRC equivalent). */
  targets: Target[];
  job: Omit<Job, 'target' | 'host' | 'port' | 'serverPid' | 'fixture'>;
  /** Messages to seed into room 0's channel before the run (natter). */
  seed?: number;
};

function workload(name: string): Workload {
  const num = (v: string | undefined, d: number) => (v === undefined ? d : Number(v));
  const clients = num(args.clients, 1000);
  const rate = num(args.rate, 0.5);
  const base = { connectConcurrency: 8, warmupS: 5, seconds: num(args.seconds, 20), drainS: 3 };
  switch (name) {
    case 'w1':
      return {
        targets: ['natter', 'ngircd', 'relay'],
        job: { mode: 'idle', clients: num(args.clients, 10000), roomSize: 100, connectConcurrency: 8, settleS: 10 },
      };
    case 'w2':
      return {
        targets: ['natter', 'ngircd', 'relay'],
        // Open loop at the target rate (1,000/s by default): a closed loop would
        // measure the generator's own handshakes, which cost it more than the server.
        // At most 16 in flight (ngircd's listen backlog is 10, but it answers in under a
        // millisecond); a start beyond that is skipped and counted.
        job: {
          mode: 'reconnect',
          clients,
          roomSize: 100,
          connectConcurrency: 8,
          rate: num(args.rate, 1000),
          concurrency: 16,
          seconds: num(args.seconds, 10),
        },
      };
    case 'w2-logins':
      return { targets: ['natter'], job: { ...base, mode: 'fanout', clients, roomSize: 100, rate, logins: 4 } };
    case 'w3-uploads':
      return {
        targets: ['natter'],
        job: { ...base, mode: 'fanout', clients, roomSize: 100, rate, uploads: 20, uploadBytes: 1024 * 1024 },
      };
    case 'w3':
      return {
        targets: ['natter', 'ngircd', 'relay', 'natter-cluster'],
        job: { ...base, mode: 'fanout', clients, roomSize: 100, rate },
      };
    case 'w4':
      return {
        targets: ['natter', 'ngircd', 'relay'],
        job: { ...base, mode: 'fanout', clients: num(args.clients, 2000), roomSize: 2000, rate: num(args.rate, 0.02) },
      };
    case 'w5':
      return {
        targets: ['natter'],
        seed: Number(args['seed-messages']),
        job: {
          ...base,
          mode: 'fanout',
          clients,
          roomSize: 100,
          rate: num(args.rate, 0.2),
          history: { readers: 4, depth: 5, pauseMs: 10 },
        },
      };
    case 'w6':
      return {
        targets: ['natter', 'ngircd'],
        job: {
          ...base,
          mode: 'fanout',
          clients,
          roomSize: 100,
          rate,
          seconds: num(args.seconds, 600),
          churnPerS: 0.005,
          windowS: 60,
        },
      };
    default:
      throw new Error(`unknown workload "${name}" (w1, w2, w2-logins, w3, w3-uploads, w4, w5, w6)`);
  }
}

const name = args.workload ?? '';
const w = workload(name);
const targets = (args.targets?.split(',') as Target[] | undefined) ?? w.targets.filter((t) => t !== 'natter-cluster');
for (const t of targets) {
  if (!w.targets.includes(t))
    throw new Error(`workload ${name} does not run on target "${t}" (${w.targets.join(', ')})`);
}

// ---- servers -------------------------------------------------------------

type Running = { proc: ChildProcess; pid: number; dir: string };

function pinned(
  core: number,
  cmd: string,
  argv: string[],
  stdio: 'pipe' | 'ignore' = 'pipe',
  cwd: string = ROOT,
): ChildProcess {
  return spawn('taskset', ['-c', String(core), cmd, ...argv], { stdio: ['ignore', stdio, stdio], cwd });
}

function listening(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect({ host: HOST, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Children still running, killed if this script dies half-way. */
const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

async function waitForPort(port: number, proc: ChildProcess, what: string): Promise<void> {
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`);
    if (await listening(port)) return;
    await sleep(50);
  }
  throw new Error(`${what} did not listen on ${port}`);
}

/** A server left over from an earlier run would be measured instead of the new one. */
async function ensureFree(port: number): Promise<void> {
  if (await listening(port)) throw new Error(`port ${port} is already in use; stop whatever listens there first`);
}

function natterConfig(dataDir: string, bcryptCost: number, hashThreads: number, port: number = PORTS.natter) {
  const open = { capacity: 1_000_000, refillMs: 1 };
  return {
    dataDir,
    host: HOST,
    port,
    tcpPort: null,
    bcryptCost,
    hashThreads,
    // A loopback test: every client shares one address.
    maxConnectionsPerAddress: 1_000_000,
    // Creating accounts, joining and logging in as fast as possible is the test, not an attack.
    limits: {
      registerPerAddress: open,
      loginPerAccount: open,
      loginPerAddress: open,
      inviteFail: open,
      // Upload slots are writes: the uploads side load asks for them as fast as it can.
      writePerUser: open,
    },
    // The uploads side load stores far more than a person's day: no daily allowance here.
    quotas: {
      uploadBytesPerDay: Number.MAX_SAFE_INTEGER,
      serverMediaBytes: Number.MAX_SAFE_INTEGER,
      ...(args['upload-rate'] === undefined
        ? {}
        : { uploadBytesPerSecond: Math.round(Number(args['upload-rate']) * 1024 * 1024) }),
    },
  };
}

async function startNatter(dataDir: string, core: number | null, bcryptCost = 12): Promise<Running> {
  await ensureFree(PORTS.natter);
  const argv = [
    '--import',
    'tsx',
    join(NATTER_ROOT, 'bench', 'server-process.ts'),
    JSON.stringify(natterConfig(dataDir, bcryptCost, core === null ? 2 : 1)),
  ];
  const proc =
    core === null
      ? spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: NATTER_ROOT })
      : pinned(core, process.execPath, argv, 'pipe', NATTER_ROOT);
  proc.stderr?.resume();
  proc.stdout?.resume();
  await waitForPort(PORTS.natter, proc, 'natter');
  return { proc, pid: proc.pid ?? 0, dir: dataDir };
}

/** A cluster under way: its nodes, its database, and how to put the services' CPU affinity back. */
type Cluster = { nodes: Running[]; dropDatabase(): Promise<void>; unpin(): void };

/** PIDs of the running processes with this name (`postgres`, `nats-server`). */
function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** Pins every thread of these processes to `cores` (a taskset list); false when taskset refused. */
function setAffinity(pids: number[], cores: string): boolean {
  let ok = true;
  for (const pid of pids) {
    try {
      execFileSync('taskset', ['-a', '-cp', cores, String(pid)], { stdio: 'ignore' });
    } catch {
      ok = false;
    }
  }
  return ok;
}

/**
 * Starts `--nodes` natter nodes on a fresh PostgreSQL database holding the
 * fixture (moved there by migrate-data from the cached SQLite one) and the
 * NATS server at `--bus` (pinned as `--pin-cluster` says).
 */
async function startCluster(dir: string, fixtureData: string): Promise<Cluster> {
  const db = await benchDatabase(args.database ?? '');
  const url = new URL(db.url);
  const dropDatabase = () => db.drop();
  const services = [...pidsNamed('postgres'), ...pidsNamed('nats-server')];
  const all = `0-${cpus().length - 1}`;
  const unpin = () => {
    // New PostgreSQL backends fork from the postmaster, so pinning it pins them; put everything back after.
    setAffinity([...pidsNamed('postgres'), ...pidsNamed('nats-server')], all);
  };
  try {
    await migrateData({ from: fixtureData, to: url.toString() });
    if (args['pin-cluster'] && !setAffinity(services, '1'))
      console.error('could not pin PostgreSQL and NATS to core 1 (not root?): they float');
    const cluster = `bench${process.pid}`;
    const nodes: Running[] = [];
    for (let n = 0; n < Number(args.nodes); n++) {
      const port = PORTS['natter-cluster'] + n;
      await ensureFree(port);
      const nodeDir = join(dir, `node${n}`);
      mkdirSync(nodeDir, { recursive: true });
      const config = {
        ...natterConfig(nodeDir, 12, 1, port),
        database: url.toString(),
        bus: args.bus,
        cluster,
        mediaDir: join(dir, 'media'),
      };
      const argv = ['--import', 'tsx', join(NATTER_ROOT, 'bench', 'server-process.ts'), JSON.stringify(config)];
      const proc = args['pin-cluster']
        ? pinned(0, process.execPath, argv, 'pipe', NATTER_ROOT)
        : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'], cwd: NATTER_ROOT });
      proc.stderr?.resume();
      proc.stdout?.resume();
      await waitForPort(port, proc, `natter node ${n}`);
      nodes.push({ proc, pid: proc.pid ?? 0, dir: nodeDir });
    }
    return { nodes, dropDatabase, unpin };
  } catch (err) {
    unpin();
    await dropDatabase();
    throw err;
  }
}

async function startNgircd(dir: string): Promise<Running> {
  await ensureFree(PORTS.ngircd);
  const conf = join(dir, 'ngircd.conf');
  writeFileSync(conf, ngircdConfig(dir));
  // -n: stay in the foreground, so its PID is ours to stop.
  const proc = pinned(0, '/usr/sbin/ngircd', ['-n', '-f', conf]);
  proc.stderr?.resume();
  proc.stdout?.resume();
  await waitForPort(PORTS.ngircd, proc, 'ngircd');
  return { proc, pid: proc.pid ?? 0, dir };
}

/** A loopback benchmark config: no per-address, join or flood limits; no DNS, ident or PAM. */
function ngircdConfig(dir: string): string {
  return `[Global]
\tName = bench.natter.invalid
\tInfo = natter benchmark peer
\tListen = ${HOST}
\tPorts = ${PORTS.ngircd}
\tMotdPhrase = benchmark
\tPidFile = ${join(dir, 'ngircd.pid')}
[Limits]
\tMaxConnections = 0
\tMaxConnectionsIP = 0
\tMaxJoins = 0
\tMaxPenaltyTime = 0
\tPingTimeout = 600
\tPongTimeout = 120
[Options]
\tDNS = no
\tIdent = no
\tPAM = no
\tOperCanUseMode = no
`;
}

async function startRelay(dir: string): Promise<Running> {
  await ensureFree(PORTS.relay);
  const proc = pinned(0, process.execPath, ['--import', 'tsx', join(HERE, 'load', 'relay.ts'), String(PORTS.relay)]);
  proc.stderr?.resume();
  proc.stdout?.resume();
  await waitForPort(PORTS.relay, proc, 'relay');
  return { proc, pid: proc.pid ?? 0, dir };
}

async function stop(r: Running): Promise<void> {
  if (r.proc.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => r.proc.once('exit', () => resolve()));
  process.kill(r.pid, 'SIGTERM');
  const killer = setTimeout(() => process.kill(r.pid, 'SIGKILL'), 15_000);
  await exited;
  clearTimeout(killer);
}

// ---- natter fixtures (accounts, servers, seeded history), cached ---------

async function natterFixture(clients: number, roomSize: number, seed: number | undefined): Promise<string> {
  const bcryptCost = clients > 1000 ? 4 : 12;
  const key = `natter-${clients}x${roomSize}-bcrypt${bcryptCost}${seed ? `-seed${seed}` : ''}`;
  const dir = join(CACHE, key);
  if (existsSync(join(dir, 'fixture.json'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  if (seed) {
    const base = await natterFixture(clients, roomSize, undefined);
    cpSync(base, dir, { recursive: true });
    const fx = JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8')) as { channels: string[] };
    console.error(`seeding ${seed} messages into ${key}...`);
    execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(HERE, 'seed.ts'),
        '--data',
        join(dir, 'data'),
        '--conversation',
        fx.channels[0] ?? '',
        '--messages',
        String(seed),
      ],
      {
        stdio: 'inherit',
        cwd: ROOT,
      },
    );
    return dir;
  }
  mkdirSync(join(dir, 'data'), { recursive: true });
  console.error(`creating ${clients} accounts in rooms of ${roomSize} (bcrypt cost ${bcryptCost}), once...`);
  const server = await startNatter(join(dir, 'data'), null, bcryptCost);
  const t0 = Date.now();
  const fx = await createFixture(`ws://${HOST}:${PORTS.natter}`, clients, roomSize);
  await stop(server);
  writeFileSync(join(dir, 'fixture.json'), JSON.stringify({ ...fx, bcryptCost }));
  console.error(`fixture ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return dir;
}

// ---- one run ---------------------------------------------------------------

function commit(): string {
  try {
    const cwd = NATTER_ROOT;
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8' }).trim();
    return dirty ? `${sha}+dirty` : sha;
  } catch {
    return 'unknown';
  }
}

const machine = {
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  ngircd: (() => {
    try {
      return execFileSync('/usr/sbin/ngircd', ['--version'], { encoding: 'utf8' }).split('\n')[0]?.split('-')[0] ?? '';
    } catch {
      return 'not installed';
    }
  })(),
};

async function runOnce(target: Target, run: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `natter-bench-${target}-`));
  let server: Running | undefined;
  let cluster: Cluster | undefined;
  let fixture: string | undefined;
  try {
    if (target === 'natter-cluster') {
      const fxDir = await natterFixture(w.job.clients, w.job.roomSize, w.seed);
      fixture = join(fxDir, 'fixture.json');
      cluster = await startCluster(dir, join(fxDir, 'data'));
      server = cluster.nodes[0];
    } else if (target === 'natter') {
      const fxDir = await natterFixture(w.job.clients, w.job.roomSize, w.seed);
      cpSync(join(fxDir, 'data'), join(dir, 'data'), { recursive: true });
      fixture = join(fxDir, 'fixture.json');
      server = await startNatter(join(dir, 'data'), 0);
    } else if (target === 'ngircd') {
      server = await startNgircd(dir);
    } else {
      server = await startRelay(dir);
    }
    if (!server) throw new Error('no server started');
    await sleep(500);
    const job: Job = {
      ...w.job,
      target: target === 'natter-cluster' ? 'natter' : target,
      host: HOST,
      port: PORTS[target],
      serverPid: server.pid,
      ...(cluster
        ? {
            ports: cluster.nodes.map((_, n) => PORTS['natter-cluster'] + n),
            serverPids: cluster.nodes.map((node) => node.pid),
            dependencies: ['postgres', 'nats-server'],
          }
        : {}),
      ...(fixture ? { fixture } : {}),
    };
    const gen = pinned(1, process.execPath, [
      '--import',
      'tsx',
      join(HERE, 'load', 'generator.ts'),
      JSON.stringify(job),
    ]);
    let out = '';
    let err = '';
    gen.stdout?.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    gen.stderr?.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    const code = await new Promise<number | null>((resolve) => gen.once('exit', resolve));
    if (code !== 0) throw new Error(`load generator failed (${code}): ${err.trim()}`);
    const result = JSON.parse(out.trim().split('\n').pop() ?? '{}') as { valid?: boolean; invalid?: string };
    const { host: _h, port: _p, serverPid: _s, fixture: _f, ports: _ps, serverPids: _sp, ...params } = job;
    const line = {
      date: new Date().toISOString(),
      commit: commit(),
      machine,
      workload: name,
      target,
      run,
      params: {
        ...params,
        ...(w.seed ? { seedMessages: w.seed } : {}),
        ...(cluster ? { nodes: cluster.nodes.length } : {}),
      },
      valid: result.valid ?? false,
      result,
    };
    if (!args.dry) {
      mkdirSync(RESULTS, { recursive: true });
      appendFileSync(join(RESULTS, `${name}.jsonl`), `${JSON.stringify(line)}\n`);
    }
    console.log(`${name} ${target} run ${run}: ${result.valid ? 'valid' : `INVALID (${result.invalid})`}`);
    console.log(JSON.stringify(result));
  } finally {
    if (cluster) {
      for (const node of cluster.nodes) await stop(node);
      cluster.unpin();
      await cluster.dropDatabase();
    } else if (server) await stop(server);
    rmSync(dir, { recursive: true, force: true });
  }
}

const runs = Number(args.runs);
for (let run = 1; run <= runs; run++) {
  // Interleaved, so that drift on the machine touches every target alike.
  for (const target of targets) await runOnce(target, run);
}
