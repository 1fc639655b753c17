// `trustmap inventory ...` end to end: the CLI through tsx, real SQLite files in a temp dir, the
// real listings in test/fixtures/k8s.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { AttributionIndex } from '../../collector/identity/attribute.js';
import { openStore } from '../../collector/store/db.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIX = join(ROOT, 'test/fixtures/k8s');
const dir = mkdtempSync(join(tmpdir(), 'trustmap-inv-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cli(args: string[], input?: string) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'trustmap.ts'), ...args], {
    cwd: ROOT, input, encoding: 'utf8', env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn' }, timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('trustmap inventory', () => {
  const db = join(dir, 'inv.db');

  it('loads JSON and YAML listings, and from standard input', () => {
    const r = cli(['inventory', 'load', '--db', db, join(FIX, 'services1-pods-list.yaml'), join(FIX, 'services1-services-list.yaml')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /services1-pods-list\.yaml: snapshot 1 .* pods 11/);
    assert.match(r.stdout, /services1-services-list\.yaml: snapshot 2 .* services 5/);
    const again = cli(['inventory', 'load', '--db', db, join(FIX, 'services1-pods-list.yaml')]);
    assert.equal(again.code, 0);
    assert.match(again.stderr, /already loaded as snapshot 1/);
    const stdin = cli(['inventory', 'load', '--db', db, '--json', '-'], readFileSync(join(FIX, 'services1-ns-list.yaml'), 'utf8'));
    assert.equal(stdin.code, 0, stdin.stderr);
    assert.equal((JSON.parse(stdin.stdout) as Array<{ objects: number }>)[0].objects, 6);
  });

  it('lists workloads with addresses and SPIFFE identities', () => {
    const r = cli(['inventory', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ingress-nginx\s+ingress-nginx-controller \*\s+Deployment\s+ingress-nginx\s+172\.17\.0\.3\s+spiffe:\/\/cluster\.local\/ns\/ingress-nginx\/sa\/ingress-nginx/);
    const j = cli(['inventory', 'list', '--db', db, '--json', '--trust-domain', 'example.org']);
    const parsed = JSON.parse(j.stdout) as { workloads: Array<{ name: string; spiffe: string }>; services: unknown[] };
    assert.equal(parsed.workloads.find((w) => w.name === 'coredns')?.spiffe, 'spiffe://example.org/ns/kube-system/sa/coredns');
    assert.equal(parsed.services.length, 5);
  });

  it('refuses a file that is not JSON or YAML with one line and exit 2, loading nothing of it', () => {
    const bad = join(dir, 'not-yaml.yaml');
    writeFileSync(bad, 'kind: List\nitems: [\n  {kind: Pod, metadata: {name: a}\n');
    const r = cli(['inventory', 'load', '--db', db, bad]);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^error: .*not-yaml\.yaml: not JSON or YAML/);
    const s = openStore(db);
    try {
      assert.equal((s.prepare('SELECT count(*) AS n FROM inventory_snapshots').get() as { n: number }).n, 3);
    } finally {
      s.close();
    }
  });

  it('says clearly when kubectl is not on PATH', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'trustmap.ts'), 'inventory', 'snapshot', '--db', db], {
      cwd: ROOT, encoding: 'utf8', env: { ...process.env, PATH: dir, TRUSTMAP_LOG_LEVEL: 'warn' },
    });
    assert.equal(r.status, 2);
    assert.equal(r.stderr, 'error: kubectl is not on PATH; install it, or save a listing and use "trustmap inventory load FILE"\n');
  });

  // The testbed (test/testbed/) writes this file when it runs; attribute every pod IP in it then.
  const demo = join(ROOT, 'test/testbed/demo/inventory.json');
  it('attributes every pod IP of the testbed demo inventory', { skip: existsSync(demo) ? false : 'test/testbed/demo/inventory.json not generated yet' }, () => {
    const file = join(dir, 'demo.db');
    const r = cli(['inventory', 'load', '--db', file, demo]);
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(readFileSync(demo, 'utf8')) as { items: Array<{ kind: string; metadata: { name: string; creationTimestamp?: string }; spec?: { hostNetwork?: boolean }; status?: { podIP?: string; phase?: string } }> };
    const s = openStore(file);
    const ix = AttributionIndex.fromDb(s);
    s.close();
    const pods = doc.items.filter((i) => i.kind === 'Pod' && i.status?.podIP && !i.spec?.hostNetwork && i.status.phase === 'Running');
    assert.ok(pods.length > 0);
    for (const p of pods) {
      const e = ix.attribute(p.status!.podIP!, Date.parse(p.metadata.creationTimestamp ?? '') + 1000);
      assert.equal(e.kind, 'workload', `${p.metadata.name} ${p.status!.podIP}: ${JSON.stringify(e)}`);
    }
  });
});
