// `trustmap serve` over HTTP as the page uses it: the built binary, a real SQLite store with the
// demo ingested through the CLI, every endpoint, bad parameters, security headers, and the token
// rules off loopback.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { runCli } from '../helpers/cli.js';
import { serve, type Served } from '../helpers/serve.js';
import { hubbleDroppedStore } from '../helpers/hubble-dropped.js';
import { tempDir } from '../helpers/ingest.js';
import { httpConnection, pcapFile } from '../helpers/packets.js';

const DEMO = new URL('../testbed/demo/', import.meta.url).pathname;
const TOKEN = 'test-token-0123456789abcdef';

async function stop(s: Served | undefined): Promise<void> {
  if (!s || s.child.exitCode !== null) return;
  s.child.kill('SIGTERM');
  await once(s.child, 'exit');
}

function demoStore(): string {
  const db = join(tempDir('tm-ui-api-'), 'demo.db');
  for (const args of [['collect', 'pcap', '--db', db, join(DEMO, 'capture.pcap')], ['inventory', 'load', '--db', db, join(DEMO, 'inventory.json')]]) {
    const r = runCli(args);
    assert.equal(r.code, 0, r.stderr);
  }
  return db;
}

async function problem(res: Response, status: number): Promise<{ type: string; title: string; status: number; detail: string }> {
  const text = await res.text();
  assert.equal(res.status, status, text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const body = JSON.parse(text) as { type: string; title: string; status: number; detail: string };
  assert.deepEqual(Object.keys(body).sort(), ['detail', 'status', 'title', 'type']);
  assert.equal(body.status, status);
  assert.doesNotMatch(text, /\bat \S+ \(|node_modules|\.ts:\d+/, 'no stack trace');
  return body;
}

interface GraphBody {
  level: string;
  nodes: Array<{ id: string; kind: string; namespace: string | null }>;
  edges: Array<{ source: string; target: string; count: number; calls: Array<{ protocol: string; security: string; port: number }> }>;
}

describe('trustmap serve: the API on loopback', { timeout: 120_000 }, () => {
  let s: Served | undefined;
  const get = (path: string, init?: RequestInit) => fetch(new URL(path, s!.url), init);
  const json = async <T>(path: string): Promise<T> => {
    const r = await get(path);
    assert.equal(r.status, 200, await r.clone().text());
    assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    return (await r.json()) as T;
  };

  before(async () => { s = await serve(['--db', demoStore(), '--port', '0']); });
  after(async () => { await stop(s); });

  it('binds 127.0.0.1 by default', () => {
    assert.match(s!.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('sends the security headers on the page, the API and errors', async () => {
    for (const path of ['/', '/api/summary', '/api/graph?level=nope', '/nope']) {
      const r = await get(path);
      const csp = r.headers.get('content-security-policy') ?? '';
      for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
        "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"]) assert.ok(csp.split('; ').includes(d), `${path}: ${d} in ${csp}`);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(r.headers.get('x-powered-by'), null);
    }
  });

  it('serves a page with no inline script or style, and its bundle', async () => {
    const html = await (await get('/')).text();
    assert.match(html, /<script type="module" src="\/app\.js"><\/script>/);
    assert.doesNotMatch(html, /<script>|<script type="module">|<style|style=|https?:\/\//);
    const js = await get('/app.js');
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const code = await js.text();
    assert.ok(code.length > 10_000, 'd3 is bundled');
    assert.doesNotMatch(code, /https?:\/\/(cdn|unpkg|fonts\.googleapis|cdnjs)/);
    assert.equal((await get('/app.css')).status, 200);
  });

  it('summary: counts, window, namespaces, captures', async () => {
    const sum = await json<{ counts: Record<string, number>; window: { first_seen: string; last_seen: string }; namespaces: string[]; captures: Array<{ packets: number }> }>('/api/summary');
    assert.ok(sum.counts.calls > 100 && sum.counts.nodes > 10 && sum.counts.edges > 10, JSON.stringify(sum.counts));
    assert.equal(sum.counts.captures, 1);
    assert.equal(sum.captures[0].packets, 6378);
    assert.ok(sum.window.first_seen < sum.window.last_seen);
    for (const ns of ['shop', 'payments', 'legacy', 'monitoring']) assert.ok(sum.namespaces.includes(ns), ns);
  });

  it('graph: levels and filters', async () => {
    const all = await json<GraphBody>('/api/graph');
    assert.equal(all.level, 'workload');
    const ids = new Set(all.nodes.map((n) => n.id));
    for (const id of ['shop/frontend', 'shop/cart', 'payments/payments', 'legacy/report-job']) assert.ok(ids.has(id), id);
    for (const e of all.edges) assert.ok(ids.has(e.source) && ids.has(e.target), `${e.source} -> ${e.target}`);

    const lean = await json<GraphBody>('/api/graph?hide_infra=true');
    assert.ok(lean.edges.length < all.edges.length);
    for (const e of lean.edges) {
      assert.ok(!e.source.startsWith('node:'), 'no kubelet probes');
      for (const c of e.calls) assert.ok(c.protocol !== 'dns' && c.port !== 15020, `${e.source} -> ${e.target}:${c.port}`);
    }
    const mtls = await json<GraphBody>('/api/graph?security=mtls');
    assert.ok(mtls.edges.length > 0);
    for (const e of mtls.edges) for (const c of e.calls) assert.equal(c.security, 'mtls');
    const dns = await json<GraphBody>('/api/graph?protocol=dns&protocol=http');
    assert.ok(dns.edges.some((e) => e.calls.some((c) => c.protocol === 'dns')));
    for (const e of dns.edges) for (const c of e.calls) assert.ok(['dns', 'http'].includes(c.protocol));
    const shop = await json<GraphBody>('/api/graph?namespace=payments');
    for (const e of shop.edges) {
      const ns = [e.source, e.target].map((id) => shop.nodes.find((n) => n.id === id)?.namespace);
      assert.ok(ns.includes('payments'), `${e.source} -> ${e.target}`);
    }
    const byNs = await json<GraphBody>('/api/graph?level=namespace');
    assert.equal(byNs.level, 'namespace');
    const window = await json<GraphBody>('/api/graph?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z');
    assert.equal(window.edges.length, 0);
  });

  it('one workload: callers, callees and their calls', async () => {
    const d = await json<{ node: { id: string; kind: string }; callers: Array<{ peer: string; calls: Array<{ port: number }> }>; callees: Array<{ peer: string }>; readiness: unknown }>('/api/workloads/shop/frontend');
    assert.equal(d.node.id, 'shop/frontend');
    assert.ok(d.callers.some((c) => c.peer === 'istio-system/istio-ingressgateway' && c.calls.some((x) => x.port === 8080)));
    assert.ok(d.callees.some((c) => c.peer === 'shop/cart'));
    // Its verdict is the readiness report's, and left out on request.
    const report = await json<{ namespaces: Array<{ namespace: string; workloads: Array<{ name: string; verdict: string }> }> }>('/api/readiness');
    const want = report.namespaces.find((n) => n.namespace === 'shop')?.workloads.find((w) => w.name === 'frontend' || w.name === 'shop/frontend');
    assert.ok(want !== undefined);
    assert.deepEqual(d.readiness, want);
    const lean = await json<{ readiness: unknown; namespace_readiness: unknown; callers: unknown[] }>('/api/workloads/shop/frontend?readiness=false');
    assert.equal(lean.readiness, null);
    assert.equal(lean.namespace_readiness, null);
    assert.equal(lean.callers.length, d.callers.length);
    const node = await json<{ node: { kind: string }; callees: unknown[] }>(`/api/node?id=${encodeURIComponent('node:tm-node-1')}`);
    assert.equal(node.node.kind, 'node');
    assert.ok(node.callees.length > 5);
    // A namespace or service of the map is found at its level (the workload graph has no node "shop").
    const ns = await json<{ node: { kind: string }; callers: unknown[] }>('/api/node?id=shop&level=namespace');
    assert.equal(ns.node.kind, 'namespace');
    assert.ok(ns.callers.length > 0);
    await problem(await get('/api/node?id=shop'), 404);
    await problem(await get('/api/workloads/shop/no-such-thing'), 404);
  });

  it('readiness and policies: answered by the analyzer, or 501 until it is there', async () => {
    const sum = await json<{ features: { readiness: boolean; policies: boolean; policy_formats: string[] } }>('/api/summary');
    const r = await get('/api/readiness');
    if (sum.features.readiness) {
      assert.equal(r.status, 200);
      const rep = (await r.json()) as { verdict: string; namespaces: Array<{ namespace: string; verdict: string }> };
      assert.ok(rep.namespaces.some((n) => n.namespace === 'shop'));
    } else {
      await problem(r, 501);
    }
    const fmt = sum.features.policy_formats[0] ?? 'istio';
    const p = await get(`/api/policies/${fmt}`);
    if (!sum.features.policies) { await problem(p, 501); return; }
    assert.equal(p.status, 200);
    const set = (await p.json()) as { files: Array<{ yaml: string }>; workloads: Record<string, string> };
    assert.ok(set.files.length > 0);
    const dl = await get(`/api/policies/${fmt}/download?namespace=shop`);
    assert.equal(dl.status, 200);
    assert.match(dl.headers.get('content-disposition') ?? '', /^attachment; filename="trustmap-[a-z0-9-]+-shop\.yaml"$/);
    assert.match(dl.headers.get('content-type') ?? '', /yaml/);
    const one = Object.keys(set.workloads)[0];
    const w = await json<{ workload: string; yaml: string | null }>(`/api/policies/${fmt}?workload=${encodeURIComponent(one)}`);
    assert.equal(w.workload, one);
    await problem(await get('/api/policies/no-such-format'), 400);
  });

  it('policies: every format answers YAML that parses into objects; an unknown format or granularity is a 400', async () => {
    const { formats } = await json<{ formats: string[] }>('/api/policies/formats');
    assert.deepEqual([...formats].sort(), ['cilium', 'istio', 'linkerd', 'netpol']);
    for (const fmt of formats) {
      const set = await json<{ format: string; files: Array<{ namespace: string; filename: string; yaml: string }>; blockers: unknown[] }>(`/api/policies/${fmt}?namespace=shop`);
      assert.equal(set.format, fmt);
      assert.deepEqual(set.files.map((f) => f.namespace), ['shop'], fmt);
      const docs = parseAllDocuments(set.files[0].yaml);
      assert.ok(docs.length > 1, fmt);
      for (const d of docs) {
        assert.deepEqual(d.errors, [], fmt);
        const o = d.toJSON() as { apiVersion: string; kind: string; metadata: { namespace: string } };
        assert.equal(o.metadata.namespace, 'shop', `${fmt} ${o.kind}`);
      }
    }
    await problem(await get('/api/policies/kyverno'), 400);
    const g = await problem(await get('/api/policies/istio?granularity=everything'), 400);
    assert.match(g.detail, /query\.granularity/);
  });

  it('calls: the recorded rows, limited', async () => {
    const rows = await json<Array<{ src_ip: string; count: number }>>('/api/calls?limit=5');
    assert.equal(rows.length, 5);
    const every = await json<unknown[]>('/api/calls');
    assert.ok(every.length > 5);
  });

  it('a bad parameter is a 400 problem naming it, never a 500', async () => {
    const bad: Array<[string, RegExp]> = [
      ['/api/graph?level=pods', /query\.level/],
      ['/api/graph?since=yesterday', /query\.since/],
      ['/api/graph?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z', /since must be before until/],
      ['/api/graph?namespace=Not_A_Namespace', /query\.namespace/],
      ['/api/graph?protocol=smtp', /query\.protocol/],
      ['/api/graph?security=sort-of', /query\.security/],
      ['/api/graph?hide_infra=maybe', /query\.hide_infra/],
      ['/api/graph?nonsense=1', /nonsense/],
      ['/api/graph?level=workload&level=service', /query\.level/],
      ['/api/summary?x=1', /x/],
      ['/api/calls?limit=0', /query\.limit/],
      ['/api/calls?limit=abc', /query\.limit/],
      ['/api/calls?limit=99999999', /query\.limit/],
      ['/api/readiness?min_window=forever', /query\.min_window/],
      ['/api/node?id=', /query\.id/],
      ['/api/node', /query\.id/],
      ['/api/node?id=shop%2Ffrontend&readiness=perhaps', /query\.readiness/],
      ['/api/node?id=shop&level=cluster', /query\.level/],
      ['/api/workloads/Shop/frontend', /path\.namespace/],
      ['/api/workloads/shop/x%3Cscript%3E', /path\.name/],
      ['/api/policies/istio?workload=no-slash', /query\.workload/],
      ['/api/policies/istio?istio_version=latest', /query\.istio_version/],
      ['/api/policies/Bad%20Format', /path\.format/],
    ];
    for (const [path, detail] of bad) {
      const body = await problem(await get(path), 400);
      assert.match(body.detail, detail, path);
      assert.equal(body.type, 'urn:trustmap:problem:invalid-parameter');
    }
  });

  it('unknown routes are 404 problems; foreign Host headers are refused (DNS rebinding)', async () => {
    await problem(await get('/api/nope'), 404);
    await problem(await get('/nope'), 404);
    await problem(await get('/api/summary', { method: 'DELETE' }), 404);
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const u = new URL(s!.url);
      request({ host: u.hostname, port: u.port, path: '/api/summary', headers: { host: 'evil.example:80' } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); })
        .on('error', reject).end();
    });
    assert.equal(status, 421);
  });
});

describe('trustmap serve --min-window: the policies agree with the readiness page', { timeout: 60_000 }, () => {
  it('PeerAuthentication is STRICT exactly for the workloads /api/readiness calls ready', async () => {
    const s = await serve(['--db', demoStore(), '--port', '0', '--min-window', '1s']);
    try {
      const rep = await (await fetch(new URL('/api/readiness', s.url))).json() as { namespaces: Array<{ namespace: string; workloads: Array<{ name: string; verdict: string }> }> };
      const ready = new Set(rep.namespaces.flatMap((n) => n.workloads.filter((w) => w.verdict === 'ready').map((w) => `${n.namespace}/${w.name}`)));
      assert.ok(ready.size > 0, 'the demo has ready workloads at a 1 s window');
      const set = await (await fetch(new URL('/api/policies/istio', s.url))).json() as { files: Array<{ yaml: string }> };
      const pas = set.files.flatMap((f) => parseAllDocuments(f.yaml).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: { selector?: unknown; mtls: { mode: string } } }))
        .filter((o) => o.kind === 'PeerAuthentication' && o.spec.selector !== undefined);
      assert.ok(pas.length > 0);
      for (const pa of pas) {
        const id = `${pa.metadata.namespace}/${pa.metadata.name}`;
        assert.equal(pa.spec.mtls.mode, ready.has(id) ? 'STRICT' : 'PERMISSIVE', id);
      }
      assert.ok(pas.some((p) => p.spec.mtls.mode === 'STRICT'));
    } finally {
      await stop(s);
    }
  });
});

describe('trustmap serve: a store that changes under it', { timeout: 60_000 }, () => {
  it('answers from what is in the store now: a collector\'s commit shows at the next request', async () => {
    const db = demoStore();
    const s = await serve(['--db', db, '--port', '0']);
    try {
      const get = async <T>(path: string): Promise<T> => {
        const r = await fetch(new URL(path, s.url));
        assert.equal(r.status, 200);
        return (await r.json()) as T;
      };
      const before = await get<{ counts: { calls: number; call_rows: number } }>('/api/summary');
      const graphBefore = await get<GraphBody>('/api/graph');
      // The same answers twice while nothing changes.
      assert.deepEqual(await get<GraphBody>('/api/graph'), graphBefore);
      const capture = join(tempDir('tm-ui-more-'), 'more.pcap');
      writeFileSync(capture, pcapFile(httpConnection({
        client: '10.77.0.1', server: '10.77.0.2', cport: 40100, sport: 8080, t0: Date.parse('2026-01-01T00:00:00Z'),
        requests: [1, 2, 3].map((i) => ({ req: `GET /more/${i} HTTP/1.1\r\nHost: more\r\n\r\n`, resp: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n' })),
      })));
      const r = runCli(['collect', 'pcap', '--db', db, capture]);
      assert.equal(r.code, 0, r.stderr);
      const after = await get<{ counts: { calls: number; call_rows: number } }>('/api/summary');
      assert.equal(after.counts.calls, before.counts.calls + 3);
      const graphAfter = await get<GraphBody>('/api/graph');
      assert.equal(graphAfter.edges.length, graphBefore.edges.length + 1);
      assert.ok(graphAfter.nodes.some((n) => n.id.includes('10.77.0.2')), 'the new server address is a node');
    } finally {
      await stop(s);
    }
  });
});

describe('trustmap serve: off loopback', { timeout: 60_000 }, () => {
  it('refuses to start without a token: exit 2, one line', async () => {
    const db = demoStore();
    const r = runCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0'], { env: { TRUSTMAP_TOKEN: '' } });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^error: refusing to serve on 0\.0\.0\.0 without a token[^\n]*\n$/);
    const short = runCli(['serve', '--db', db, '--host', '0.0.0.0', '--port', '0'], { env: { TRUSTMAP_TOKEN: 'short' } });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /^error: the token must be at least 16 characters[^\n]*\n$/);
    const missing = runCli(['serve', '--db', join(tempDir(), 'none.db'), '--port', '0']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^error: no store at [^\n]*none\.db: record calls into it first [^\n]*\n$/);
    // An empty file, or another program's SQLite database: refused at start, not a 500 on every request.
    const zero = join(tempDir(), 'zero.db');
    writeFileSync(zero, '');
    const empty = runCli(['serve', '--db', zero, '--port', '0']);
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /^error: [^\n]*zero\.db is not a trustmap store \(it has no trustmap tables\): record calls into it first [^\n]*\n$/);
  });

  for (const how of ['TRUSTMAP_TOKEN', '--token-file'] as const) {
    it(`with a token (${how}): 401 without it, bearer and login cookie accepted`, async () => {
      const dir = tempDir();
      const file = join(dir, 'token');
      writeFileSync(file, `${TOKEN}\n`);
      chmodSync(file, 0o600);
      const args = ['--db', demoStore(), '--host', '0.0.0.0', '--port', '0', ...(how === '--token-file' ? ['--token-file', file] : [])];
      const s = await serve(args, how === 'TRUSTMAP_TOKEN' ? { TRUSTMAP_TOKEN: TOKEN } : {});
      try {
        const base = s.url.replace('0.0.0.0', '127.0.0.1');
        const at = (p: string, init?: RequestInit) => fetch(new URL(p, base), { redirect: 'manual', ...init });
        const denied = await at('/api/summary');
        await problem(denied, 401);
        assert.match(denied.headers.get('www-authenticate') ?? '', /^Bearer/);
        await problem(await at('/api/graph', { headers: { authorization: 'Bearer wrong-token-but-long-enough' } }), 401);
        assert.equal((await at('/api/graph', { headers: { authorization: `Bearer ${TOKEN}` } })).status, 200);
        assert.equal((await at('/login')).status, 200);

        const form = (token: string, origin?: string, next?: string) => at('/api/login', {
          method: 'POST', body: new URLSearchParams({ token, ...(next === undefined ? {} : { next }) }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', ...(origin ? { origin } : {}) },
        });
        const wrong = await form('not-the-token-at-all');
        assert.equal(wrong.status, 303);
        assert.equal(wrong.headers.get('location'), '/login?failed=1');
        assert.equal(wrong.headers.get('set-cookie'), null);
        await problem(await form(TOKEN, 'http://evil.example'), 403);
        const ok = await form(TOKEN);
        assert.equal(ok.status, 303);
        assert.equal(ok.headers.get('location'), '/');
        // Back to the view the user was sent to sign in from; never to another site.
        const VIEW = '/?view=readiness&sort=blockers-desc';
        assert.equal((await form(TOKEN, undefined, VIEW)).headers.get('location'), VIEW);
        assert.equal((await form('not-the-token-at-all', undefined, VIEW)).headers.get('location'), `/login?failed=1&next=${encodeURIComponent(VIEW)}`);
        assert.match(await (await at(`/login?failed=1&next=${encodeURIComponent(VIEW)}`)).text(), /name="next" value="\/\?view=readiness&#38;sort=blockers-desc"/);
        for (const away of ['//evil.example/', '/\\evil.example', 'https://evil.example/', '/api/logout']) {
          await problem(await form(TOKEN, undefined, away), 400);
          assert.match(await (await at(`/login?next=${encodeURIComponent(away)}`)).text(), /name="next" value="\/"/, away);
        }
        const cookie = ok.headers.get('set-cookie') ?? '';
        assert.match(cookie, /HttpOnly/);
        assert.match(cookie, /SameSite=Strict/);
        assert.ok(!cookie.includes(TOKEN), 'the cookie does not carry the token itself');
        const withCookie = await at('/api/summary', { headers: { cookie: cookie.split(';')[0] } });
        assert.equal(withCookie.status, 200);
        const viaJson = await at('/api/login', { method: 'POST', body: JSON.stringify({ token: TOKEN }), headers: { 'content-type': 'application/json' } });
        assert.equal(viaJson.status, 204);
        await problem(await at('/api/login', { method: 'POST', body: '{"token":', headers: { 'content-type': 'application/json' } }), 400);
      } finally {
        await stop(s);
      }
    });
  }
});

describe('trustmap serve: calls Cilium refused (Hubble DROPPED) in a workload\'s callers and callees', { timeout: 60_000 }, () => {
  let s: Served | undefined;
  before(async () => { s = await serve(['--db', hubbleDroppedStore(), '--port', '0']); });
  after(async () => { await stop(s); });

  type Peer = { peer: string; count: number; dropped: number; calls: Array<{ port: number; count: number; dropped?: number }> };
  const details = async (id: string) => {
    const r = await fetch(new URL(`/api/workloads/${id}`, s!.url));
    assert.equal(r.status, 200);
    return (await r.json()) as { callers: Peer[]; callees: Peer[] };
  };
  const summary = (peers: Peer[]) => peers.map((p) => [p.peer, p.count, p.dropped, p.calls.map((c) => [c.port, c.count, c.dropped ?? 0])]);

  it('each peer says how many of its calls were refused, each call too; none where Hubble saw no drop', async () => {
    const d = await details('default/details-v1');
    assert.deepEqual(summary(d.callers), [
      ['default/ratings-v1', 2, 2, [[9080, 2, 2]]],
      ['default/productpage-v1', 1, 0, [[9080, 1, 0]]],
    ]);
    assert.ok(!('dropped' in d.callers[1].calls[0]), 'a call without drops carries no count');
    const r = await details('default/ratings-v1');
    assert.deepEqual(summary(r.callers), [['default/reviews-v2', 2, 1, [[9080, 2, 1]]]]);
    assert.deepEqual(summary(r.callees), [['default/details-v1', 2, 2, [[9080, 2, 2]]]]);
  });
});
