import type { IncomingMessage } from 'node:http';
import { BlockList, isIP, type Socket, SocketAddress } from 'node:net';
import { ConfigError } from '../config.js';
import { remoteAddress } from './common.js';

/**
 * An address as natter keys it (per-address caps and throttles, session
 * records): IPv4-mapped IPv6 addresses as plain IPv4, IPv6 in its canonical
 * short form. Null when `raw` is not an IP address.
 */
export function canonicalAddress(raw: string): string | null {
  const a = raw.startsWith('::ffff:') && isIP(raw.slice(7)) === 4 ? raw.slice(7) : raw;
  const family = isIP(a);
  if (family === 4) return a;
  if (family !== 6) return null;
  // A zone (fe80::1%eth0) is kept as it is; SocketAddress does not take one.
  if (a.includes('%')) return a.toLowerCase();
  return new SocketAddress({ address: a, family: 'ipv6' }).address;
}

/**
 * The reverse proxies named by `--trust-proxy` (IP addresses and CIDR ranges,
 * IPv4 and IPv6). Only a connection from one of them may say who the client
 * is: with `X-Forwarded-For` on HTTP and WebSocket upgrades, with a PROXY
 * protocol header on the TCP port. From anyone else those are not believed.
 */
export class TrustedProxies {
  private readonly list = new BlockList();
  /** The entries as given, for the start line. */
  readonly entries: readonly string[];

  /** Throws a {@link ConfigError} naming an entry that is not an address or a range. */
  constructor(specs: readonly string[]) {
    const entries: string[] = [];
    for (const spec of specs) {
      const s = spec.trim();
      if (s === '') continue;
      const slash = s.indexOf('/');
      const address = canonicalAddress(slash === -1 ? s : s.slice(0, slash));
      const family = address === null ? 0 : isIP(address);
      const maxBits = family === 4 ? 32 : 128;
      const prefix = slash === -1 ? String(maxBits) : s.slice(slash + 1);
      const bits = /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
      const bad = () =>
        new ConfigError(
          `--trust-proxy: "${spec}" is not an IP address or CIDR range (such as 127.0.0.1, 10.0.0.0/8, ::1 or fd00::/8)`,
        );
      if (address === null || family === 0 || bits < 0 || bits > maxBits) throw bad();
      try {
        this.list.addSubnet(address, bits, family === 4 ? 'ipv4' : 'ipv6');
      } catch {
        throw bad();
      }
      entries.push(slash === -1 ? address : `${address}/${bits}`);
    }
    this.entries = entries;
  }

  /** Is any proxy trusted? */
  get enabled(): boolean {
    return this.entries.length > 0;
  }

  /** Is `address` (as {@link canonicalAddress} gives it) a trusted proxy? */
  trusts(address: string): boolean {
    if (!this.enabled) return false;
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client address of an HTTP request (or WebSocket upgrade). From a
   * trusted proxy: walking `X-Forwarded-For` from the right, the first address
   * that is not itself a trusted proxy (each proxy appends the address it got
   * the request from; what lies left of it came from the client and proves
   * nothing). From anyone else: the peer's address, whatever the headers say.
   */
  clientOf(req: IncomingMessage): string {
    const peer = remoteAddress(req.socket);
    if (!this.trusts(peer)) return peer;
    const header = req.headers['x-forwarded-for'];
    if (header === undefined) return peer;
    const hops = (Array.isArray(header) ? header.join(',') : header).split(',');
    let client = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = forwardedAddress(hops[i] ?? '');
      // A hop a trusted proxy wrote that is not an address: the last known one stands.
      if (hop === null) break;
      client = hop;
      if (!this.trusts(hop)) break;
    }
    return client;
  }
}

/** One `X-Forwarded-For` entry: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:5678`. */
function forwardedAddress(entry: string): string | null {
  let e = entry.trim();
  if (e.startsWith('[')) {
    const end = e.indexOf(']');
    if (end === -1) return null;
    e = e.slice(1, end);
  } else if (/^\d+\.\d+\.\d+\.\d+:\d+$/.test(e)) {
    e = e.slice(0, e.indexOf(':'));
  }
  return canonicalAddress(e);
}

// ------------------------------------------------------------ PROXY protocol

/** The 12 bytes that open a PROXY protocol v2 header. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** A v1 header is at most 107 bytes, CRLF included. */
const V1_MAX = 107;

/**
 * What a PROXY protocol header says: the client's address, or `null` when the
 * proxy speaks for itself (v2 LOCAL, such as a health check, or v1 UNKNOWN)
 * and the connection's own address stands.
 */
export type ProxyHeader = { address: string | null };

export type ProxyParse =
  | { status: 'partial' }
  | { status: 'ok'; header: ProxyHeader; length: number }
  | { status: 'invalid'; reason: string };

/** Do these first bytes (however few) agree with a PROXY protocol header? */
function couldBeHeader(buf: Buffer): boolean {
  const agrees = (signature: Buffer) => {
    const n = Math.min(buf.length, signature.length);
    return buf.subarray(0, n).equals(signature.subarray(0, n));
  };
  return agrees(V2_SIGNATURE) || agrees(V1_PREFIX);
}

/** Do the first bytes of a connection look like a PROXY protocol header (v1 or v2)? */
export function startsLikeProxyHeader(buf: Buffer): boolean {
  return buf.length >= 6 && couldBeHeader(buf);
}

/**
 * Parses the PROXY protocol header (v1 text or v2 binary, as HAProxy's
 * specification describes them) at the start of `buf`.
 */
export function parseProxyHeader(buf: Buffer): ProxyParse {
  if (!couldBeHeader(buf)) {
    return { status: 'invalid', reason: 'the connection does not start with a PROXY protocol header' };
  }
  if (buf.length < 12) return { status: 'partial' };
  return buf[0] === 0x0d ? parseV2(buf) : parseV1(buf);
}

function parseV1(buf: Buffer): ProxyParse {
  const end = buf.indexOf('\r\n', 0, 'latin1');
  if (end === -1) {
    return buf.length >= V1_MAX
      ? { status: 'invalid', reason: 'the PROXY v1 line is longer than 107 bytes' }
      : { status: 'partial' };
  }
  if (end + 2 > V1_MAX) return { status: 'invalid', reason: 'the PROXY v1 line is longer than 107 bytes' };
  const line = buf.subarray(0, end).toString('latin1');
  const parts = line.split(' ');
  const invalid = { status: 'invalid', reason: `malformed PROXY v1 line ${JSON.stringify(line)}` } as const;
  if (parts[1] === 'UNKNOWN') return { status: 'ok', header: { address: null }, length: end + 2 };
  if (parts.length !== 6) return invalid;
  const [, proto, src, dst, srcPort, dstPort] = parts;
  const family = proto === 'TCP4' ? 4 : proto === 'TCP6' ? 6 : 0;
  const port = (p: string | undefined) => p !== undefined && /^(0|[1-9]\d{0,4})$/.test(p) && Number(p) <= 65535;
  if (family === 0 || isIP(src ?? '') !== family || isIP(dst ?? '') !== family || !port(srcPort) || !port(dstPort)) {
    return invalid;
  }
  return { status: 'ok', header: { address: canonicalAddress(src ?? '') }, length: end + 2 };
}

function parseV2(buf: Buffer): ProxyParse {
  if (buf.length < 16) return { status: 'partial' };
  const versionCommand = buf[12] ?? 0;
  const familyProtocol = buf[13] ?? 0;
  const length = 16 + buf.readUInt16BE(14);
  if (versionCommand >> 4 !== 2)
    return { status: 'invalid', reason: `PROXY v2 header of unknown version ${versionCommand >> 4}` };
  const command = versionCommand & 0x0f;
  if (command > 1) return { status: 'invalid', reason: `PROXY v2 header with unknown command ${command}` };
  if (buf.length < length) return { status: 'partial' };
  // LOCAL: the proxy's own connection (a health check); the addresses, if any, are to be ignored.
  if (command === 0) return { status: 'ok', header: { address: null }, length };
  const family = familyProtocol >> 4;
  const body = buf.subarray(16, length);
  if (family === 1 && body.length >= 12) {
    return { status: 'ok', header: { address: [...body.subarray(0, 4)].join('.') }, length };
  }
  if (family === 2 && body.length >= 36) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(body.readUInt16BE(i).toString(16));
    return { status: 'ok', header: { address: canonicalAddress(groups.join(':')) }, length };
  }
  // UNSPEC or a UNIX socket: nothing natter can key on; the connection's own address stands.
  if (family === 0 || family === 3) return { status: 'ok', header: { address: null }, length };
  return { status: 'invalid', reason: `PROXY v2 header with an address block too short for its family (${family})` };
}

/**
 * Reads the PROXY protocol header a trusted proxy sends first. Resolves with
 * what it says, and puts the bytes that follow it back into the socket (paused:
 * the reader resumes it). Resolves with a reason when the header is missing,
 * malformed, or not complete within `timeoutMs`.
 */
export function readProxyHeader(
  socket: Socket,
  timeoutMs: number,
): Promise<{ header: ProxyHeader } | { error: string }> {
  return new Promise((resolve) => {
    let buf: Buffer = Buffer.alloc(0);
    const finish = (result: { header: ProxyHeader } | { error: string }, rest: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.pause();
      if (rest.length > 0) socket.unshift(rest);
      resolve(result);
    };
    const onData = (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const parsed = parseProxyHeader(buf);
      if (parsed.status === 'ok') finish({ header: parsed.header }, buf.subarray(parsed.length));
      else if (parsed.status === 'invalid') finish({ error: parsed.reason }, buf);
    };
    const onClose = () => finish({ error: 'the connection closed before its PROXY protocol header' }, Buffer.alloc(0));
    const timer = setTimeout(
      () => finish({ error: `no PROXY protocol header within ${Math.round(timeoutMs / 1000)} s` }, buf),
      timeoutMs,
    );
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
