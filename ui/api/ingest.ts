// POST /api/v1/ingest: batches from collectors (collect --push) into the central store. In order:
// the bearer token names the node (401 otherwise, before any body is read); the body is at most
// MAX_BODY_BYTES (413) of JSON (415) matching the wire schema (400); the batch must be for the
// token's node (403). A batch id seen before answers 200 {duplicate: true} and writes nothing;
// otherwise the rows and the id are written in one transaction. A busy store answers 503, which
// collectors retry like any unreachable server.
import express, { type RequestHandler, type Router } from 'express';
import { log } from '../../collector/log.js';
import { ingestBatch, MAX_BODY_BYTES } from '../../collector/push/wire.js';
import type { Db } from '../../collector/store/db.js';
import { BatchApplier } from '../../collector/store/ingest-batches.js';
import type { IngestTokens } from './ingest-tokens.js';
import { HttpProblem, parseOr400, sendProblem } from './problem.js';

export interface IngestContext {
  /** A writable connection to the store (the UI reads through its own read-only one). */
  db: Db;
  tokens: IngestTokens;
}

const BEARER = /^Bearer\s+(\S{1,512})\s*$/i;

function authenticate(tokens: IngestTokens): RequestHandler {
  return (req, res, next) => {
    const m = BEARER.exec(req.headers.authorization ?? '');
    const node = m ? tokens.nodeFor(m[1]) : null;
    if (node === null) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="trustmap-ingest"');
      // Close the connection: an unauthenticated client does not get to stream its body at us.
      res.setHeader('Connection', 'close');
      sendProblem(res, 401, 'a collector needs its node token: Authorization: Bearer TOKEN (serve --ingest-tokens)');
      return;
    }
    res.locals.node = node;
    next();
  };
}

const jsonOnly: RequestHandler = (req, _res, next) => {
  if (req.is('application/json') === false) { next(new HttpProblem(415, 'send the batch as application/json')); return; }
  next();
};

export function ingestRouter(ctx: IngestContext): Router {
  const r = express.Router();
  const applier = new BatchApplier(ctx.db);
  r.post('/v1/ingest', authenticate(ctx.tokens), jsonOnly, express.json({ limit: MAX_BODY_BYTES, strict: true }), (req, res) => {
    const node = res.locals.node as string;
    const batch = parseOr400(ingestBatch, req.body, 'body');
    if (batch.node !== node) throw new HttpProblem(403, 'this token belongs to another node than the batch names');
    let reply;
    try {
      reply = applier.apply(node, batch, new Date().toISOString());
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'SQLITE_BUSY' || code === 'SQLITE_FULL' || code === 'SQLITE_IOERR') {
        log.warn({ code, node, batch: batch.batch_id }, 'ingest: the store cannot take the batch now; the collector will retry');
        throw new HttpProblem(503, 'the store is busy or full; retry later');
      }
      throw err;
    }
    if (!reply.duplicate) log.debug({ node, batch: batch.batch_id, calls: reply.calls }, 'batch ingested');
    res.setHeader('Cache-Control', 'no-store');
    res.json(reply);
  });
  return r;
}
