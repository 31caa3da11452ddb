// The local CA and server certificate are what PostgreSQL's OpenSSL will read: strict DER, whatever the
// random bytes. A zero first random byte once made a serial OpenSSL refuses ("illegal padding").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { certificateSerial, ensureTls } from './tls.ts';

const zeros = (n: number) => Buffer.alloc(n, 0);
const ones = (n: number) => Buffer.alloc(n, 0xff);

test('serials are 16 bytes, positive and minimally encoded for any random bytes', () => {
  for (const random of [zeros, ones, (n: number) => Buffer.from([0x00, 0x05, ...Buffer.alloc(n - 2, 1)])]) {
    const hex = certificateSerial(random);
    assert.equal(hex.length, 32);
    const first = parseInt(hex.slice(0, 2), 16);
    assert.ok(first >= 0x40 && first <= 0x7f, hex);
  }
});

test('certificates made from all-zero random bytes load in OpenSSL; an unreadable one is made again', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'orgplane-tls-'));
  try {
    const files = ensureTls(dir, undefined, new Date(), zeros);
    const ca = new crypto.X509Certificate(fs.readFileSync(files.caCert));
    const server = new crypto.X509Certificate(fs.readFileSync(files.serverCert));
    assert.ok(server.checkIssued(ca) && server.verify(ca.publicKey));
    assert.equal(server.serialNumber.slice(0, 2), '40');

    // A server certificate OpenSSL cannot read (as an older orgplane could leave): replaced at the next
    // start, under the same CA, instead of failing every compute.
    fs.writeFileSync(files.serverCert, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    ensureTls(dir, undefined, new Date());
    const again = new crypto.X509Certificate(fs.readFileSync(files.serverCert));
    assert.ok(again.checkIssued(ca));
    assert.equal(new crypto.X509Certificate(fs.readFileSync(files.caCert)).fingerprint256, ca.fingerprint256);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
