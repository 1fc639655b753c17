// `npm run screenshot`: the pictures in the README and docs/ui.md, taken from a real run of the
// built `trustmap demo` in headless Chromium, so they can be redone whenever the page changes.
// Writes docs/img/map.png (the demo map), docs/img/panel.png (a workload's side panel with its
// readiness, calls and proposed policy) and docs/img/readiness.png (the readiness overview).
import { once } from 'node:events';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { serve } from '../helpers/serve.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TRUSTMAP = join(ROOT, 'dist', 'trustmap.js');
const CHROMIUM = '/usr/bin/chromium';
const OUT = join(ROOT, 'docs', 'img');

const say = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<number> {
  if (!existsSync(TRUSTMAP)) { process.stderr.write('error: dist/trustmap.js is missing: run npm run build first\n'); return 2; }
  if (!existsSync(CHROMIUM)) { process.stderr.write(`error: needs Chromium at ${CHROMIUM} (apt-get install -y chromium)\n`); return 2; }
  mkdirSync(OUT, { recursive: true });
  const { child: demo, url } = await serve(['--port', '0'], {}, 'demo');
  try {
    const browser = await chromium.launch({ executablePath: CHROMIUM, timeout: 30_000,
      args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-component-update', '--disable-sync', '--no-first-run'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1440, height: 860 }, timezoneId: 'UTC' });
      page.setDefaultTimeout(30_000);
      const shoot = async (name: string, path: string, waitFor: (p: Page) => Promise<unknown>) => {
        await page.goto(new URL(path, url).href);
        await page.waitForSelector('body[data-ready="true"]');
        await waitFor(page);
        const file = join(OUT, name);
        await page.screenshot({ path: file });
        say(`${file} (${Math.round(statSync(file).size / 1024)} KiB)`);
      };
      await shoot('map.png', '/', (p) => p.locator('svg.map g.node').first().waitFor());
      await shoot('panel.png', '/?node=shop%2Fcatalog', (p) => p.locator('aside.panel pre.yaml').waitFor());
      await shoot('readiness.png', '/?view=readiness', (p) => p.locator('table.wl-readiness').waitFor());
    } finally {
      await browser.close();
    }
  } finally {
    if (demo.exitCode === null) {
      demo.kill('SIGTERM');
      await once(demo, 'exit');
    }
  }
  return 0;
}

main().then((code) => { process.exitCode = code; }, (err: Error) => {
  process.stderr.write(`error: ${err.message}\n`);
  process.exitCode = 1;
});
