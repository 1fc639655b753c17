// What an ingest records besides calls: DNS answers (address → name) and the certificate
// inventory, through the real CLI, checked against tshark and node:crypto.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';

const FIX = new URL('../fixtures/pcap/', import.meta.url).pathname;

function tshark(file: string, args: string[]): string[][] {
  const out = execFileSync('tshark', ['-r', FIX + file, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return out.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

test('certificates seen in a TLS 1.2 mutual-TLS handshake are inventoried with who presented them', () => {
  const file = 'tls12-mutual-auth-certrequest.pcap';
  const db = join(tempDir(), 'c.db');
  assert.equal(runCli(['collect', 'pcap', '--db', db, FIX + file]).code, 0);
  const r = runCli(['certs', '--json', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  const ours = JSON.parse(r.stdout) as Array<{ fingerprint: string; subject: string; not_after: string; presented_by: Array<{ role: string; ip: string }> }>;
  // tshark: the DER of every certificate, with the address that sent it.
  const expected = new Map<string, string>();
  for (const [src, ders] of tshark(file, ['-Y', 'tls.handshake.type == 11', '-T', 'fields', '-e', 'ip.src', '-e', 'tls.handshake.certificate'])) {
    for (const der of ders.split(',')) {
      const x = new X509Certificate(Buffer.from(der.replace(/:/g, ''), 'hex'));
      expected.set(x.fingerprint256.replace(/:/g, '').toLowerCase(), src);
    }
  }
  assert.equal(ours.length, expected.size);
  for (const c of ours) {
    assert.ok(expected.has(c.fingerprint), `unexpected certificate ${c.subject}`);
    assert.deepEqual(c.presented_by.map((p) => p.ip), [expected.get(c.fingerprint)]);
  }
  const client = ours.filter((c) => c.presented_by[0].role === 'client').map((c) => c.subject).sort();
  assert.deepEqual(client, ['CN=Actalis Client Authentication CA G3,O=Actalis S.p.A.,L=Ponte San Pietro,ST=Bergamo,C=IT', 'CN=johanna@corelight.com'].sort());
  const calls = JSON.parse(runCli(['calls', '--json', '--db', db]).stdout) as Array<{ security: string; security_reason: string }>;
  assert.deepEqual(calls.map((c) => [c.security, c.security_reason]), [['mtls', 'tls1.2 client certificate']]);
});

test('DNS answers name their addresses, by answer name and by query name', () => {
  const file = 'pcapng-multi-interface-dns.pcapng';
  const db = join(tempDir(), 'd.db');
  assert.equal(runCli(['collect', 'pcap', '--db', db, FIX + file]).code, 0);
  const rows = new Database(db, { readonly: true }).prepare('SELECT ip, name FROM dns_names').all() as Array<{ ip: string; name: string }>;
  const got = new Set(rows.map((r) => `${r.ip} ${r.name}`));
  // tshark: every A/AAAA answer with its owner name and the query name.
  const want = new Set<string>();
  for (const [qry, cnames, a, aaaa] of tshark(file, ['-Y', 'dns.flags.response == 1', '-T', 'fields', '-e', 'dns.qry.name', '-e', 'dns.cname', '-e', 'dns.a', '-e', 'dns.aaaa'])) {
    const addrs = [...(a ? a.split(',') : []), ...(aaaa ? aaaa.split(',') : [])];
    // The owner name of an address answer is the end of the CNAME chain, or the query name.
    const owner = cnames ? cnames.split(',').at(-1)! : qry;
    for (const ip of addrs) {
      want.add(`${ip} ${qry.toLowerCase()}`);
      want.add(`${ip} ${owner.toLowerCase()}`);
    }
  }
  assert.ok(want.size > 0);
  assert.deepEqual([...got].sort(), [...want].sort());
});
