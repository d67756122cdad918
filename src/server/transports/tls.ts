import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Socket } from 'node:net';
import { createSecureContext, type SecureContext, type SecureContextOptions, TLSSocket } from 'node:tls';
import { ConfigError, type TlsFiles } from '../config.js';
import { certificateDnsNames } from './hosts.js';

/** TLS 1.2 and 1.3 only; Node's default cipher list (forward secrecy, AEAD first), in the server's order. */
export const TLS_SERVER_OPTIONS = { minVersion: 'TLSv1.2', honorCipherOrder: true } as const;

/** A TLS handshake must be done within this long (Node's default is 2 minutes). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;

/** A certificate and key that were read, checked and made into a context. */
type Loaded = {
  options: SecureContextOptions;
  context: SecureContext;
  /** The certificate's DNS names (for the Host check). */
  names: string[];
  /** One line for the log: names and expiry. */
  summary: string;
  /** What the operator should know (expired, a key others can read). */
  warnings: string[];
};

function readPem(file: string, option: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ConfigError(`cannot read ${option} ${file}: ${why}`);
  }
}

/**
 * Reads and checks a certificate (chain) and its private key: both must be
 * PEM, and the key must be the certificate's. Throws a {@link ConfigError}
 * that names the file at fault.
 */
function load(files: TlsFiles, now: Date): Loaded {
  const certPem = readPem(files.certFile, '--tls-cert');
  const keyPem = readPem(files.keyFile, '--tls-key');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    throw new ConfigError(`--tls-cert ${files.certFile} does not hold a PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    const encrypted = /passphrase/i.test((err as Error).message);
    throw new ConfigError(
      encrypted
        ? `--tls-key ${files.keyFile} is encrypted; natter needs the key without a passphrase (mode 0600)`
        : `--tls-key ${files.keyFile} does not hold a PEM private key (-----BEGIN PRIVATE KEY-----)`,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    throw new ConfigError(
      `--tls-key ${files.keyFile} is not the key of the certificate in --tls-cert ${files.certFile}`,
    );
  }
  const options: SecureContextOptions = { ...TLS_SERVER_OPTIONS, cert: certPem, key: keyPem };
  let context: SecureContext;
  try {
    context = createSecureContext(options);
  } catch (err) {
    throw new ConfigError(
      `cannot use --tls-cert ${files.certFile} with --tls-key ${files.keyFile}: ${(err as Error).message}`,
    );
  }
  const names = certificateDnsNames(cert.subjectAltName);
  const until = new Date(cert.validTo);
  const warnings: string[] = [];
  if (until.getTime() < now.getTime()) {
    warnings.push(`the certificate in ${files.certFile} expired on ${until.toISOString()}; clients will refuse it`);
  } else if (new Date(cert.validFrom).getTime() > now.getTime()) {
    warnings.push(`the certificate in ${files.certFile} is not valid before ${new Date(cert.validFrom).toISOString()}`);
  }
  const keyMode = statSync(files.keyFile).mode & 0o777;
  if ((keyMode & 0o007) !== 0) {
    warnings.push(
      `the TLS key ${files.keyFile} can be read by every user (mode ${keyMode.toString(8).padStart(4, '0')}): chmod 600 it`,
    );
  }
  const shown = (cert.subjectAltName ?? cert.subject).replace(/DNS:|IP Address:/g, '');
  return {
    options,
    context,
    names,
    summary: `certificate for ${shown}, valid until ${until.toISOString().slice(0, 10)}, from ${files.certFile}`,
    warnings,
  };
}

/**
 * The certificate natter serves, shared by the HTTPS and the TLS-over-TCP
 * listeners, and replaced as a whole on reload: new connections get the new
 * one, open connections keep theirs.
 */
export class ServerCertificate {
  private current: Loaded;

  /** Reads the files; throws a {@link ConfigError} when they cannot be served. */
  constructor(
    readonly files: TlsFiles,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.current = load(files, now());
  }

  get context(): SecureContext {
    return this.current.context;
  }

  /** Options for `https.createServer` and `setSecureContext`. */
  get options(): SecureContextOptions {
    return this.current.options;
  }

  get names(): readonly string[] {
    return this.current.names;
  }

  get summary(): string {
    return this.current.summary;
  }

  get warnings(): readonly string[] {
    return this.current.warnings;
  }

  /**
   * Reads the files again. When they hold a usable certificate and key it
   * replaces the current one; otherwise this throws a {@link ConfigError}
   * and the current one stays.
   */
  reload(): void {
    this.current = load(this.files, this.now());
  }
}

/**
 * Server side of TLS on an accepted socket (the TCP port, where natter first
 * reads a PROXY header when the peer is a trusted proxy, so `tls.Server`
 * cannot take the socket from the start). Resolves with the secure socket, or
 * null when the handshake failed or took too long (the socket is then
 * destroyed). Bytes already read from the socket (put back after a PROXY
 * header) are handed to TLS first.
 */
export function acceptTls(socket: Socket, certificate: ServerCertificate): Promise<TLSSocket | null> {
  return new Promise((resolve) => {
    const secure = new TLSSocket(socket, { isServer: true, secureContext: certificate.context });
    const timer = setTimeout(() => fail(), HANDSHAKE_TIMEOUT_MS);
    const fail = () => {
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      resolve(null);
    };
    secure.once('error', fail);
    secure.once('close', fail);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', fail);
      secure.off('close', fail);
      resolve(secure);
    });
  });
}
