// Issue 3, "checked against a peer": every fixture capture goes through the real CLI into a fresh
// SQLite store, and what trustmap recorded is compared with what tshark (an independent decoder)
// reads in the same file: requests (method, templated path, host, per client/server/port), TLS
// connections (SNI, ALPN, verdict), DNS queries and response status classes. Expected values are
// computed from tshark's output at test time (test/helpers/tshark-peer.ts applies only the
// documented rules to it); no value is copied from trustmap's output.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { peerRows, sortedEntries as sorted, trustmapSeen, tsharkSeen, type Call } from '../helpers/tshark-peer.js';

const FIX = new URL('../fixtures/pcap/', import.meta.url).pathname;
const haveTshark = spawnSync('tshark', ['--version']).status === 0;

/** `-d` options per fixture, read from the "tshark needs `-d …`" notes in ATTRIBUTION.md. */
function decodeAsFromAttribution(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of readFileSync(join(FIX, 'ATTRIBUTION.md'), 'utf8').split('\n')) {
    const file = /^\| pcap\/([^ |]+) \|/.exec(line)?.[1];
    if (!file) continue;
    const opts = [...line.matchAll(/`-d ([^`]+)`/g)].flatMap((m) => ['-d', m[1]]);
    if (opts.length > 0) out.set(file, opts);
  }
  return out;
}

const decodeAs = decodeAsFromAttribution();
const captures = readdirSync(FIX).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

test('the decode-as notes of ATTRIBUTION.md are found (the h2c fixtures on non-standard ports need them)', () => {
  assert.deepEqual(decodeAs.get('grpc-h2c-full-connection.pcap'), ['-d', 'tcp.port==38888,http2']);
  assert.deepEqual(decodeAs.get('grpc-h2c-k8s-cartservice-midstream.pcap'), ['-d', 'tcp.port==7070,http2']);
});

for (const file of captures) {
  // A file tshark cannot read to the end (the corrupt fixtures) has no peer answer; collect-pcap.test.ts covers them.
  const readable = haveTshark && spawnSync('tshark', ['-r', join(FIX, file), '-T', 'fields', '-e', 'frame.number'], { stdio: 'ignore' }).status === 0;
  const skip = !haveTshark ? 'tshark is not installed (apt-get install tshark)' : !readable ? 'tshark cannot read this capture either' : false;
  test(`${file}: the same requests, TLS hellos, DNS queries and statuses as tshark`, { skip, timeout: 30_000 }, () => {
    const expected = tsharkSeen(peerRows(join(FIX, file), decodeAs.get(file) ?? []));

    const db = join(tempDir('tm-peer-'), 'store.db');
    const r = runCli(['collect', 'pcap', '--db', db, join(FIX, file)]);
    assert.equal(r.code, 0, r.stderr);
    const out = runCli(['calls', '--json', '--db', db]);
    assert.equal(out.code, 0, out.stderr);
    const actual = trustmapSeen(JSON.parse(out.stdout) as Call[]);

    assert.deepEqual(sorted(actual.requests), sorted(expected.requests), 'HTTP/1, HTTP/2 and gRPC requests');
    assert.deepEqual(sorted(actual.tls), sorted(expected.tls), 'TLS connections: SNI, ALPN, verdict');
    assert.deepEqual(sorted(actual.dns), sorted(expected.dns), 'DNS queries per client and server');
    assert.deepEqual(sorted(actual.status), sorted(expected.status), 'response status classes');
  });
}

test('the peer comparison covers every application protocol and is not vacuous', { skip: haveTshark ? false : 'tshark is not installed' }, () => {
  // Guards the loop above against a tshark that silently decodes nothing (wrong fields, missing
  // decode-as): the fixtures hold requests, TLS hellos and DNS queries, per tshark itself.
  const total = { requests: 0, grpc: 0, tls: 0, dns: 0 };
  for (const file of ['http1-get-full-handshake.pcap', 'grpc-h2c-full-connection.pcap', 'tls12-mutual-auth-certrequest.pcap', 'dns-k8s-tcp.pcap']) {
    const seen = tsharkSeen(peerRows(join(FIX, file), decodeAs.get(file) ?? []));
    for (const [k, n] of seen.requests) { total.requests += n; if (k.startsWith('grpc ')) total.grpc += n; }
    for (const n of seen.tls.values()) total.tls += n;
    for (const n of seen.dns.values()) total.dns += n;
  }
  assert.deepEqual(total, { requests: 2, grpc: 1, tls: 1, dns: 2 });
});
