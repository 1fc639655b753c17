// A YAML emitter for the plain data the policy generators build (objects, arrays, strings, finite
// numbers, booleans, null) and the comment lines above each document. It replaces the `yaml`
// package's Document model, which was half of the analyzer's CPU time on 5,000 workloads
// (docs/benchmarks.md, "The analyzer suite"). The layout is the one the `yaml` package prints with
// `lineWidth: 0` (two-space indent, sequences indented under their key, `{}`/`[]` for empty
// collections), so the golden files keep their bytes.
//
// Quoting is decided by an allow-list, not by listing what is dangerous: a string is written plain
// only when it cannot be read back as anything else by a YAML 1.2 (core schema) or YAML 1.1 parser
// (kubectl's); everything else is double-quoted with JSON's escapes, which YAML 1.2 §5.7 accepts,
// plus \u escapes for what YAML does not allow raw (§5.1) or reads as a line break (1.1: NEL, LS, PS).
import { safeComment } from './shared.js';

// First character: no indicator (YAML 1.2 §5.3: - ? : , [ ] { } # & * ! | > ' " % @ `), no space,
// no '.' (a root key "..." would end the document) and no sign. Then printable ASCII only.
const PLAIN_SHAPE = /^[A-Za-z0-9/_^][\x20-\x7e]*$/;
// Inside a plain scalar only these end or change it: ": " and a final ':' (a mapping), " #" (a
// comment), a final space (dropped by the parser).
const PLAIN_BREAKERS = /: | #|[: ]$/;
// YAML 1.1 booleans and nulls in any case (1.2 core reads fewer of them; quoting more is harmless),
// and an exponent without a mantissa, which the `yaml` package's 1.1 schema reads as a float ("e5").
const RESERVED = /^(?:y|n|yes|no|true|false|on|off|null|e[-+]?[0-9]+)$/i;
// Anything starting with a digit and made only of what numbers, dates and times are spelt with
// (0x1F, 0o17, 1_000, 1e3, 1:20 which YAML 1.1 reads as sexagesimal 80, YAML 1.1 timestamps such
// as 2026-11-23T09:40:10Z or "2001-12-14 21:59:43.10 -5", 10.0.0.1) is quoted; "10.0.0.1/32" or
// "8080-http" cannot be a number or a time in either version and stays plain.
const NUMBER_LIKE = /^[0-9][0-9a-fA-FxXoObBtTzZ_.:+\- ]*$/;
// Not allowed raw in a YAML stream (DEL, C1 controls, U+FFFE/FFFF), line breaks to YAML 1.1 (NEL is
// among the C1s, LS, PS), a BOM, and the bidirectional controls that make a reviewer read something
// else than what is there (CVE-2021-42574). JSON.stringify has already escaped C0 controls, '"'
// and '\', and lone surrogates.
// eslint-disable-next-line no-control-regex
const BEYOND_JSON = /[\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffe\uffff]/g;
// YAML 1.2 §7.3: an implicit key is at most 1024 characters, quoted or not.
const MAX_KEY = 1024;

/** Whether a string may be written as a plain scalar and still read back as that string. */
export function isPlainSafe(s: string): boolean {
  return PLAIN_SHAPE.test(s) && !PLAIN_BREAKERS.test(s) && !RESERVED.test(s) && !NUMBER_LIKE.test(s);
}

const escapeBeyondJson = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** A string as a YAML scalar: plain when provably safe, else double-quoted. */
export function yamlString(s: string): string {
  if (isPlainSafe(s)) return s;
  const json = JSON.stringify(s);
  return json.replace(BEYOND_JSON, escapeBeyondJson);
}

function yamlKey(k: string): string {
  if (k.length > MAX_KEY) throw new RangeError(`YAML key of ${k.length} characters (at most ${MAX_KEY} in an implicit key)`);
  return yamlString(k);
}

// The `yaml` package's number format: JSON's, with YAML's names for what JSON has none.
function yamlNumber(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n < 0 ? '-.inf' : '.inf';
  return Object.is(n, -0) ? '-0' : JSON.stringify(n);
}

type Collection = { kind: 'map'; entries: Array<[string, unknown]> } | { kind: 'seq'; items: unknown[] };

/**
 * The collection a value is, or null for a scalar. Map entries holding `undefined` are left out
 * and `undefined` items become null, as JSON.stringify and the `yaml` package do. Anything that is
 * not plain data (a Map, a Date, a class instance) throws: written as `{}` it would silently lose
 * what it holds.
 */
function collection(v: unknown): Collection | null {
  if (Array.isArray(v)) return { kind: 'seq', items: v };
  if (v === null || typeof v !== 'object') return null;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new TypeError(`cannot write a ${(v as object).constructor?.name ?? 'non-plain object'} as YAML`);
  return { kind: 'map', entries: Object.entries(v).filter(([, x]) => x !== undefined) };
}

function scalar(v: unknown): string {
  switch (typeof v) {
    case 'string': return yamlString(v);
    case 'number': return yamlNumber(v);
    case 'boolean': return v ? 'true' : 'false';
    case 'undefined': return 'null';
    case 'object': if (v === null) return 'null'; break;
  }
  throw new TypeError(`cannot write a ${typeof v} as YAML`);
}

/**
 * Writes a collection's lines at `indent`. With `isInline` its first line continues the current
 * one (after "- "), as a map or sequence that is a sequence item does.
 */
function writeCollection(c: Collection, indent: string, isInline: boolean, out: string[]): void {
  const inner = `${indent}  `;
  if (c.kind === 'map') {
    for (let i = 0; i < c.entries.length; i++) {
      const [k, v] = c.entries[i];
      const head = `${i === 0 && isInline ? '' : indent}${yamlKey(k)}:`;
      const sub = collection(v);
      if (sub === null) out.push(`${head} ${scalar(v)}\n`);
      else if (isEmpty(sub)) out.push(`${head} ${sub.kind === 'map' ? '{}' : '[]'}\n`);
      else { out.push(`${head}\n`); writeCollection(sub, inner, false, out); }
    }
    return;
  }
  for (let i = 0; i < c.items.length; i++) {
    const v = c.items[i];
    const head = `${i === 0 && isInline ? '' : indent}-`;
    const sub = collection(v);
    if (sub === null) out.push(`${head} ${scalar(v)}\n`);
    else if (isEmpty(sub)) out.push(`${head} ${sub.kind === 'map' ? '{}' : '[]'}\n`);
    else { out.push(`${head} `); writeCollection(sub, inner, true, out); }
  }
}

const isEmpty = (c: Collection): boolean => (c.kind === 'map' ? c.entries.length === 0 : c.items.length === 0);

/**
 * One YAML document (no `---`): the comment lines, a blank line, then the object. Each comment is
 * one line whatever it holds: line breaks and control characters become U+FFFD (safeComment).
 */
export function yamlDocument(root: object, comments: readonly string[] = []): string {
  const out: string[] = [];
  for (const c of comments) {
    const line = safeComment(c);
    out.push(line === '' ? '#\n' : `# ${line}\n`);
  }
  if (comments.length > 0) out.push('\n');
  const c = collection(root);
  if (c === null) out.push(`${scalar(root)}\n`);
  else if (isEmpty(c)) out.push(c.kind === 'map' ? '{}\n' : '[]\n');
  else writeCollection(c, '', false, out);
  return out.join('');
}
