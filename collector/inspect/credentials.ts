// Which headers and query parameters carry credentials. We only record *that* one was present
// (AppRequest.hasCredentials): the value is never kept. Rules (documented in docs/inspection.md):
//   header names, case-insensitive: authorization, proxy-authorization, cookie, or ending in
//     "api-key", "apikey", "-token", "-secret", "-password"  (x-api-key, x-auth-token, ...)
//   query parameter names, case-insensitive: password, passwd, pwd, token, secret, api_key,
//     apikey, api-key, or ending in "_token", "-token", "_secret", "_password", "_key"
//     (access_token, client_secret, ...).
import { endsWithLower, equalsLower } from './text.js';

const EXACT_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
const HEADER_SUFFIXES = ['api-key', 'apikey', '-token', '-secret', '-password'];
const EXACT_PARAMS = ['password', 'passwd', 'pwd', 'token', 'secret', 'api_key', 'apikey', 'api-key'];
const PARAM_SUFFIXES = ['_token', '-token', '_secret', '_password', '_key'];

/** Header name bytes buf[start, end) (no colon, no whitespace). */
export function isCredentialHeader(buf: Uint8Array, start: number, end: number): boolean {
  const n = end - start;
  if (n < 5 || n > 64) return false;
  for (const h of EXACT_HEADERS) if (equalsLower(buf, start, end, h)) return true;
  for (const h of HEADER_SUFFIXES) if (endsWithLower(buf, start, end, h)) return true;
  return false;
}

/** True when the request target buf[start, end) has a credential-like query parameter. */
export function hasCredentialParam(buf: Uint8Array, start: number, end: number): boolean {
  let i = start;
  while (i < end && buf[i] !== 0x3f /* ? */) {
    if (buf[i] === 0x23 /* # */) return false;
    i++;
  }
  let nameStart = i + 1;
  for (let j = nameStart; j <= end; j++) {
    const b = j < end ? buf[j] : 0x26;
    if (b === 0x3d /* = */ || b === 0x26 /* & */ || b === 0x3b /* ; */ || b === 0x23 /* # */) {
      if (isCredentialParamName(buf, nameStart, j)) return true;
      if (b === 0x23) return false;
      if (b === 0x3d) {
        // Skip the value up to the next separator.
        while (j < end && buf[j] !== 0x26 && buf[j] !== 0x3b && buf[j] !== 0x23) j++;
        if (j < end && buf[j] === 0x23) return false;
      }
      nameStart = j + 1;
    }
  }
  return false;
}

function isCredentialParamName(buf: Uint8Array, start: number, end: number): boolean {
  const n = end - start;
  if (n < 3 || n > 64) return false;
  for (const p of EXACT_PARAMS) if (equalsLower(buf, start, end, p)) return true;
  for (const p of PARAM_SUFFIXES) if (endsWithLower(buf, start, end, p)) return true;
  return false;
}

const encoder = new TextEncoder();
/** The header rule for names that are already strings (HPACK); HTTP/2 names are lower-case. */
export function isCredentialHeaderName(name: string): boolean {
  const b = encoder.encode(name);
  return isCredentialHeader(b, 0, b.length);
}
/** The query rule for a target that is already a string (HTTP/2 :path). */
export function hasCredentialParamText(target: string): boolean {
  if (target.indexOf('?') < 0) return false;
  const b = encoder.encode(target);
  return hasCredentialParam(b, 0, b.length);
}
