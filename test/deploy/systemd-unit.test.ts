import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HttpApi, PASSWORD } from '../helpers/api.js';
import { ServeProcess } from '../helpers/serve-process.js';

/**
 * deploy/natter.service: the hardening it promises is there (and the one
 * setting Node.js cannot run under is not), and its ExecStart runs a
 * `natter serve` with flags the built binary accepts.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const UNIT = join(ROOT, 'deploy', 'natter.service');
const ENV_EXAMPLE = join(ROOT, 'deploy', 'natter.env.example');
const BIN = join(ROOT, 'bin', 'natter');
const run = promisify(execFile);

/** The unit's settings by section, each key with every value it is given (comments left out). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(\w+)\]$/.exec(line);
    if (section?.[1]) {
      current = new Map();
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `a setting inside a section: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const service = unit.get('Service') ?? new Map<string, string[]>();
const one = (key: string) => {
  const values = service.get(key);
  assert.ok(values, `[Service] sets ${key}`);
  assert.equal(values.length, 1, `${key} is set once`);
  return values[0] ?? '';
};

/** `natter serve --help` of the built binary, on one line. */
async function serveHelp(): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, 'serve', '--help']);
  return stdout.replace(/\s+/g, ' ');
}

test('the unit runs natter as its own user with the hardening settings', () => {
  assert.equal(one('User'), 'natter');
  assert.equal(one('StateDirectory'), 'natter');
  assert.equal(one('Restart'), 'on-failure');
  assert.equal(one('EnvironmentFile'), '-/etc/natter/natter.env');
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  const hardening: Record<string, string> = {
    NoNewPrivileges: 'yes',
    ProtectSystem: 'strict',
    ProtectHome: 'yes',
    PrivateTmp: 'yes',
    PrivateDevices: 'yes',
    ProtectKernelTunables: 'yes',
    ProtectKernelModules: 'yes',
    ProtectControlGroups: 'yes',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
    RestrictNamespaces: 'yes',
    LockPersonality: 'yes',
    SystemCallFilter: '@system-service',
    CapabilityBoundingSet: '',
  };
  for (const [key, value] of Object.entries(hardening)) assert.equal(one(key), value, key);
  assert.equal(service.has('AmbientCapabilities'), false, 'no capability is given by default');
  // V8's JIT needs memory both writable and executable.
  assert.equal(service.has('MemoryDenyWriteExecute'), false, 'MemoryDenyWriteExecute is not set');
  assert.equal(service.has('DynamicUser'), false);
});

test('ExecStart runs natter serve with flags it accepts, and the backup directory is writable under ProtectSystem=strict', async () => {
  const exec = one('ExecStart');
  const m = /^\/usr\/bin\/env natter serve (.*)$/.exec(exec);
  assert.ok(m?.[1], `ExecStart runs natter serve: ${exec}`);
  const args = m[1].split(/\s+/);
  const help = await serveHelp();
  const flags: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] ?? '';
    assert.match(flag, /^--[a-z-]+$/, `a flag: ${flag}`);
    const takesValue = new RegExp(`${flag} <[a-z-]+>`).test(help);
    assert.ok(takesValue || help.includes(`${flag} `), `natter serve --help lists ${flag}`);
    if (takesValue) {
      flags[flag] = args[i + 1] ?? '';
      i++;
    }
  }
  assert.equal(flags['--data'], '/var/lib/natter', 'the data directory is the StateDirectory');
  const backupDir = flags['--backup-dir'];
  assert.ok(backupDir, 'backups are scheduled');
  assert.deepEqual(service.get('ReadWritePaths'), [`-${backupDir}`]);
});

test('every variable natter.env.example names is one natter serve reads', async () => {
  const help = await serveHelp();
  const names = [...readFileSync(ENV_EXAMPLE, 'utf8').matchAll(/^#?(NATTER_[A-Z_]+)=/gm)].map((x) => x[1] ?? '');
  assert.ok(names.length >= 5);
  for (const name of names) assert.ok(help.includes(`env: ${name})`), `natter serve reads ${name}`);
});

test('systemd-analyze verify accepts the unit', {
  skip: spawnSync('systemd-analyze', ['--version']).status === 0 ? false : 'systemd-analyze is not installed here',
}, async () => {
  const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // Warnings about this unit (unknown settings, bad values) are printed even with exit 0.
  assert.doesNotMatch(r.stderr, /natter\.service:\d+/, r.stderr);
});

test('systemctl reload (SIGHUP) of a natter without TLS is logged and ignored: it keeps serving', async () => {
  const data = mkdtempSync(join(tmpdir(), 'natter-reload-'));
  const server = ServeProcess.spawn(['--port', '0', '--tcp-port', '0', '--data', data]);
  try {
    const { port } = await server.listening();
    server.child.kill('SIGHUP');
    await server.logged(/no TLS certificate to reload: TLS is off/);
    const api = new HttpApi(`http://127.0.0.1:${port}`);
    const reg = await api.call('register', { username: `reload${process.pid}`, password: PASSWORD });
    assert.ok(reg.token, 'still serving after the SIGHUP');
    assert.equal(await server.stop(), 0);
  } finally {
    if (server.exitCode === undefined) server.child.kill('SIGKILL');
    rmSync(data, { recursive: true, force: true });
  }
});
