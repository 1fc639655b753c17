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
import { openStore } from '../../collector/store/db.js';
import { storeAnalysis, type Analysis } from '../../ui/api/analysis.js';
import { startServer } from '../../ui/server.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/ingest.js';
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

interface Server { url: string; close(): Promise<void> }

/** The UI server in this process (the binary's own start-up is covered by test/integration/ui-api.test.ts). */
async function startServe(file: string, analysis: Analysis = storeAnalysis): Promise<Server> {
  const db = openStore(file, { readonly: true });
  const running = await startServer({ db, analysis, host: '127.0.0.1', port: 0, token: null, minWindowMs: 5000 });
  return { url: running.url, close: async () => { await running.close(); db.close(); } };
}

/**
 * Runs `fn` on a fresh page that records what must not happen (script errors, console errors and
 * warnings, dialogs) and closes it afterwards; `fn` gets the list to assert on.
 */
async function withPage(browser: Browser, fn: (page: Page, problems: string[]) => Promise<void>, permissions: string[] = []): Promise<void> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 860 }, permissions });
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

describe('the web UI in Chromium', { skip: noBrowser, timeout: 180_000 }, () => {
  let browser: Browser | undefined;
  let demo: Server | undefined;
  before(async () => {
    demo = await startServe(store([['collect', join(DEMO, 'capture.pcap')], ['inventory', join(DEMO, 'inventory.json')]]));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
  });
  after(async () => {
    await browser?.close();
    await demo?.close();
  });

  it('draws the demo: as many nodes as the API returns, with labelled namespace boxes and a legend', async () => {
    await withPage(browser!, async (page, problems) => {
      await ready(page, demo!.url);
      const api = (await (await fetch(new URL('/api/graph', demo!.url))).json()) as { nodes: Array<{ id: string }>; edges: unknown[] };
      assert.ok(api.nodes.length > 10);
      assert.equal(await nodeCount(page), api.nodes.length);
      assert.equal(await page.locator('svg.map path.edge').count(), api.edges.length);
      const boxes = await page.locator('svg.map .cluster-label').allTextContents();
      for (const ns of ['shop', 'payments', 'legacy']) assert.ok(boxes.includes(ns), `${ns} in ${boxes.join(', ')}`);
      assert.match(await page.locator('.legend').textContent() ?? '', /mutual TLS.*plaintext/s);
      assert.deepEqual(problems, []);
    });
  });

  it('clicking a node opens its callers and calls; the selection is in the URL', async () => {
    await withPage(browser!, async (page, problems) => {
      await ready(page, demo!.url);
      await page.locator('svg.map g.node[data-id="shop/frontend"]').click();
      const panel = page.locator('aside.panel');
      await panel.locator('table.inbound').waitFor();
      assert.equal(await panel.locator('.panel-title').textContent(), 'shop/frontend');
      const callers = await panel.locator('table.inbound a.peer').allTextContents();
      assert.ok(callers.includes('istio-system/istio-ingressgateway'), callers.join(', '));
      assert.ok((await panel.locator('table.outbound a.peer').allTextContents()).includes('shop/cart'));
      assert.match(page.url(), /[?&]node=shop%2Ffrontend/);
      await page.reload();
      await panel.locator('table.inbound').waitFor();
      assert.equal(await panel.locator('.panel-title').textContent(), 'shop/frontend');
      assert.deepEqual(problems, []);
    });
  });

  it('a filter changes what is drawn, to what the API returns for it, and survives a reload', async () => {
    await withPage(browser!, async (page, problems) => {
      await ready(page, demo!.url);
      const before = await nodeCount(page);
      assert.equal(await page.locator('g.node[data-id="node:tm-node-1"]').count(), 1);
      await page.locator('input[name="hide-infra"]').check();
      await page.waitForFunction(`document.querySelectorAll('svg.map g.node').length !== ${before}`);
      const lean = (await (await fetch(new URL('/api/graph?hide_infra=true', demo!.url))).json()) as { nodes: unknown[] };
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
    const summary = (await (await fetch(new URL('/api/summary', demo!.url))).json()) as { features: { readiness: boolean } };
    if (!summary.features.readiness) { t.skip('the readiness check (analyzer/readiness.ts) is not there yet'); return; }
    await withPage(browser!, async (page, problems) => {
      await ready(page, new URL('/?view=readiness', demo!.url).href);
      await page.locator('table.ns-readiness').waitFor();
      const blocked = await page.locator('table.ns-readiness tr[data-verdict="blocked"]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-namespace')));
      const report = (await (await fetch(new URL('/api/readiness', demo!.url))).json()) as { namespaces: Array<{ namespace: string; verdict: string }> };
      const want = report.namespaces.filter((n) => n.verdict === 'blocked').map((n) => n.namespace).sort();
      assert.ok(want.length > 0, 'the demo has blocked namespaces');
      assert.deepEqual([...blocked].sort(), want);
      await page.locator('table.wl-readiness th button').first().click();
      assert.match(page.url(), /sort=namespace-/);
      await page.locator('table.wl-readiness a.wl-link').first().click();
      await page.locator('aside.panel .panel-title').waitFor();
      assert.match(page.url(), /node=/);
      assert.deepEqual(problems, []);
    });
  });

  it('the panel shows each format\'s proposed policy as the API has it, with copy and download', async () => {
    const id = 'shop/frontend';
    const formats = ((await (await fetch(new URL('/api/policies/formats', demo!.url))).json()) as { formats: string[] }).formats;
    assert.deepEqual([...formats].sort(), ['cilium', 'istio', 'linkerd', 'netpol']);
    await withPage(browser!, async (page, problems) => {
      await ready(page, `${demo!.url}?node=${encodeURIComponent(id)}`);
      const sec = page.locator('aside.panel section.policies');
      assert.deepEqual(await sec.locator('button.tab').allTextContents(), formats);
      for (const format of formats) {
        const want = (await (await fetch(new URL(`/api/policies/${format}?workload=${encodeURIComponent(id)}`, demo!.url))).json()) as { yaml: string | null };
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

  it('exports the map as SVG and PNG', async () => {
    await withPage(browser!, async (page, problems) => {
      await ready(page, demo!.url);
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
    await withPage(browser!, async (page) => {
      await ready(page, demo!.url);
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
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, timeout: 30_000 });
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
