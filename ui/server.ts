// The UI server: security first (headers, Host check or token), then the JSON API, the page shell
// and the bundled page (app.js/app.css built by esbuild into dist/ui/web). Everything it serves
// comes from this machine; nothing is fetched from elsewhere.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Express, type RequestHandler } from 'express';
import { log } from '../collector/log.js';
import type { Db } from '../collector/store/db.js';
import type { Analysis } from './api/analysis.js';
import { ingestRouter, type IngestContext } from './api/ingest.js';
import { notFound, problemHandler } from './api/problem.js';
import { returnTo } from './api/params.js';
import { apiRouter } from './api/routes.js';
import { APP_HTML, loginHtml } from './page.js';
import { isLoopback, loginRouter, loopbackHostOnly, requireToken, securityHeaders } from './security.js';

export interface ServerOptions {
  db: Db;
  analysis: Analysis;
  host: string;
  port: number;
  /** Required when host is not loopback (the CLI refuses to start otherwise). */
  token: string | null;
  minWindowMs: number;
  trustDomain?: string;
  /** Where app.js and app.css are; default: the built bundle next to this module or in dist/. */
  webDir?: string;
  /** POST /api/v1/ingest for collectors (serve --ingest-tokens); absent: not served. */
  ingest?: IngestContext;
}

/** dist/ui/web when running from dist, else the repository's dist/ui/web (tsx runs from source). */
export function defaultWebDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, 'web'), join(here, '..', 'dist', 'ui', 'web')];
  return candidates.find((d) => existsSync(join(d, 'app.js'))) ?? candidates[0];
}

const requestLog: RequestHandler = (req, res, next) => {
  const t0 = process.hrtime.bigint();
  res.on('finish', () => {
    // The path only: query strings can be long and carry what the user typed.
    log.info({ method: req.method, path: req.path, status: res.statusCode, ms: Number(process.hrtime.bigint() - t0) / 1e6 }, 'request');
  });
  next();
};

export function createApp(o: ServerOptions): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.use(requestLog, securityHeaders);
  // Before the UI's Host check and token: collectors authenticate with their own node tokens on
  // every request, and reach the server by whatever name the cluster gives it.
  if (o.ingest) app.use('/api', ingestRouter(o.ingest));
  if (o.token === null) app.use(loopbackHostOnly);
  const webDir = o.webDir ?? defaultWebDir();
  const html = (body: string) => (req: express.Request, res: express.Response) => {
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(body);
  };
  app.get('/', html(APP_HTML));
  app.get(['/app.js', '/app.css'], (req, res, next) => {
    const file = join(webDir, req.path.slice(1));
    if (!existsSync(file)) { next(); return; }
    res.sendFile(file, { headers: { 'Cache-Control': 'no-cache' } });
  });
  if (o.token !== null) {
    app.get('/login', (req, res) => {
      // A view that is not one of this page's is dropped, not refused: the form still signs in.
      const next = returnTo.safeParse(req.query.next);
      html(loginHtml(req.query.failed === '1', next.success ? next.data : '/'))(req, res);
    });
    app.use(loginRouter(o.token));
    app.use('/api', requireToken(o.token));
  }
  app.use('/api', apiRouter({ db: o.db, analysis: o.analysis, minWindowMs: o.minWindowMs, trustDomain: o.trustDomain, hasSignIn: o.token !== null }));
  app.use(notFound);
  app.use(problemHandler);
  return app;
}

export interface RunningServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on host:port (0 = any free port) and resolves with the URL once bound. */
export function startServer(o: ServerOptions): Promise<RunningServer> {
  if (!isLoopback(o.host) && o.token === null) {
    throw new Error('refusing to serve on a non-loopback address without a token');
  }
  const app = createApp(o);
  return new Promise((resolve, reject) => {
    const server = app.listen(o.port, o.host);
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      const { port } = server.address() as AddressInfo;
      const shown = o.host.includes(':') ? `[${o.host}]` : o.host;
      resolve({
        url: `http://${shown}:${port}/`,
        server,
        close: () => new Promise<void>((done) => { server.closeAllConnections(); server.close(() => done()); }),
      });
    });
  });
}
