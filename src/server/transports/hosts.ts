import { isIP } from 'node:net';
import { domainToASCII } from 'node:url';
import { NatterError } from '../../protocol/index.js';
import { ConfigError } from '../config.js';

/**
 * A host name as it is compared: ASCII (punycode) and lower case, without a
 * trailing dot. Null when `name` is not a host name.
 */
function normalizeName(name: string): string | null {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  const ascii = domainToASCII(trimmed);
  if (ascii === '' || !/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(ascii)) return null;
  return ascii;
}

/** Does `pattern` (a name, or `*.` and a name: one more label) cover `name`? Both normalized. */
function covers(pattern: string, name: string): boolean {
  if (!pattern.startsWith('*.')) return pattern === name;
  const dot = name.indexOf('.');
  return dot > 0 && name.slice(dot + 1) === pattern.slice(2);
}

/**
 * Parses `--allow-host` values: names, `*.name`, or `*` alone. Throws a
 * {@link ConfigError} for anything else (a URL, a port, a space).
 */
export function parseAllowedHosts(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    const v = value.trim();
    if (v === '*') {
      out.push('*');
      continue;
    }
    const wildcard = v.startsWith('*.');
    const name = normalizeName(wildcard ? v.slice(2) : v);
    if (name === null || isIP(v) !== 0) {
      throw new ConfigError(
        `--allow-host: "${value}" is not a host name (give names such as chat.example.com or *.example.com, without scheme or port; IP addresses are always allowed)`,
      );
    }
    out.push(wildcard ? `*.${name}` : name);
  }
  return out;
}

/** The host part of a Host header (`name`, `name:port`, `[v6]:port`), or null when it has none. */
function hostOf(header: string): string | null {
  const h = header.trim();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end === -1 ? null : h.slice(1, end);
  }
  // An IPv6 address without brackets is not a valid Host header, but it is unambiguous.
  if (isIP(h) === 6) return h;
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/**
 * The Host header check, against DNS rebinding: a page on an attacker's site
 * whose name is made to resolve to this server (say, to 127.0.0.1) is same-origin
 * with it in the browser, but its requests carry the attacker's name in Host.
 * Accepted: any IP address, `localhost`, the `--host` name, the TLS
 * certificate's DNS names, and `--allow-host` names; `*` accepts all.
 */
export class HostCheck {
  private readonly names: readonly string[];
  private readonly anyHost: boolean;

  constructor(
    allowed: readonly string[],
    listenHost: string,
    /** The DNS names of the certificate being served (they change when it is reloaded). */
    private readonly certificateNames: () => readonly string[],
  ) {
    this.anyHost = allowed.includes('*');
    const listen = isIP(listenHost) === 0 ? normalizeName(listenHost) : null;
    this.names = ['localhost', ...(listen ? [listen] : []), ...allowed.filter((n) => n !== '*')];
  }

  /** Null when a request with this Host header may be served, else the error to answer it with. */
  check(header: string | undefined): NatterError | null {
    // HTTP/1.0 requests may leave it out; every browser sends it.
    if (header === undefined || this.anyHost) return null;
    const host = hostOf(header);
    if (host !== null && isIP(host) !== 0) return null;
    const name = host === null ? null : normalizeName(host);
    if (name !== null && [...this.names, ...this.certificateNames()].some((p) => covers(p, name))) return null;
    const shown = JSON.stringify(header.slice(0, 100));
    return new NatterError(
      'host_not_allowed',
      `this server does not answer to the host name ${shown}; if it should, start it with --allow-host ${name ?? 'NAME'} (or NATTER_ALLOWED_HOSTS)`,
    );
  }
}

/** The DNS names of a certificate's subjectAltName (`DNS:a, IP Address:1.2.3.4, DNS:*.b`), normalized. */
export function certificateDnsNames(subjectAltName: string | undefined): string[] {
  const names: string[] = [];
  for (const entry of (subjectAltName ?? '').split(', ')) {
    if (!entry.startsWith('DNS:')) continue;
    const raw = entry.slice(4);
    const wildcard = raw.startsWith('*.');
    const name = normalizeName(wildcard ? raw.slice(2) : raw);
    if (name !== null) names.push(wildcard ? `*.${name}` : name);
  }
  return names;
}
