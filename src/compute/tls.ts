// The local CA and the computes' server certificate. node:crypto makes keys but not X.509 certificates, so
// node-forge (pure JavaScript, no native code, no openssl binary needed) signs them. The CA is made once under
// the compute directory; users trust it with NODE_EXTRA_CA_CERTS=<dir>/tls/ca.crt (libpq's sslmode=require
// does not verify, verify-full with sslrootcert=<same file> does). One server certificate (SAN 127.0.0.1, ::1,
// localhost) serves every compute; it is renewed when it nears expiry.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import type forgeTypes from 'node-forge';
import type { OsUser } from './osuser.ts';

// node-forge is about 1 MB of JavaScript: loaded only to make or renew a certificate, not on every
// start (checking the current ones needs only node:crypto).
const loadForge = (): typeof forgeTypes => createRequire(import.meta.url)('node-forge') as typeof forgeTypes;

export interface TlsFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
}

const DAY = 86_400_000;
const CA_DAYS = 3650;
const SERVER_DAYS = 825; // what browsers and Apple's TLS stack accept for a leaf
const RENEW_BEFORE_DAYS = 30;

export function tlsFiles(dir: string): TlsFiles {
  return {
    caCert: path.join(dir, 'ca.crt'),
    caKey: path.join(dir, 'ca.key'),
    serverCert: path.join(dir, 'server.crt'),
    serverKey: path.join(dir, 'server.key'),
  };
}

function rsaKey(forge: typeof forgeTypes): forgeTypes.pki.rsa.KeyPair {
  const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const priv = forge.pki.privateKeyFromPem(pem);
  return { privateKey: priv, publicKey: forge.pki.setRsaPublicKey(priv.n, priv.e) };
}

/**
 * 16 random bytes, the first in 0x40–0x7f: positive and minimally encoded, as DER demands. OpenSSL (so
 * PostgreSQL) refuses a serial with a redundant leading zero byte ("illegal padding"), and node-forge strips
 * only one; the previous '0' + 15 random bytes made such a serial about once in 512 certificates.
 */
export function certificateSerial(random: (n: number) => Buffer = crypto.randomBytes): string {
  const bytes = random(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x3f) | 0x40;
  return bytes.toString('hex');
}

function writeAtomic(file: string, data: string, mode: number, owner: OsUser | undefined): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, data, { mode });
  fs.chmodSync(tmp, mode);
  if (owner) fs.chownSync(tmp, owner.uid, owner.gid);
  fs.renameSync(tmp, file);
}

/** The certificate as OpenSSL reads it; undefined when it cannot (made by an older orgplane: see certificateSerial). */
function x509(file: string): crypto.X509Certificate | undefined {
  try {
    return new crypto.X509Certificate(fs.readFileSync(file));
  } catch {
    return undefined;
  }
}

/** The CA and a server certificate it signed, valid for RENEW_BEFORE_DAYS more: nothing to make. */
function current(files: TlsFiles, now: Date): boolean {
  if (![files.caCert, files.caKey, files.serverCert, files.serverKey].every((f) => fs.existsSync(f)))
    return false;
  const ca = x509(files.caCert);
  const server = x509(files.serverCert);
  if (!ca || !server) return false;
  return (
    Date.parse(server.validTo) - now.getTime() >= RENEW_BEFORE_DAYS * DAY &&
    server.checkIssued(ca) &&
    server.verify(ca.publicKey)
  );
}

/** Makes what is missing or expiring; returns the paths. The server key is owned by the compute user, 0600. */
export function ensureTls(
  dir: string,
  owner: OsUser | undefined,
  now = new Date(),
  random: (n: number) => Buffer = crypto.randomBytes,
): TlsFiles {
  const files = tlsFiles(dir);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (current(files, now)) {
    // The compute user may have changed (ORGPLANE_COMPUTE_USER): postgres requires owning its key.
    if (owner) fs.chownSync(files.serverKey, owner.uid, owner.gid);
    return files;
  }
  const forge = loadForge();
  let ca: { cert: forgeTypes.pki.Certificate; key: forgeTypes.pki.PrivateKey } | undefined;
  if (fs.existsSync(files.caKey) && x509(files.caCert)) {
    ca = {
      cert: forge.pki.certificateFromPem(fs.readFileSync(files.caCert, 'utf8')),
      key: forge.pki.privateKeyFromPem(fs.readFileSync(files.caKey, 'utf8')),
    };
  } else {
    const keys = rsaKey(forge);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = certificateSerial(random);
    cert.validity.notBefore = new Date(now.getTime() - DAY);
    cert.validity.notAfter = new Date(now.getTime() + CA_DAYS * DAY);
    const subject = [
      { name: 'commonName', value: 'orgplane local CA' },
      { name: 'organizationName', value: 'orgplane' },
    ];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(keys.privateKey, forge.md.sha256.create());
    // Key first: a CA certificate without its key would be useless after a crash.
    writeAtomic(files.caKey, forge.pki.privateKeyToPem(keys.privateKey), 0o600, undefined);
    writeAtomic(files.caCert, forge.pki.certificateToPem(cert), 0o644, undefined);
    ca = { cert, key: keys.privateKey };
    fs.rmSync(files.serverCert, { force: true });
  }
  // Here the server certificate is missing, expiring or not this CA's (current() said so): a new one.
  {
    const keys = rsaKey(forge);
    const cert = forge.pki.createCertificate();
    cert.publicKey = keys.publicKey;
    cert.serialNumber = certificateSerial(random);
    cert.validity.notBefore = new Date(now.getTime() - DAY);
    cert.validity.notAfter = new Date(now.getTime() + SERVER_DAYS * DAY);
    cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
    cert.setIssuer(ca.cert.subject.attributes);
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
      { name: 'subjectKeyIdentifier' },
    ]);
    cert.sign(ca.key as forgeTypes.pki.rsa.PrivateKey, forge.md.sha256.create());
    const pem = forge.pki.certificateToPem(cert);
    // What PostgreSQL's OpenSSL will read: a certificate it cannot parse fails here, not at a compute's start.
    const caPem = forge.pki.certificateToPem(ca.cert);
    if (!new crypto.X509Certificate(pem).checkIssued(new crypto.X509Certificate(caPem)))
      throw new Error('the new server certificate does not name the local CA as its issuer');
    writeAtomic(files.serverKey, forge.pki.privateKeyToPem(keys.privateKey), 0o600, owner);
    writeAtomic(files.serverCert, pem, 0o644, owner);
  }
  return files;
}
