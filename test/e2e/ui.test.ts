// The web UI in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core): the demo
// map draws every node the API returns, a click opens a node's callers, filters change the map and
// the URL, the readiness page lists blocked namespaces, traffic-derived HTML stays text, and the
// CSP stops inline script. Every wait is bounded; browsers and servers close in finally blocks.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { log } from '../../collector/log.js';
import { beginCapture, updateLiveCapture } from '../../collector/store/captures.js';
import { openStore, type Db } from '../../collector/store/db.js';
import { recordSpoolDrops } from '../../collector/store/outbox.js';
import { storeAnalysis, type Analysis } from '../../ui/api/analysis.js';
import { startServer } from '../../ui/server.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
import { writeSyntheticStore } from '../bench/ui.js';
import { hubbleDroppedStore } from '../helpers/hubble-dropped.js';
import { httpConnection, pcapFile } from '../helpers/packets.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'];
const DEMO = new URL('../testbed/demo/', import.meta.url).pathname;
// Request logs would drown the test output.
log.level = 'warn';

const noBrowser = existsSync(CHROMIUM) ? false : `needs Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run installs it)`;

/** Ingests through the CLI, as a user would. */
function store(inputs: Array<['collect' | 'inventory', string]>): string {
  const db = join(tempDir('tm-ui-e2e-'), 'store.db');
  for (const [what, file] of inputs) {
    const r = runCli(what === 'collect' ? ['collect', 'pcap', '--db', db, file] : ['inventory', 'load', '--db', db, file]);
    assert.equal(r.code, 0, r.stderr);
  }
  return db;
}

interface Server { url: string; port: number; close(): Promise<void> }

/** The UI server in this process (the binary's own start-up is covered by test/integration/ui-api.test.ts). */
async function startServe(file: string, analysis: Analysis = storeAnalysis, port = 0, token: string | null = null): Promise<Server> {
  const db = openStore(file, { readonly: true });
  const running = await startServer({ db, analysis, host: '127.0.0.1', port, token, minWindowMs: 5000 });
  return { url: running.url, port: Number(new URL(running.url).port), close: async () => { await running.close(); db.close(); } };
}

/**
 * Runs `fn` on a fresh page that records what must not happen (script errors, console errors and
 * warnings, dialogs) and closes it afterwards; `fn` gets the list to assert on.
 */
async function withPage(browser: Browser, fn: (page: Page, problems: string[]) => Promise<void>, permissions: string[] = []): Promise<void> {
  // UTC, so the time fields show the same clock as the API's ISO times.
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 }, permissions, timezoneId: 'UTC' });
  page.setDefaultTimeout(10_000);
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`); });
  page.on('dialog', (d) => { problems.push(`dialog: ${d.message()}`); void d.dismiss(); });
  try {
    await fn(page, problems);
  } finally {
    await page.close();
  }
}

async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
}

const nodeCount = (page: Page) => page.locator('svg.map g.node').count();
const edgeCount = (page: Page) => page.locator('svg.map path.edge').count();

async function apiJson<T>(base: string, path: string): Promise<T> {
  const r = await fetch(new URL(path, base));
  assert.equal(r.status, 200, path);
  return (await r.json()) as T;
}

interface ApiGraph { nodes: Array<{ id: string }>; edges: unknown[] }

/**
 * Polls `check` from here until it holds (bounded). page.waitForFunction would evaluate a string
 * in the page, which the page's own CSP (no unsafe-eval) refuses.
 */
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

const edgesAre = (page: Page, n: number) => until(`${n} edges are drawn`, async () => (await edgeCount(page)) === n);

/** Registers, in the current describe, a browser and a server over the demo store for its tests. */
function demoInChromium(): { browser?: Browser; demo?: Server } {
  const fx: { browser?: Browser; demo?: Server } = {};
  before(async () => {
    fx.demo = await startServe(store([['collect', join(DEMO, 'capture.pcap')], ['inventory', join(DEMO, 'inventory.json')]]));
    fx.browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
  });
  after(async () => {
    await fx.browser?.close();
    await fx.demo?.close();
  });
  return fx;
}

/** The demo store plus one more capture record named `name` on `node`, finished by `write`. */
function demoStoreWithCapture(name: string, node: string, write: (db: Db, id: number) => void): string {
  const file = store([['collect', join(DEMO, 'capture.pcap')], ['inventory', join(DEMO, 'inventory.json')]]);
  const db = openStore(file);
  try {
    write(db, beginCapture(db, { source: 'pcap', name, node, fingerprint: null, sizeBytes: 0, nowIso: new Date().toISOString() }));
  } finally {
    db.close();
  }
  return file;
}

describe('the web UI in Chromium', { skip: noBrowser, timeout: 180_000 }, () => {
  const fx = demoInChromium();

  it('draws the demo: as many nodes as the API returns, with labelled namespace boxes and a legend', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      const api = (await (await fetch(new URL('/api/graph', fx.demo!.url))).json()) as { nodes: Array<{ id: string }>; edges: unknown[] };
      assert.ok(api.nodes.length > 10);
      assert.equal(await nodeCount(page), api.nodes.length);
      assert.equal(await page.locator('svg.map path.edge').count(), api.edges.length);
      const boxes = await page.locator('svg.map .cluster-label').allTextContents();
      for (const ns of ['shop', 'payments', 'legacy']) assert.ok(boxes.includes(ns), `${ns} in ${boxes.join(', ')}`);
      assert.match(await page.locator('.legend').textContent() ?? '', /mutual TLS.*plaintext/s);
      assert.equal(await page.locator('button.sign-out').count(), 0, 'no token, nothing to sign out of');
      assert.deepEqual(problems, []);
    });
  });

  it('edge colours follow the API\'s security; hover shows a tooltip; a node drags with its edges; the wheel zooms', async () => {
    const g = await apiJson<{ edges: Array<{ source: string; target: string; security_counts: Record<string, number> }> }>(fx.demo!.url, '/api/graph');
    const COLOURS: Record<string, string> = { mtls: '#1a9850', tls: '#4575b4', plaintext: '#d73027', unknown: '#8c8c8c' };
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      for (const e of g.edges) {
        const present = Object.keys(COLOURS).filter((k) => e.security_counts[k] > 0);
        const want = present.length === 1 ? COLOURS[present[0]] : '#e08214';
        const stroke = await page.locator(`svg.map path.edge[data-source="${e.source}"][data-target="${e.target}"]`).getAttribute('stroke');
        assert.equal(stroke, want, `${e.source} -> ${e.target} (${present.join('+')})`);
      }
      const node = page.locator('svg.map g.node[data-id="shop/cart"]');
      await node.locator('path.shape').hover();
      const tip = page.locator('.map-area .tooltip');
      await tip.waitFor();
      assert.match(await tip.textContent() ?? '', /^shop\/cart.*calls in · \d+ calls out/s);

      const edge = page.locator('svg.map path.edge[data-target="shop/cart"]').first();
      const [nodeBefore, edgeBefore] = [await node.getAttribute('transform'), await edge.getAttribute('d')];
      const box = (await node.locator('path.shape').boundingBox())!;
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 60, box.y + box.height / 2 + 40, { steps: 5 });
      await page.mouse.up();
      assert.notEqual(await node.getAttribute('transform'), nodeBefore, 'the node moved');
      assert.notEqual(await edge.getAttribute('d'), edgeBefore, 'its edge followed');

      const viewport = page.locator('svg.map g.viewport');
      const zoomBefore = await viewport.getAttribute('transform');
      const area = (await page.locator('.map-area').boundingBox())!;
      await page.mouse.move(area.x + area.width / 2, area.y + area.height / 2);
      await page.mouse.wheel(0, -400);
      await until('the map zooms in', async () => (await viewport.getAttribute('transform')) !== zoomBefore);
      const scale = (t: string | null) => Number(/scale\(([\d.]+)/.exec(t ?? '')?.[1] ?? 1);
      assert.ok(scale(await viewport.getAttribute('transform')) > scale(zoomBefore));
      assert.deepEqual(problems, []);
    });
  });

  it('clicking a node opens its callers and calls; the selection is in the URL', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      await page.locator('svg.map g.node[data-id="shop/frontend"]').click();
      const panel = page.locator('aside.panel');
      await panel.locator('table.inbound').waitFor();
      assert.equal(await panel.locator('.panel-title').textContent(), 'shop/frontend');
      const callers = await panel.locator('table.inbound a.peer').allTextContents();
      assert.ok(callers.includes('istio-system/istio-ingressgateway'), callers.join(', '));
      assert.ok((await panel.locator('table.outbound a.peer').allTextContents()).includes('shop/cart'));
      const api = await apiJson<{ readiness: { verdict: string; blockers: unknown[] } }>(fx.demo!.url, '/api/workloads/shop/frontend');
      await panel.locator('section.readiness .verdict-line').waitFor();
      assert.equal(await panel.locator('section.readiness .verdict').textContent(), api.readiness.verdict);
      assert.equal(await panel.locator('section.readiness ul.blockers li').count(), api.readiness.blockers.length);
      assert.match(page.url(), /[?&]node=shop%2Ffrontend/);
      await page.reload();
      await panel.locator('table.inbound').waitFor();
      assert.equal(await panel.locator('.panel-title').textContent(), 'shop/frontend');
      assert.deepEqual(problems, []);
    });
  });

  it('a filter changes what is drawn, to what the API returns for it, and survives a reload', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      const before = await nodeCount(page);
      assert.equal(await page.locator('g.node[data-id="node:tm-node-1"]').count(), 1);
      await page.locator('input[name="hide-infra"]').check();
      await until('the map changes', async () => (await nodeCount(page)) !== before);
      const lean = (await (await fetch(new URL('/api/graph?hide_infra=true', fx.demo!.url))).json()) as { nodes: unknown[] };
      assert.equal(await nodeCount(page), lean.nodes.length);
      assert.equal(await page.locator('g.node[data-id="node:tm-node-1"]').count(), 0, 'kubelet probes hidden');
      assert.match(page.url(), /infra=hide/);
      await page.reload();
      await page.waitForSelector('body[data-ready="true"]');
      assert.equal(await nodeCount(page), lean.nodes.length);
      assert.ok(await page.locator('input[name="hide-infra"]').isChecked());
      assert.deepEqual(problems, []);
    });
  });

  it('the readiness page lists the blocked namespaces and links into the map', async (t) => {
    const summary = (await (await fetch(new URL('/api/summary', fx.demo!.url))).json()) as { features: { readiness: boolean } };
    if (!summary.features.readiness) { t.skip('the readiness check (analyzer/readiness.ts) is not there yet'); return; }
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, new URL('/?view=readiness', fx.demo!.url).href);
      await page.locator('table.ns-readiness').waitFor();
      const blocked = await page.locator('table.ns-readiness tr[data-verdict="blocked"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-namespace')));
      const report = (await (await fetch(new URL('/api/readiness', fx.demo!.url))).json()) as { namespaces: Array<{ namespace: string; verdict: string }> };
      const want = report.namespaces.filter((n) => n.verdict === 'blocked').map((n) => n.namespace).sort();
      assert.ok(want.length > 0, 'the demo has blocked namespaces');
      assert.deepEqual([...blocked].sort(), want);
      await page.locator('table.wl-readiness th button').first().click();
      assert.match(page.url(), /sort=namespace-/);
      await page.locator('table.wl-readiness th[aria-sort="ascending"]', { hasText: /^namespace/ }).waitFor();
      await page.locator('table.wl-readiness a.wl-link').first().click();
      await page.locator('aside.panel .panel-title').waitFor();
      assert.match(page.url(), /node=/);
      assert.deepEqual(problems, []);
    });
  });

  it('the panel shows each format\'s proposed policy as the API has it, with copy and download', async () => {
    const id = 'shop/frontend';
    const formats = ((await (await fetch(new URL('/api/policies/formats', fx.demo!.url))).json()) as { formats: string[] }).formats;
    assert.deepEqual([...formats].sort(), ['cilium', 'istio', 'linkerd', 'netpol']);
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, `${fx.demo!.url}?node=${encodeURIComponent(id)}`);
      const sec = page.locator('aside.panel section.policies');
      assert.deepEqual(await sec.locator('button.tab').allTextContents(), formats);
      for (const format of formats) {
        const want = (await (await fetch(new URL(`/api/policies/${format}?workload=${encodeURIComponent(id)}`, fx.demo!.url))).json()) as { yaml: string | null };
        assert.ok(want.yaml !== null && want.yaml.includes('kind:'), `${format}: the API proposes a policy for ${id}`);
        await sec.locator(`button.tab[data-format="${format}"]`).click();
        await sec.locator(`pre.yaml[data-format="${format}"]`).waitFor();
        assert.equal(await sec.locator('button.tab[aria-selected="true"]').textContent(), format);
        assert.equal(await sec.locator('pre.yaml').textContent(), want.yaml, `${format}: shown as the API has it`);

        await sec.locator('button.copy').click();
        await sec.locator('button.copy', { hasText: 'Copied' }).waitFor();
        assert.equal(await page.evaluate('navigator.clipboard.readText()'), want.yaml, `${format}: copied`);

        const [file] = await Promise.all([page.waitForEvent('download'), sec.locator('a.download').click()]);
        assert.equal(file.suggestedFilename(), `trustmap-${format}-shop-frontend.yaml`);
        assert.equal(readFileSync((await file.path())!, 'utf8'), want.yaml, `${format}: downloaded`);
      }
      assert.deepEqual(problems, []);
    }, ['clipboard-read', 'clipboard-write']);
  });

  it('the panel shows what each proposed policy would deny of the workload\'s calls, as the simulator says', async () => {
    interface Denied { summary: { requests: number; denied: number; indeterminate: number }; calls: Array<{ source: string; verdict: string; count: number; port: number; protocol: string }> }
    const report = await apiJson<{ namespaces: Array<{ namespace: string; workloads: Array<{ name: string; verdict: string }> }> }>(fx.demo!.url, '/api/readiness');
    const blocked = report.namespaces.flatMap((ns) => ns.workloads.filter((w) => w.verdict === 'blocked').map((w) => (w.name.includes('/') ? w.name : `${ns.namespace}/${w.name}`)));
    // A workload whose proposed Istio policy would deny some of its calls (the demo's plaintext callers of a blocked workload).
    let id: string | null = null;
    for (const w of blocked.sort()) {
      const d = await apiJson<Denied>(fx.demo!.url, `/api/workloads/${w}/denied?format=istio`);
      if (d.calls.length > 0) { id = w; break; }
    }
    assert.ok(id !== null, `one of ${blocked.join(', ')} has calls the proposed Istio policy denies`);
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, `${fx.demo!.url}?node=${encodeURIComponent(id!)}`);
      const sec = page.locator('aside.panel section.policies');
      for (const format of ['istio', 'netpol', 'cilium']) {
        const want: Denied = await apiJson<Denied>(fx.demo!.url, `/api/workloads/${id}/denied?format=${format}`);
        await sec.locator(`button.tab[data-format="${format}"]`).click();
        const pane = sec.locator(`.denied[data-format="${format}"]`);
        await pane.locator('button.simulate').click();
        const line = pane.locator('.denied-line');
        await line.waitFor();
        if (want.calls.length === 0) {
          assert.match(await line.textContent() ?? '', new RegExp(`would allow all ${want.summary.requests.toLocaleString('en')} calls`));
          continue;
        }
        assert.ok((await line.textContent() ?? '').includes(`would deny ${want.summary.denied.toLocaleString('en')} and leave ${want.summary.indeterminate.toLocaleString('en')} undecided`), format);
        const rows: string[][] = [];
        for (const tr of await pane.locator('table.denied-calls tbody tr').all()) rows.push(await tr.locator('td').allTextContents());
        assert.deepEqual(rows.map((r) => [r[0], r[2], r[3], r[4]]), want.calls.map((c) => [c.source, `${c.port}/${c.protocol}`, c.count.toLocaleString('en'), c.verdict]), format);
      }
      await sec.locator('button.tab[data-format="linkerd"]').click();
      await sec.locator('.denied[data-format="linkerd"]', { hasText: 'does not evaluate linkerd' }).waitFor();
      assert.deepEqual(problems, []);
    });
  });

  it('exports the map as SVG and PNG', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      const [svg] = await Promise.all([page.waitForEvent('download'), page.locator('button[name="export-svg"]').click()]);
      const svgText = readFileSync((await svg.path())!, 'utf8');
      assert.match(svgText, /^<svg[^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
      assert.ok(svgText.includes('shop/frontend'));
      const [png] = await Promise.all([page.waitForEvent('download'), page.locator('button[name="export-png"]').click()]);
      assert.equal(readFileSync((await png.path())!).subarray(1, 4).toString('latin1'), 'PNG');
      assert.deepEqual(problems, []);
    });
  });

  it('the CSP blocks inline script', async () => {
    // The refused script logs a console error by design: this page's problems are not asserted.
    await withPage(fx.browser!, async (page) => {
      await ready(page, fx.demo!.url);
      // A string, not a function: this file compiles without the DOM library.
      const r = await page.evaluate(`(async () => {
        let violated = '';
        document.addEventListener('securitypolicyviolation', (e) => { violated = e.violatedDirective; });
        const s = document.createElement('script');
        s.textContent = 'window.__ran = 1';
        document.body.append(s);
        const div = document.createElement('div');
        div.innerHTML = '<img src="x" onerror="window.__ran = 2">';
        document.body.append(div);
        await new Promise((done) => setTimeout(done, 300));
        return { ran: window.__ran ?? null, violated };
      })()`) as { ran: number | null; violated: string };
      assert.equal(r.ran, null);
      assert.match(r.violated, /^script-src/);
    });
  });
});

describe('traffic-derived HTML in Chromium', { skip: noBrowser, timeout: 120_000 }, () => {
  const HOST = '<svg/onload=alert(1)>';
  const PATH = '/<img/src=x/onerror=alert(2)>';
  it('is shown as text and runs nothing', async () => {
    const dir = tempDir('tm-ui-xss-');
    const capture = join(dir, 'xss.pcap');
    writeFileSync(capture, pcapFile(httpConnection({
      client: '10.9.0.1', server: '10.9.0.2', cport: 40001, sport: 8080, t0: Date.parse('2026-01-01T00:00:00Z'),
      requests: [{
        req: `GET ${PATH} HTTP/1.1\r\nHost: ${HOST}\r\nUser-Agent: <script>alert(3)</script>\r\n\r\n`,
        resp: 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n',
      }],
    })));
    const s = await startServe(store([['collect', capture]]));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
    try {
      await withPage(browser, async (page, problems) => {
        await ready(page, s.url);
        const g = (await (await fetch(new URL('/api/graph', s.url))).json()) as { edges: Array<{ target: string; calls: Array<{ path: string; host: string }> }> };
        const call = g.edges[0].calls[0];
        assert.ok(call.path.includes('<img') && call.host === HOST, JSON.stringify(call));
        await page.locator(`svg.map g.node[data-id="${g.edges[0].target}"]`).click();
        const panel = page.locator('aside.panel table.inbound');
        await panel.waitFor();
        assert.ok((await panel.textContent())!.includes(call.path), 'the path shows as literal text');
        assert.ok((await panel.textContent())!.includes(`host ${HOST}`), 'the Host header shows as literal text');
        assert.equal(await page.locator('aside.panel img, aside.panel svg[onload], aside.panel script').count(), 0);
        await page.locator('svg.map path.edge').first().hover({ force: true });
        await page.waitForTimeout(300);
        assert.deepEqual(problems, []);
      });
    } finally {
      await browser.close();
      await s.close();
    }
  });
});

describe('calls Cilium refused (Hubble DROPPED) in Chromium', { skip: noBrowser, timeout: 120_000 }, () => {
  it('the panel says which callers and calls were refused, as text, in the table and above it', async () => {
    const s = await startServe(hubbleDroppedStore());
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 });
    try {
      await withPage(browser, async (page, problems) => {
        await ready(page, s.url);
        await page.locator('svg.map g.node[data-id="default/details-v1"]').click();
        const panel = page.locator('aside.panel');
        await panel.locator('table.inbound').waitFor();
        // ratings-v1 was refused both times; productpage-v1 never.
        assert.deepEqual(await panel.locator('ul.refused.inbound li').allTextContents(),
          ['default/ratings-v1: refused by Cilium: 2 of 2 calls (Hubble DROPPED)']);
        const rows = panel.locator('table.inbound tbody tr');
        const row = (peer: string) => rows.filter({ has: page.locator('a.peer', { hasText: peer }) });
        assert.equal(await row('default/ratings-v1').locator('.refused-call').textContent(), 'refused by Cilium: 2 of 2 calls (Hubble DROPPED)');
        assert.equal(await row('default/productpage-v1').locator('.refused-call').count(), 0);
        // A caller refused once of twice, on another workload's panel.
        await page.locator('svg.map g.node[data-id="default/ratings-v1"]').click();
        await panel.locator('.panel-title', { hasText: 'default/ratings-v1' }).waitFor();
        await panel.locator('ul.refused.inbound li').waitFor();
        assert.deepEqual(await panel.locator('ul.refused.inbound li').allTextContents(),
          ['default/reviews-v2: refused by Cilium: 1 of 2 calls (Hubble DROPPED)']);
        assert.deepEqual(await panel.locator('ul.refused.outbound li').allTextContents(),
          ['default/details-v1: refused by Cilium: 2 of 2 calls (Hubble DROPPED)']);
        assert.deepEqual(problems, []);
      });
    } finally {
      await browser.close();
      await s.close();
    }
  });
});

describe('the map\'s controls in Chromium', { skip: noBrowser, timeout: 180_000 }, () => {
  const fx = demoInChromium();

  it('the time window: a preset and the from field narrow the map to what the API returns for that window', async () => {
    const sum = await apiJson<{ window: { first_seen: string; last_seen: string } }>(fx.demo!.url, '/api/summary');
    const whole = await apiJson<ApiGraph>(fx.demo!.url, '/api/graph');
    // A start time (whole seconds: what the field takes) after which the API has fewer edges.
    const last = Date.parse(sum.window.last_seen);
    let since: string | null = null;
    let narrow: ApiGraph | null = null;
    for (let back = 1; back <= 10 && since === null; back++) {
      const iso = new Date(Math.floor(last / 1000) * 1000 - back * 1000).toISOString();
      const g = await apiJson<ApiGraph>(fx.demo!.url, `/api/graph?since=${iso}`);
      if (g.edges.length < whole.edges.length && g.edges.length > 0) { since = iso; narrow = g; }
    }
    assert.ok(since !== null && narrow !== null, 'the demo has calls that end before its last second');
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      assert.equal(await edgeCount(page), whole.edges.length);
      await page.locator('input[name="since"]').fill(since!.slice(0, 19));
      await edgesAre(page, narrow!.edges.length);
      assert.equal(await nodeCount(page), narrow!.nodes.length);
      assert.equal(new URL(page.url()).searchParams.get('since'), since);
      assert.equal(await page.locator('select[name="window"] option:checked').textContent(), 'custom');

      await page.locator('select[name="window"]').selectOption({ label: 'last 1 min' });
      const preset = new Date(last - 60_000).toISOString();
      await page.waitForURL((u) => u.searchParams.get('since') === preset);
      const minute = await apiJson<ApiGraph>(fx.demo!.url, `/api/graph?since=${preset}`);
      await edgesAre(page, minute.edges.length);
      await page.locator('select[name="window"]').selectOption({ label: 'whole recording' });
      await page.waitForURL((u) => !u.searchParams.has('since'));
      await edgesAre(page, whole.edges.length);
      assert.deepEqual(problems, []);
    });
  });

  it('hiding infrastructure traffic removes kubelet probes, scrapes and DNS from the map', async () => {
    const lean = await apiJson<ApiGraph & { edges: Array<{ calls: Array<{ protocol: string }> }> }>(fx.demo!.url, '/api/graph?hide_infra=true');
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, `${fx.demo!.url}?infra=hide`);
      assert.equal(await edgeCount(page), lean.edges.length);
      assert.equal(await page.locator('g.node.kind-node').count(), 0, 'no cluster nodes (kubelet) left');
      assert.equal(await page.locator('g.node[data-id="monitoring/prometheus"]').count(), 0, 'the scraper is gone');
      await page.locator('input[name="hide-infra"]').uncheck();
      await until('the infrastructure edges are back', async () => (await edgeCount(page)) > lean.edges.length);
      assert.ok(await page.locator('g.node[data-id="monitoring/prometheus"]').count() === 1);
      assert.deepEqual(problems, []);
    });
  });

  it('the search box focuses a workload: selected, centred, its panel open; no match says so', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      const search = page.locator('form.search input[name="q"]');
      await search.fill('cart');
      await search.press('Enter');
      await page.locator('aside.panel table.inbound').waitFor();
      assert.equal(await page.locator('aside.panel .panel-title').textContent(), 'shop/cart');
      assert.equal(new URL(page.url()).searchParams.get('node'), 'shop/cart');
      const node = page.locator('svg.map g.node[data-id="shop/cart"]');
      assert.match(await node.getAttribute('class') ?? '', /\bselected\b/);
      // Centred in the map, whatever else moved.
      const area = (await page.locator('.map-area').boundingBox())!;
      await until('shop/cart is in the middle of the map', async () => {
        const b = await node.locator('path.shape').boundingBox();
        return b !== null && Math.abs(b.x + b.width / 2 - (area.x + area.width / 2)) < 30 && Math.abs(b.y + b.height / 2 - (area.y + area.height / 2)) < 30;
      });
      await search.fill('no-such-workload-anywhere');
      await search.press('Enter');
      await page.locator('.notice', { hasText: 'No node matches "no-such-workload-anywhere"' }).waitFor();
      assert.equal(await page.locator('aside.panel .panel-title').textContent(), 'shop/cart', 'the selection stays');
      assert.deepEqual(problems, []);
    });
  });

  it('the readiness overview sorts by a column both ways and a namespace opens the map filtered to it', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, new URL('/?view=readiness', fx.demo!.url).href);
      const rows = page.locator('table.wl-readiness tbody tr');
      const blockerCounts = async () => (await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.children[3].textContent))));
      const byBlockers = page.locator('table.wl-readiness th button', { hasText: /^blockers/ });
      await byBlockers.click();
      await page.waitForURL(/sort=blockers-asc/);
      await page.locator('table.wl-readiness th[aria-sort="ascending"]', { hasText: /^blockers/ }).waitFor();
      const asc = await blockerCounts();
      assert.ok(asc.length > 5 && asc[0] < asc[asc.length - 1], `some workloads have more blockers than others: ${asc.join(',')}`);
      assert.deepEqual(asc, [...asc].sort((a, b) => a - b));
      await byBlockers.click();
      await page.waitForURL(/sort=blockers-desc/);
      await page.locator('table.wl-readiness th[aria-sort="descending"]', { hasText: /^blockers/ }).waitFor();
      assert.deepEqual(await blockerCounts(), [...asc].sort((a, b) => b - a));
      assert.equal(await page.locator('table.wl-readiness th[aria-sort="descending"]').count(), 1);

      await page.locator('table.ns-readiness a.ns-link', { hasText: /^payments$/ }).click();
      await page.waitForURL((u) => u.searchParams.get('ns') === 'payments' && !u.searchParams.has('view'));
      await page.waitForSelector('body[data-ready="true"]');
      const want = await apiJson<ApiGraph>(fx.demo!.url, '/api/graph?namespace=payments');
      await until(`${want.nodes.length} nodes are drawn`, async () => (await nodeCount(page)) === want.nodes.length);
      assert.deepEqual((await page.locator('svg.map g.node').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-id')))).sort(), want.nodes.map((n) => n.id).sort());
      assert.deepEqual(problems, []);
    });
  });
});

describe('clear states instead of blank pages, in Chromium', { skip: noBrowser, timeout: 180_000 }, () => {
  let browser: Browser | undefined;
  before(async () => { browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 60_000 }); });
  after(async () => { await browser?.close(); });

  it('an empty store: the map and the readiness page say so and how to record', async () => {
    const file = join(tempDir('tm-ui-empty-'), 'empty.db');
    openStore(file).close();
    const s = await startServe(file);
    try {
      await withPage(browser!, async (page, problems) => {
        await ready(page, s.url);
        const status = page.locator('.map-area .map-status');
        assert.ok(await status.isVisible());
        assert.equal(await status.locator('.status-title').textContent(), 'No calls recorded yet');
        assert.match(await status.textContent() ?? '', /trustmap collect pcap/);
        assert.equal(await page.locator('.summary-line').textContent(), 'empty store');
        assert.ok(await page.locator('.drops-banner').isHidden(), 'no live capture, no drop warning');
        await page.locator('a.view-readiness').click();
        await page.locator('.readiness-area .status-title', { hasText: 'No workloads to judge' }).waitFor();
        assert.deepEqual(problems, []);
      });
    } finally {
      await s.close();
    }
  });

  it('a live capture that dropped packets: a warning banner on every view says the map may be incomplete', async () => {
    // A live capture's record as `collect live` leaves it, written through the store's own functions.
    const NAME = 'any<img src=x onerror=alert(1)>';
    const file = demoStoreWithCapture(NAME, 'worker-2', (db, id) => updateLiveCapture(db, id, {
      stats: { bytesRead: 9_000_000, packets: 41_230, malformed: 0, skipped: 0, connections: 812, evictedEarly: 0, callsWritten: 0, firstTsMs: null, lastTsMs: null },
      dropped: 1_234, end: { status: 'complete' }, nowIso: new Date().toISOString(),
    }));
    const s = await startServe(file);
    try {
      const sum = await apiJson<{ counts: { dropped: number | null } }>(s.url, '/api/summary');
      assert.equal(sum.counts.dropped, 1234);
      await withPage(browser!, async (page, problems) => {
        await ready(page, s.url);
        const banner = page.locator('.drops-banner[role="alert"]');
        assert.ok(await banner.isVisible());
        const text = await banner.textContent() ?? '';
        assert.match(text, /^Live capture dropped 1,234 packets: this map may be incomplete\./);
        assert.ok(text.includes(`${NAME} on worker-2: 1,234 dropped, 41,230 captured`), text);
        assert.equal(await banner.locator('img').count(), 0, 'the capture name is text');
        await page.locator('a.view-readiness').click();
        await page.locator('table.wl-readiness').waitFor();
        assert.ok(await banner.isVisible(), 'still there on the readiness page');
        assert.deepEqual(problems, []);
      });
    } finally {
      await s.close();
    }
  });

  it('a pushing collector that dropped calls and Hubble verdicts from a full spool: the banner says how many, where, and what it means for the policies', async () => {
    // A pushed capture's record as the server keeps it once the collector's checkpoint arrived.
    const NAME = 'live:eth0<script>alert(1)</script>';
    const file = demoStoreWithCapture(NAME, 'worker-3', (db, id) => recordSpoolDrops(db, id, { calls: 4_321, verdicts: 1 }));
    const s = await startServe(file);
    try {
      const sum = await apiJson<{ counts: { dropped: number | null; spool_dropped_calls: number | null; spool_dropped_verdicts: number | null } }>(s.url, '/api/summary');
      assert.deepEqual([sum.counts.dropped, sum.counts.spool_dropped_calls, sum.counts.spool_dropped_verdicts], [null, 4321, 1]);
      await withPage(browser!, async (page, problems) => {
        await ready(page, s.url);
        const banner = page.locator('.drops-banner[role="alert"]');
        assert.ok(await banner.isVisible());
        const text = await banner.textContent() ?? '';
        assert.match(text, /^Collectors dropped 4,321 calls from a full push spool: this map may be incomplete\./);
        assert.ok(text.includes(`Dropped by: ${NAME} on worker-3: 4,321 calls.`), text);
        // One verdict: singular, where the calls above are plural.
        assert.ok(text.includes(' Collectors dropped 1 Hubble verdict from a full push spool: calls Cilium refuses may be proposed as allowed.'), text);
        assert.equal(await banner.locator('.spool-verdict-drops-where').textContent(), `Dropped by: ${NAME} on worker-3: 1 verdict.`);
        assert.equal(await banner.locator('script').count(), 0, 'the capture name is text');
        assert.deepEqual(problems, []);
      });
    } finally {
      await s.close();
    }
  });

  it('a server with a token: the page sends the user to sign in, a wrong token is refused, the right one opens the map', async () => {
    const TOKEN = 'e2e-token-0123456789abcdef';
    const s = await startServe(store([['collect', join(DEMO, 'capture.pcap')], ['inventory', join(DEMO, 'inventory.json')]]), storeAnalysis, 0, TOKEN);
    try {
      await withPage(browser!, async (page) => {
        // A shared link: the view it names is where signing in leads.
        await page.goto(`${s.url}?node=shop%2Ffrontend&infra=hide`);
        await page.waitForURL((u) => u.pathname === '/login');
        await page.locator('input[name="token"]').fill('not-the-token-at-all');
        await page.locator('button[type="submit"]').click();
        await page.locator('.login-box .error[role="alert"]', { hasText: 'That token is not right.' }).waitFor();
        await page.locator('input[name="token"]').fill(TOKEN);
        await page.locator('button[type="submit"]').click();
        await page.waitForURL((u) => u.pathname === '/');
        await page.waitForSelector('body[data-ready="true"]');
        assert.equal(new URL(page.url()).search, '?node=shop%2Ffrontend&infra=hide');
        await page.locator('aside.panel .panel-title', { hasText: 'shop/frontend' }).waitFor();
        const cookies = await page.context().cookies();
        assert.ok(cookies.some((c) => c.name === 'trustmap_session' && c.httpOnly && c.sameSite === 'Strict'));
        const api = await (await fetch(new URL('/api/graph?hide_infra=true', s.url), { headers: { authorization: `Bearer ${TOKEN}` } })).json() as ApiGraph;
        assert.equal(await nodeCount(page), api.nodes.length);
        assert.equal((await fetch(new URL('/api/graph', s.url))).status, 401, 'without the token the API still refuses');
        // Signing out clears the session in this browser: the page goes back to the sign-in form.
        await page.locator('header button.sign-out').click();
        await page.waitForURL((u) => u.pathname === '/login');
        assert.ok(!(await page.context().cookies()).some((c) => c.name === 'trustmap_session'), 'the session cookie is gone');
        await page.goto(s.url);
        await page.waitForURL((u) => u.pathname === '/login');
      });
    } finally {
      await s.close();
    }
  });

  it('a build without policy proposals: the panel says so instead of an empty section, and the API answers 501', async () => {
    const s = await startServe(store([['collect', join(DEMO, 'capture.pcap')], ['inventory', join(DEMO, 'inventory.json')]]),
      { ...storeAnalysis, proposePolicies: null, policyFormats: [] });
    try {
      const r = await fetch(new URL('/api/policies/istio?workload=shop%2Ffrontend', s.url));
      assert.equal(r.status, 501);
      assert.match(r.headers.get('content-type') ?? '', /^application\/problem\+json/);
      await withPage(browser!, async (page, problems) => {
        await ready(page, `${s.url}?node=shop%2Ffrontend`);
        const sec = page.locator('aside.panel section.policies');
        await sec.waitFor();
        assert.equal(await sec.locator('p.muted').textContent(), 'Policy proposals are not available in this build.');
        assert.equal(await sec.locator('button.tab').count(), 0);
        assert.deepEqual(problems, []);
      });
    } finally {
      await s.close();
    }
  });

  it('an unreachable server: the page says so and recovers with "Try again" once it is back', async () => {
    const file = store([['collect', join(DEMO, 'capture.pcap')], ['inventory', join(DEMO, 'inventory.json')]]);
    let s = await startServe(file);
    try {
      await withPage(browser!, async (page) => {
        await ready(page, s.url);
        const drawn = await nodeCount(page);
        await s.close();
        // Any new question to the server now fails to connect.
        await page.locator('input[name="hide-infra"]').check();
        const status = page.locator('.map-area .map-status');
        await status.locator('.status-title', { hasText: 'The trustmap server is not answering' }).waitFor();
        assert.match(await status.textContent() ?? '', /Is "trustmap serve" still running\?/);
        await page.locator('input[name="hide-infra"]').uncheck();
        s = await startServe(file, storeAnalysis, s.port);
        await status.locator('button.status-action', { hasText: 'Try again' }).click();
        await status.waitFor({ state: 'hidden' });
        assert.equal(await nodeCount(page), drawn);
      });
    } finally {
      await s.close();
    }
  });

  it('a graph too big to draw whole: the busiest part is drawn and a notice gives the real size', async () => {
    const file = join(tempDir('tm-ui-huge-'), 'huge.db');
    writeSyntheticStore(file, { namespaces: 30, perNamespace: 100, edges: 4000, seed: 7 });
    const s = await startServe(file);
    try {
      const g = await apiJson<ApiGraph>(s.url, '/api/graph');
      await withPage(browser!, async (page, problems) => {
        await page.goto(s.url);
        await page.waitForSelector('body[data-ready="true"]', { timeout: 60_000 });
        const notice = page.locator('.notice');
        assert.ok(await notice.isVisible());
        const text = await notice.textContent() ?? '';
        assert.ok(text.includes(`This graph has ${g.nodes.length.toLocaleString('en')} nodes and ${g.edges.length.toLocaleString('en')} edges`), text);
        // Counts as people read them, as the notice has them.
        assert.match(await page.locator('.summary-line').textContent() ?? '', new RegExp(` · ${g.nodes.length.toLocaleString('en')} nodes · ${g.edges.length.toLocaleString('en')} edges · `));
        const shown = Number(/the busiest ([\d,]+) edges/.exec(text)?.[1].replace(/,/g, ''));
        assert.equal(await edgeCount(page), shown);
        const drawnNodes = await nodeCount(page);
        assert.ok(drawnNodes > 0 && drawnNodes < g.nodes.length, `${drawnNodes} of ${g.nodes.length} drawn`);
        assert.ok(await page.locator('.map-area .map-status').isHidden(), 'the map itself is shown');
        // A PNG of a map this big: at most 8,192 px a side, the button busy meanwhile.
        const [png] = await Promise.all([page.waitForEvent('download', { timeout: 60_000 }), page.locator('button[name="export-png"]').click()]);
        const head = readFileSync((await png.path())!).subarray(0, 24);
        const [w, h] = [head.readUInt32BE(16), head.readUInt32BE(20)];
        assert.ok(Math.max(w, h) <= 8192 && Math.max(w, h) > 4000, `${w}x${h}`);
        await page.locator('button[name="export-png"]:not([disabled])', { hasText: /^PNG$/ }).waitFor();
        // The notice is the map's: not on the readiness page, back with the map.
        await page.locator('a.view-readiness').click();
        await page.locator('table.ns-readiness').waitFor({ timeout: 60_000 });
        assert.ok(await notice.isHidden(), 'no map notice on the readiness page');
        await page.locator('a.view-map').click();
        await notice.waitFor();
        assert.equal(await notice.textContent(), text);
        // A node searched for but not drawn: the notice says so and offers its namespace, where it is.
        const drawn = new Set(await page.locator('svg.map g.node').evaluateAll((ns) => ns.map((n) => n.getAttribute('data-id'))));
        const left = (await apiJson<{ nodes: Array<{ id: string; namespace: string | null }> }>(s.url, '/api/graph')).nodes.find((n) => !drawn.has(n.id) && n.namespace !== null)!;
        await page.locator('form.search input[name="q"]').fill(left.id);
        await page.locator('form.search input[name="q"]').press('Enter');
        await page.locator('aside.panel .panel-title', { hasText: left.id }).waitFor();
        await notice.filter({ hasText: `${left.id} is not drawn: the map shows only the busiest part of this graph.` }).waitFor();
        await notice.locator('button.show-namespace').click();
        await page.waitForURL((u) => u.searchParams.get('ns') === left.namespace && u.searchParams.get('node') === left.id);
        await until(`${left.id} is drawn and selected`, async () => /\bselected\b/.test(await page.locator(`svg.map g.node[data-id="${left.id}"]`).getAttribute('class') ?? ''), 30_000);
        assert.deepEqual(problems, []);
      });
    } finally {
      await s.close();
    }
  });
});

describe('the panel at every level, the map\'s size, the keyboard, links and filters that keep the user\'s place, in Chromium', { skip: noBrowser, timeout: 300_000 }, () => {
  const fx = demoInChromium();

  it('a service or a namespace clicked on the map opens its own callers and calls, not a workload\'s or an error', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      for (const [level, id, kind] of [['service', 'shop/cart', 'service'], ['service', 'kube-system/kube-dns', 'service'], ['namespace', 'shop', 'namespace']] as const) {
        const g = await apiJson<{ edges: Array<{ source: string; target: string }> }>(fx.demo!.url, `/api/graph?level=${level}`);
        const callers = [...new Set(g.edges.filter((e) => e.target === id).map((e) => e.source))].sort();
        assert.ok(callers.length > 0, `${id} has callers at the ${level} level`);
        await ready(page, `${fx.demo!.url}?level=${level}`);
        await page.locator(`svg.map g.node[data-id="${id}"]`).click();
        const panel = page.locator('aside.panel');
        await panel.locator('.panel-title', { hasText: id }).waitFor();
        await panel.locator('table.inbound').waitFor();
        const shown = await panel.locator('.facts dd').first().textContent() ?? '';
        assert.ok(shown === kind || shown.startsWith(`${kind} (`), `${level} ${id}: kind ${shown}`);
        assert.deepEqual([...new Set(await panel.locator('table.inbound a.peer').allTextContents())].sort(), callers, `${level} ${id}`);
      }
      // A workload picked on the readiness page opens the workload-level map, whatever level was last shown
      // (legacy/report-job has no Service: at the service level its id names nothing).
      await ready(page, `${fx.demo!.url}?view=readiness&level=service`);
      await page.locator('table.wl-readiness tr[data-id="legacy/report-job"] a.wl-link').click();
      const panel = page.locator('aside.panel:not([aria-busy])');
      await panel.locator('.panel-title', { hasText: 'legacy/report-job' }).waitFor();
      await panel.locator('table.outbound').waitFor();
      assert.equal(new URL(page.url()).searchParams.get('level'), null);
      assert.ok((await panel.locator('.facts dd').first().textContent())!.startsWith('workload'));
      assert.deepEqual(problems, []);
    });
  });

  const scale = (t: string | null) => Number(/scale\(([\d.]+)/.exec(t ?? '')?.[1] ?? 1);
  /** Whether the node's centre is inside the map's area (not under the side panel or off the edge). */
  const inView = async (page: Page, id: string) => {
    const area = (await page.locator('.map-area').boundingBox())!;
    const b = await page.locator(`svg.map g.node[data-id="${id}"] path.shape`).boundingBox();
    if (b === null) return false;
    const [x, y] = [b.x + b.width / 2, b.y + b.height / 2];
    return x > area.x && x < area.x + area.width && y > area.y && y < area.y + area.height;
  };

  it('a node clicked where the side panel opens stays in sight, framed whole or as the user zoomed it', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      // The rightmost node: the panel takes the right 42% of the page.
      const rightmost = async () => {
        const xs = await page.locator('svg.map g.node').evaluateAll((ns) => ns.map((n) => [n.getAttribute('data-id'), n.getBoundingClientRect().x] as const));
        return [...xs].sort((a, b) => b[1] - a[1])[0][0]!;
      };
      let id = await rightmost();
      await page.locator(`svg.map g.node[data-id="${id}"]`).click();
      await page.locator('aside.panel:not([aria-busy]) .panel-title', { hasText: id }).waitFor();
      await until(`${id} is in sight beside the panel`, () => inView(page, id), 3000);
      await page.locator('aside.panel button.close').click();
      await page.locator('aside.panel').waitFor({ state: 'hidden' });

      // Zoomed in by the user: the zoom is kept, the view moves just enough to show the node.
      const area = (await page.locator('.map-area').boundingBox())!;
      await page.mouse.move(area.x + area.width * 0.6, area.y + area.height / 2);
      await page.mouse.wheel(0, -300);
      const viewport = page.locator('svg.map g.viewport');
      await until('the map zooms in', async () => scale(await viewport.getAttribute('transform')) > 1.2);
      await page.waitForTimeout(400);
      const zoomed = scale(await viewport.getAttribute('transform'));
      const visible = await page.locator('svg.map g.node').evaluateAll((ns, w) => ns
        .map((n) => [n.getAttribute('data-id'), n.getBoundingClientRect()] as const)
        .filter(([, r]) => r.x > (w as number) * 0.62 && r.right < (w as number) - 10 && r.y > 140 && r.bottom < 840)
        .map(([i]) => i), 1400);
      assert.ok(visible.length > 0, 'a node in the right part of the zoomed map');
      id = visible[0]!;
      await page.locator(`svg.map g.node[data-id="${id}"]`).click();
      await page.locator('aside.panel:not([aria-busy]) .panel-title', { hasText: id }).waitFor();
      await until(`${id} is in sight beside the panel`, () => inView(page, id), 3000);
      assert.equal(scale(await viewport.getAttribute('transform')), zoomed, 'the user\'s zoom is kept');
      assert.deepEqual(problems, []);
    });
  });

  it('the legend folds away (and starts folded on a small screen), and stays as the user left it when the map reloads', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      const legend = page.locator('.map-area details.legend');
      const isOpen = () => legend.evaluate((d) => (d as unknown as { open: boolean }).open);
      await ready(page, fx.demo!.url);
      assert.equal(await isOpen(), true);
      await legend.locator('summary').click();
      assert.equal(await isOpen(), false);
      assert.ok((await legend.boundingBox())!.height < 40, 'folded to one line');
      await page.locator('input[name="hide-infra"]').check();
      await page.waitForURL(/infra=hide/);
      await page.waitForSelector('body[data-ready="true"]');
      await until('the map is redrawn', async () => (await page.locator('g.node.kind-node').count()) === 0);
      assert.equal(await isOpen(), false, 'still folded after the reload');
      await page.setViewportSize({ width: 420, height: 800 });
      await ready(page, fx.demo!.url);
      assert.equal(await isOpen(), false, 'folded on a small screen');
      await legend.locator('summary').click();
      assert.match(await legend.textContent() ?? '', /mutual TLS/);
      assert.equal(await isOpen(), true);
      assert.deepEqual(problems, []);
    });
  });

  it('a narrow window puts the panel under the map, and widening it frames the map again', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await page.setViewportSize({ width: 420, height: 800 });
      await ready(page, `${fx.demo!.url}?node=shop%2Ffrontend`);
      await page.locator('aside.panel table.inbound').waitFor();
      const area = (await page.locator('.map-area').boundingBox())!;
      assert.ok(area.width > 400 && area.height > 150, `the map keeps room: ${area.width}x${area.height}`);
      await page.setViewportSize({ width: 1400, height: 860 });
      const wide = (await page.locator('.map-area').boundingBox())!;
      // Framed whole for the new size: the drawing spans most of the area's width or height.
      await until('the map is framed for the wider window', async () => {
        const drawn = (await page.locator('svg.map g.viewport').boundingBox())!;
        return drawn.width > wide.width * 0.6 || drawn.height > wide.height * 0.6;
      }, 3000);
      assert.ok(await inView(page, 'shop/frontend'));
      assert.deepEqual(problems, []);
    });
  });


  it('the namespaces dropdown stays open while several are picked, and a keyboard pick keeps the focus', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      await page.locator('details.multi-namespaces > summary').click();
      const box = (ns: string) => page.locator(`details.multi-namespaces input[value="${ns}"]`);
      await box('payments').click();
      await page.waitForURL((u) => u.searchParams.get('ns') === 'payments');
      await until('the map is drawn for payments', async () => (await page.locator('details.multi-namespaces > summary').textContent()) === 'namespaces: payments');
      assert.ok(await box('shop').isVisible(), 'the dropdown is still open');
      // The keyboard: Space on a focused box picks it; the focus stays on it once the map reloads.
      await box('shop').focus();
      await page.keyboard.press('Space');
      await page.waitForURL((u) => u.searchParams.get('ns') === 'payments,shop');
      await until('the map is drawn for both', async () => (await page.locator('details.multi-namespaces > summary').textContent()) === 'namespaces: payments, shop');
      assert.equal(await page.evaluate('document.activeElement.value'), 'shop');
      await page.keyboard.press('Space');
      await page.waitForURL((u) => u.searchParams.get('ns') === 'payments');
      const want = await apiJson<ApiGraph>(fx.demo!.url, '/api/graph?namespace=payments');
      await until(`${want.nodes.length} nodes are drawn`, async () => (await nodeCount(page)) === want.nodes.length);
      assert.deepEqual(problems, []);
    });
  });

  it('filters the API refuses (a window ending before it starts) offer to clear them, not to ask again', async () => {
    const whole = await apiJson<ApiGraph>(fx.demo!.url, '/api/graph');
    await withPage(fx.browser!, async (page) => {
      await ready(page, `${fx.demo!.url}?since=2026-11-24T00:00:00Z&until=2026-11-23T00:00:00Z`);
      const status = page.locator('.map-area .map-status');
      await status.locator('.status-title', { hasText: 'The map cannot be drawn for these filters' }).waitFor();
      assert.match(await status.textContent() ?? '', /since must be before until/);
      await status.locator('button.status-action', { hasText: 'Clear the filters' }).click();
      await page.waitForURL((u) => !u.searchParams.has('since') && !u.searchParams.has('until'));
      await edgesAre(page, whole.edges.length);
      assert.ok(await status.isHidden());
    });
  });

  it('the readiness page says which window it judges and goes back to the whole recording', async () => {
    const sum = await apiJson<{ window: { last_seen: string } }>(fx.demo!.url, '/api/summary');
    const since = new Date(Date.parse(sum.window.last_seen) - 3000).toISOString();
    const whole = await apiJson<{ namespaces: Array<{ workloads: unknown[] }> }>(fx.demo!.url, '/api/readiness');
    const rows = whole.namespaces.reduce((n, ns) => n + ns.workloads.length, 0);
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, `${fx.demo!.url}?view=readiness&since=${since}`);
      const line = page.locator('.readiness-head .window-line');
      await line.waitFor();
      assert.ok((await line.textContent() ?? '').startsWith(`Window: from ${since.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}`), await line.textContent() ?? '');
      await line.locator('button.whole-recording').click();
      await page.waitForURL((u) => !u.searchParams.has('since') && u.searchParams.get('view') === 'readiness');
      await page.locator('.readiness-head .window-line', { hasText: /^Window: whole recording$/ }).waitFor();
      await until(`${rows} workloads are listed`, async () => (await page.locator('table.wl-readiness tbody tr').count()) === rows);
      assert.deepEqual(problems, []);
      // A window the API refuses: the way out is there too.
      await ready(page, `${fx.demo!.url}?view=readiness&since=2026-11-24T00:00:00Z&until=2026-11-23T00:00:00Z`);
      await page.locator('.readiness-area .status-title', { hasText: 'Could not check readiness' }).waitFor();
      await page.locator('.readiness-area button.status-action', { hasText: 'Judge the whole recording' }).click();
      await page.locator('table.wl-readiness').waitFor();
      assert.equal(new URL(page.url()).search, '?view=readiness');
    });
  });

  it('the keyboard: Enter on a node moves the focus into its panel, Escape or the close button closes it and returns the focus to the node', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      const focused = () => page.evaluate('(document.activeElement.getAttribute("data-id") ?? document.activeElement.className) + ":" + document.activeElement.textContent') as Promise<string>;
      await page.locator('svg.map g.node[data-id="shop/cart"]').focus();
      await page.keyboard.press('Enter');
      await page.locator('aside.panel:not([aria-busy]) table.inbound').waitFor();
      assert.equal(await focused(), 'panel-title:shop/cart');
      await page.keyboard.press('Escape');
      await page.locator('aside.panel').waitFor({ state: 'hidden' });
      assert.equal(new URL(page.url()).searchParams.get('node'), null);
      assert.match(await focused(), /^shop\/cart:/);
      await page.keyboard.press('Space');
      await page.locator('aside.panel:not([aria-busy]) table.inbound').waitFor();
      await page.locator('aside.panel button.close').click();
      await page.locator('aside.panel').waitFor({ state: 'hidden' });
      assert.match(await focused(), /^shop\/cart:/);
      assert.deepEqual(problems, []);
    });
  });

  it('a peer the filters leave off the map: following its link says so instead of nothing', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, `${fx.demo!.url}?infra=hide&node=shop%2Ffrontend`);
      await page.locator('aside.panel table.inbound a.peer', { hasText: 'node:tm-node-1' }).click();
      await page.locator('aside.panel .panel-title', { hasText: 'node:tm-node-1' }).waitFor();
      await page.locator('.notice', { hasText: 'node:tm-node-1 is not on the map with these filters.' }).waitFor();
      // One callee, not "1 callees".
      await ready(page, `${fx.demo!.url}?node=legacy%2Freport-job`);
      await page.locator('aside.panel:not([aria-busy]) table.outbound').waitFor();
      assert.deepEqual(await page.locator('aside.panel h3').allTextContents(), ['Strict mTLS readiness', 'Inbound (0 callers)', 'Outbound (1 callee)', 'Proposed policies']);
      // A blocker seen once: "1 call", not "1 calls".
      await ready(page, `${fx.demo!.url}?node=shop%2Fcatalog`);
      await page.locator('aside.panel section.readiness ul.blockers li').first().waitFor();
      const sightings = await page.locator('aside.panel section.readiness ul.blockers li .small').allTextContents();
      assert.ok(sightings.some((t) => t.includes(' · 1 call · ')) && sightings.every((t) => !t.includes(' 1 calls')), sightings.join(' | '));
      assert.deepEqual(problems, []);
    });
  });

  it('links to other views (panel peers, readiness rows, Map/Readiness) hold those views\' URLs, and Ctrl+click opens them in a new tab', async () => {
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, `${fx.demo!.url}?infra=hide&node=shop%2Ffrontend`);
      const peer = page.locator('aside.panel table.outbound a.peer', { hasText: /^shop\/cart$/ }).first();
      assert.equal(await peer.getAttribute('href'), '?infra=hide&node=shop%2Fcart');
      const [tab] = await Promise.all([page.context().waitForEvent('page'), peer.click({ modifiers: ['Control'] })]);
      await tab.waitForLoadState();
      assert.equal(new URL(tab.url()).search, '?infra=hide&node=shop%2Fcart');
      await tab.close();
      assert.equal(new URL(page.url()).searchParams.get('node'), 'shop/frontend', 'this page stays where it was');
      assert.equal(await page.locator('a.view-readiness').getAttribute('href'), '?view=readiness&infra=hide&node=shop%2Ffrontend');

      await ready(page, `${fx.demo!.url}?view=readiness&level=service&since=2026-01-01T00:00:00Z`);
      await page.locator('table.wl-readiness').waitFor();
      assert.equal(await page.locator('table.wl-readiness tr[data-id="shop/cart"] a.wl-link').getAttribute('href'), '?since=2026-01-01T00%3A00%3A00Z&node=shop%2Fcart');
      assert.equal(await page.locator('table.ns-readiness a.ns-link', { hasText: /^shop$/ }).getAttribute('href'), '?level=service&ns=shop&since=2026-01-01T00%3A00%3A00Z');
      assert.equal(await page.locator('a.view-map').getAttribute('href'), '?level=service&since=2026-01-01T00%3A00%3A00Z');
      assert.deepEqual(problems, []);
    });
  });

  it('off UTC, the time fields say they show local time (the rest of the page says UTC with a Z)', async () => {
    const page = await fx.browser!.newPage({ viewport: { width: 1400, height: 860 }, timezoneId: 'America/New_York' });
    try {
      page.setDefaultTimeout(10_000);
      await ready(page, `${fx.demo!.url}?since=2026-11-23T09:42:30Z`);
      assert.equal(await page.locator('input[name="since"]').inputValue(), '2026-11-23T04:42:30');
      assert.equal(await page.locator('.window .tz').textContent(), 'local time (UTC-05:00)');
      assert.equal(await page.locator('input[name="since"]').getAttribute('aria-label'), 'from, local time (UTC-05:00)');
    } finally {
      await page.close();
    }
    await withPage(fx.browser!, async (page) => {
      await ready(page, fx.demo!.url);
      assert.equal(await page.locator('.window .tz').count(), 0, 'in UTC the fields need no note');
    });
  });

  it('clicking an edge opens its callee\'s panel with the caller\'s calls marked', async () => {
    const g = await apiJson<{ edges: Array<{ source: string; target: string; calls: unknown[] }> }>(fx.demo!.url, '/api/graph');
    const edge = g.edges.find((e) => e.source === 'shop/frontend' && e.target === 'shop/cart')!;
    await withPage(fx.browser!, async (page, problems) => {
      await ready(page, fx.demo!.url);
      // Clicked where its stroke is (a curve's box centre may miss it).
      const path = page.locator('svg.map path.edge[data-source="shop/frontend"][data-target="shop/cart"]');
      const at = await path.evaluate((p) => {
        const el = p as unknown as { getTotalLength(): number; getPointAtLength(l: number): { x: number; y: number }; getScreenCTM(): { a: number; b: number; c: number; d: number; e: number; f: number } };
        const pt = el.getPointAtLength(el.getTotalLength() / 2);
        const m = el.getScreenCTM();
        return { x: m.a * pt.x + m.c * pt.y + m.e, y: m.b * pt.x + m.d * pt.y + m.f };
      });
      await page.mouse.click(at.x, at.y);
      await page.waitForURL((u) => u.searchParams.get('node') === 'shop/cart');
      const marked = page.locator('aside.panel table.inbound tbody tr.edge-call');
      await until('the caller\'s rows are marked', async () => (await marked.count()) > 0);
      assert.equal(await marked.count(), edge.calls.length);
      assert.deepEqual([...new Set(await marked.locator('a.peer').allTextContents())], ['shop/frontend']);
      assert.deepEqual(problems, []);
    });
  });
});
