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

// Keys are the formats' field names and the cluster's label keys: a few hundred, written about a
// million times for 5,000 workloads (rendering 505 -> 425 ms CPU), so each is checked once. Bounded,
// because label keys come from the cluster.
const KEYS = new Map<string, string>();
const MAX_KEPT_KEYS = 4096;

function yamlKey(k: string): string {
  const known = KEYS.get(k);
  if (known !== undefined) return known;
  if (k.length > MAX_KEY) throw new RangeError(`YAML key of ${k.length} characters (at most ${MAX_KEY} in an implicit key)`);
  const y = yamlString(k);
  if (KEYS.size < MAX_KEPT_KEYS) KEYS.set(k, y);
  return y;
}

// The `yaml` package's number format: JSON's, with YAML's names for what JSON has none.
function yamlNumber(n: number): string {
  if (Number.isNaN(n)) return '.nan';
  if (!Number.isFinite(n)) return n < 0 ? '-.inf' : '.inf';
  return Object.is(n, -0) ? '-0' : JSON.stringify(n);
}

// What a value is written as. Collections are tested and walked in place, without an entries
// array or a descriptor per collection: on the benchmark's 59,383 objects (72 MB of YAML)
// rendering took 610 ms of CPU instead of 710 ms, and allocates less for the garbage collector,
// which was a fifth of the analyzer's time.
const SCALAR = 0;
const EMPTY_MAP = 1;
const EMPTY_SEQ = 2;
const MAP = 3;
const SEQ = 4;
type Kind = typeof SCALAR | typeof EMPTY_MAP | typeof EMPTY_SEQ | typeof MAP | typeof SEQ;
type PlainMap = Record<string, unknown>;

/**
 * A map's entries holding `undefined` are left out and `undefined` items become null, as
 * JSON.stringify and the `yaml` package do. Anything that is not plain data (a Map, a Date, a
 * class instance) throws: written as `{}` it would silently lose what it holds.
 */
function kindOf(v: unknown): Kind {
  if (typeof v !== 'object' || v === null) return SCALAR;
  if (Array.isArray(v)) return v.length === 0 ? EMPTY_SEQ : SEQ;
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) throw new TypeError(`cannot write a ${(v as object).constructor?.name ?? 'non-plain object'} as YAML`);
  for (const k in v) if (Object.hasOwn(v, k) && (v as PlainMap)[k] !== undefined) return MAP;
  return EMPTY_MAP;
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
 * Text as it is written: Latin-1 characters go as bytes into one buffer, reused from file to
 * file and read out as one string per file, so no piece becomes a string of its own on the way.
 * Appending strings with `+=` built a linked string per piece, flattened per document and copied
 * again into the file: about a fifth of the analysis's allocation (docs/benchmarks.md, "The YAML
 * writer"). A character beyond U+00FF (a label value in another script, U+FFFD in a comment)
 * turns the rest of the file into string appends: rare, and still exact.
 */
export class YamlWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private n = 0;
  /** Everything written so far, once a character did not fit in a byte. */
  private wide: string | null = null;

  /** Characters written so far. */
  get length(): number {
    return this.wide === null ? this.n : this.wide.length;
  }

  text(s: string): void {
    if (this.wide !== null) {
      this.wide += s;
      return;
    }
    const len = s.length;
    if (this.n + len > this.buf.length) this.grow(len);
    const b = this.buf;
    let n = this.n;
    for (let i = 0; i < len; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        this.n = n;
        this.wide = this.buf.toString('latin1', 0, n) + s.slice(i);
        return;
      }
      b[n++] = c;
    }
    this.n = n;
  }

  /** The text written since the last reset, as one string. */
  toString(): string {
    return this.wide ?? this.buf.toString('latin1', 0, this.n);
  }

  reset(): void {
    this.n = 0;
    this.wide = null;
  }

  private grow(need: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.n + need));
    this.buf.copy(bigger, 0, 0, this.n);
    this.buf = bigger;
  }
}

const INDENTS: string[] = [''];
const indentOf = (depth: number): string => (INDENTS[depth] ??= '  '.repeat(depth));

/**
 * A value after "key:" or "-", with its line end: a scalar or an empty collection on the same
 * line; a collection on the next lines at `depth`, or, as a sequence item, starting on the same
 * line after "- " (its first key or item continues it).
 */
function writeValue(v: unknown, depth: number, isItem: boolean, out: YamlWriter): void {
  switch (kindOf(v)) {
    case SCALAR: out.text(' '); out.text(scalar(v)); out.text('\n'); return;
    case EMPTY_MAP: out.text(' {}\n'); return;
    case EMPTY_SEQ: out.text(' []\n'); return;
    case MAP: out.text(isItem ? ' ' : '\n'); writeMap(v as PlainMap, depth, isItem, out); return;
    case SEQ: out.text(isItem ? ' ' : '\n'); writeSeq(v as unknown[], depth, isItem, out); return;
  }
}

function writeMap(m: PlainMap, depth: number, isInline: boolean, out: YamlWriter): void {
  const indent = indentOf(depth);
  let isFirst = isInline;
  for (const k in m) {
    if (!Object.hasOwn(m, k) || m[k] === undefined) continue;
    if (!isFirst) out.text(indent);
    out.text(yamlKey(k));
    out.text(':');
    writeValue(m[k], depth + 1, false, out);
    isFirst = false;
  }
}

function writeSeq(items: unknown[], depth: number, isInline: boolean, out: YamlWriter): void {
  const indent = indentOf(depth);
  for (let i = 0; i < items.length; i++) {
    if (i > 0 || !isInline) out.text(indent);
    out.text('-');
    writeValue(items[i], depth + 1, true, out);
  }
}

// Comments of printable ASCII, nearly all of them, are what safeComment would return.
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * One YAML document (no `---`): the comment lines, a blank line, then the object. Each comment is
 * one line whatever it holds: line breaks and control characters become U+FFFD (safeComment).
 */
export function writeDocument(out: YamlWriter, root: object, comments: readonly string[] = []): void {
  for (const c of comments) {
    const line = PRINTABLE_ASCII.test(c) ? c : safeComment(c);
    if (line === '') out.text('#\n');
    else { out.text('# '); out.text(line); out.text('\n'); }
  }
  if (comments.length > 0) out.text('\n');
  switch (kindOf(root)) {
    case MAP: writeMap(root as PlainMap, 0, false, out); break;
    case SEQ: writeSeq(root as unknown[], 0, false, out); break;
    case EMPTY_MAP: out.text('{}\n'); break;
    case EMPTY_SEQ: out.text('[]\n'); break;
    case SCALAR: out.text(scalar(root)); out.text('\n'); break;
  }
}

/** writeDocument's text as a string. */
export function yamlDocument(root: object, comments: readonly string[] = []): string {
  const out = new YamlWriter();
  writeDocument(out, root, comments);
  return out.toString();
}
