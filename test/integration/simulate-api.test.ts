// GET /api/workloads/:ns/:name/denied?format=istio|netpol|cilium through `trustmap serve` (the
// built binary, the demo ingested into a real SQLite store): the proposed policies replayed
// against one workload's calls, as the side panel asks for them; bad parameters are
// problem+json 400s naming the parameter, unknown workloads 404.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SimulationReport } from '../../analyzer/simulate/model.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { serve, type Served } from '../helpers/serve.js';

const DEMO = new URL('../testbed/demo/', import.meta.url).pathname;
type Denied = SimulationReport & { format: string; workload: string };

describe('GET /api/workloads/:ns/:name/denied', { timeout: 120_000 }, () => {
  let s: Served | undefined;
  let db = '';
  const get = (path: string) => fetch(new URL(path, s!.url));

  before(async () => {
    db = join(tempDir('tm-sim-api-'), 'demo.db');
    for (const args of [['collect', 'pcap', '--db', db, join(DEMO, 'capture.pcap')], ['inventory', 'load', '--db', db, join(DEMO, 'inventory.json')]]) {
      assert.equal(runCli(args).code, 0);
    }
    s = await serve(['--db', db, '--port', '0']);
  });
  after(async () => {
    if (s && s.child.exitCode === null) { s.child.kill('SIGTERM'); await once(s.child, 'exit'); }
  });

  it('istio: the plaintext calls into shop/cart would be denied, with the policy and the reason; the same as the CLI says', async () => {
    const r = await get('/api/workloads/shop/cart/denied?format=istio');
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(r.headers.get('cache-control'), 'no-store');
    const body = (await r.json()) as Denied;
    assert.equal(body.workload, 'shop/cart');
    assert.equal(body.format, 'istio');
    assert.ok(body.calls.length > 0);
    for (const c of body.calls) {
      assert.ok(c.source === 'shop/cart' || c.destination === 'shop/cart');
      assert.notEqual(c.verdict, 'allowed');
    }
    const fromFrontend = body.calls.find((c) => c.source === 'shop/frontend' && c.destination === 'shop/cart');
    assert.ok(fromFrontend, JSON.stringify(body.calls));
    assert.equal(fromFrontend.verdict, 'denied');
    assert.match(fromFrontend.findings[0].reason, /plaintext/);
    assert.equal(fromFrontend.findings[0].policy?.kind, 'AuthorizationPolicy');
    assert.equal(body.summary.denied, body.calls.filter((c) => c.verdict === 'denied').length);

    // The same proposal through the CLI denies the same calls of this workload.
    const out = join(tempDir('tm-sim-api-cli-'), 'istio');
    assert.ok([0, 1].includes(runCli(['policy', '--db', db, '--format', 'istio', '--out', out]).code ?? -1));
    const cli = JSON.parse(runCli(['simulate', '--db', db, '--policies', out, '--format', 'json']).stdout) as SimulationReport;
    const key = (c: { source: string; destination: string; port: number; method: string | null; path: string | null }) => `${c.source} ${c.destination} ${c.port} ${c.method} ${c.path}`;
    assert.deepEqual(
      body.calls.filter((c) => c.verdict === 'denied').map(key).sort(),
      cli.calls.filter((c) => c.verdict === 'denied' && (c.source === 'shop/cart' || c.destination === 'shop/cart')).map(key).sort(),
    );
  });

  it('netpol and cilium: nothing the demo does would be denied for shop/checkout', async () => {
    for (const format of ['netpol', 'cilium']) {
      const body = (await (await get(`/api/workloads/shop/checkout/denied?format=${format}`)).json()) as Denied;
      assert.equal(body.summary.denied, 0, format);
      assert.ok(body.summary.calls > 0, format);
      assert.deepEqual(body.calls, []);
    }
  });

  it('bad parameters are problem+json 400s naming the parameter; unknown workloads 404; no stack traces', async () => {
    const cases: Array<[string, number, RegExp]> = [
      ['/api/workloads/shop/cart/denied', 400, /at: query\.format/],
      ['/api/workloads/shop/cart/denied?format=linkerd', 400, /at: query\.format/],
      ['/api/workloads/shop/cart/denied?format=istio&extra=1', 400, /extra|unrecognized/i],
      ['/api/workloads/shop/cart/denied?format=istio&since=yesterday', 400, /at: query\.since/],
      ['/api/workloads/Shop/cart/denied?format=istio', 400, /at: path\.namespace/],
      ['/api/workloads/shop/%3Cscript%3E/denied?format=istio', 400, /at: path\.name/],
      ['/api/workloads/shop/nope/denied?format=istio', 404, /no workload "shop\/nope"/],
    ];
    for (const [path, status, detail] of cases) {
      const r = await get(path);
      const text = await r.text();
      assert.equal(r.status, status, `${path}: ${text}`);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      const p = JSON.parse(text) as { detail: string; status: number };
      assert.equal(p.status, status);
      assert.match(p.detail, detail, path);
      assert.doesNotMatch(text, /\bat \S+ \(|node_modules|\.ts:\d+/);
    }
  });
});
