// What keeps the UI's data on the machine and out of other pages' reach: security headers with a
// CSP that allows no inline script or style and no other origin, a Host check against DNS
// rebinding on loopback binds, and a shared token (Bearer header or an HttpOnly SameSite=Strict
// cookie set by the login form) whenever one is configured. Tokens compare in constant time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import express, { type RequestHandler, type Router } from 'express';
import { log } from '../collector/log.js';
import { InputError, UsageError } from '../collector/cli/support.js';
import { HttpProblem, parseOr400, sendProblem } from './api/problem.js';
import { loginBody } from './api/params.js';

export const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "connect-src 'self'",
  "font-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'",
].join('; ');

export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Permissions-Policy', 'camera=(), microphone=(), geolocation=(), interest-cohort=()');
  next();
};

export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/**
 * On a loopback bind anyone who can make the browser resolve their name to 127.0.0.1 could read
 * the API (DNS rebinding); accepting only loopback Host headers closes that.
 */
export const loopbackHostOnly: RequestHandler = (req, res, next) => {
  const host = req.headers.host ?? '';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
  if (LOOPBACK_NAMES.has(name.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(name)) { next(); return; }
  sendProblem(res, 421, 'this server answers only to localhost, 127.0.0.1 or [::1]');
};

/** Reads the token: --token-file, else $TRUSTMAP_TOKEN; null when neither is set. */
export function readToken(tokenFile: string | undefined, env: NodeJS.ProcessEnv): string | null {
  let token: string | null = null;
  if (tokenFile !== undefined) {
    try {
      if ((statSync(tokenFile).mode & 0o077) !== 0) log.warn({ file: tokenFile }, 'the token file is readable by other users; chmod 600 it');
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      throw new InputError(`cannot read the token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (env.TRUSTMAP_TOKEN !== undefined && env.TRUSTMAP_TOKEN !== '') {
    token = env.TRUSTMAP_TOKEN.trim();
  }
  if (token !== null && (token.length < 16 || /\s/.test(token))) {
    throw new UsageError('the token must be at least 16 characters without spaces (e.g. openssl rand -hex 24)');
  }
  return token;
}

const COOKIE = 'trustmap_session';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Equal in constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The cookie carries a value derived from the token, so the token itself never sits in a cookie jar. */
function sessionValue(token: string): string {
  return createHmac('sha256', token).update('trustmap-ui-session-v1').digest('base64url');
}

function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return null;
}

export function isAuthenticated(token: string, authorization: string | undefined, cookie: string | undefined): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (m) return sameSecret(m[1], token);
  const c = cookieValue(cookie, COOKIE);
  return c !== null && sameSecret(c, sessionValue(token));
}

/** Guards the API (the page shell and its bundle hold no data and stay public, so the login form can load). */
export function requireToken(token: string): RequestHandler {
  return (req, res, next) => {
    if (isAuthenticated(token, req.headers.authorization, req.headers.cookie)) { next(); return; }
    res.setHeader('WWW-Authenticate', 'Bearer realm="trustmap"');
    sendProblem(res, 401, 'this trustmap server needs its token: sign in at /login or send Authorization: Bearer TOKEN');
  };
}

/** A state-changing request from another origin is refused (the cookie is SameSite=Strict too). */
const sameOrigin: RequestHandler = (req, _res, next) => {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== 'null') {
    let host: string;
    try { host = new URL(origin).host; } catch { host = ''; }
    if (host !== req.headers.host) { next(new HttpProblem(403, 'cross-origin request refused')); return; }
  }
  next();
};

/** Failed logins allowed per minute, all clients together: enough for typos, too few to guess. */
const MAX_FAILURES_PER_MINUTE = 10;

export function loginRouter(token: string): Router {
  const r = express.Router();
  let failures: number[] = [];
  r.post('/api/login', sameOrigin, express.urlencoded({ extended: false, limit: '8kb' }), express.json({ limit: '8kb' }), (req, res) => {
    const isForm = typeof req.is('application/x-www-form-urlencoded') === 'string';
    const now = Date.now();
    failures = failures.filter((t) => now - t < 60_000);
    if (failures.length >= MAX_FAILURES_PER_MINUTE) throw new HttpProblem(429, 'too many failed sign-ins; wait a minute');
    const { token: given, next } = parseOr400(loginBody, req.body ?? {}, 'body');
    if (!sameSecret(given, token)) {
      failures.push(now);
      log.warn({ ip: req.ip }, 'failed sign-in');
      if (isForm) { res.redirect(303, `/login?failed=1${next && next !== '/' ? `&next=${encodeURIComponent(next)}` : ''}`); return; }
      sendProblem(res, 401, 'wrong token');
      return;
    }
    res.setHeader('Set-Cookie', `${COOKIE}=${sessionValue(token)}; Path=/; HttpOnly; SameSite=Strict`);
    // Back to the view the user was sent here from: a shared link survives signing in.
    if (isForm) { res.redirect(303, next ?? '/'); return; }
    res.status(204).end();
  });
  r.post('/api/logout', sameOrigin, (_req, res) => {
    res.setHeader('Set-Cookie', `${COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    res.status(204).end();
  });
  return r;
}
