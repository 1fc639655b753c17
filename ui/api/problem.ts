// Errors as RFC 9457 problem details: every failure the API reports is `{type, title, status,
// detail}` with Content-Type application/problem+json, never an HTML page or a stack trace.
import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { log } from '../../collector/log.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  413: 'Content Too Large', 415: 'Unsupported Media Type', 421: 'Misdirected Request', 429: 'Too Many Requests', 501: 'Not Implemented', 500: 'Internal Server Error', 503: 'Service Unavailable',
};

/** An error the API answers with on purpose: its detail is safe to show. */
export class HttpProblem extends Error {
  override name = 'HttpProblem';
  constructor(readonly status: number, detail: string, readonly type = 'about:blank') {
    super(detail);
  }
}

export function sendProblem(res: Response, status: number, detail: string, type = 'about:blank'): void {
  const body: Problem = { type, title: TITLES[status] ?? 'Error', status, detail };
  res.status(status).type('application/problem+json').send(JSON.stringify(body));
}

/** Parses `value` with `schema`; the first zod issue becomes a 400 naming the parameter. */
export function parseOr400<T>(schema: z.ZodType<T>, value: unknown, where: 'query' | 'path' | 'body'): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const at = issue.path.length > 0 ? ` (at: ${where}.${issue.path.join('.')})` : ` (in the ${where})`;
  throw new HttpProblem(400, `${issue.message}${at}`, 'urn:trustmap:problem:invalid-parameter');
}

export const notFound: RequestHandler = (req, res) => {
  sendProblem(res, 404, `no such resource: ${req.method} ${req.path}`);
};

/** The last handler: known problems as they are, body-parser errors by status, anything else 500. */
export const problemHandler: ErrorRequestHandler = (err: unknown, req, res, _next) => {
  if (err instanceof HttpProblem) {
    sendProblem(res, err.status, err.message, err.type);
    return;
  }
  // body-parser (express.json/urlencoded) errors carry an HTTP status and an `expose` flag.
  const e = err as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof e.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true) {
    sendProblem(res, e.status, typeof e.message === 'string' ? e.message : 'bad request');
    return;
  }
  log.error({ err, method: req.method, path: req.path }, 'request failed');
  sendProblem(res, 500, 'the server could not answer this request; its log has the details');
};
