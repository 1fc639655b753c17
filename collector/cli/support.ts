// What every subcommand shares: flag parsing through zod, the error classes that become one-line
// messages and exit codes, and plain-text tables.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { z } from 'zod';

/** Exit codes: 0 success, 1 findings or other failure, 2 usage or unreadable input. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Bad flags or arguments: printed as one line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Input that cannot be read (a file, a database): printed as one line, exit 2. */
export class InputError extends Error {
  override name = 'InputError';
}

export type FlagSpec = NonNullable<ParseArgsConfig['options']>;

export interface Parsed<T> {
  flags: T;
  args: string[];
}

/**
 * Parses argv strictly and validates the flags with `schema`. A zod issue becomes one line naming
 * the flag: the message as written when it names the flag itself ("--format is one of ..."),
 * else `--flag: message` ("--port: too big: expected number to be <=65535").
 */
export function parseFlags<T>(argv: string[], spec: FlagSpec, schema: z.ZodType<T>): Parsed<T> {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({ args: argv, options: spec, allowPositionals: true, strict: true }));
  } catch (err) {
    // Node's message can span lines (hints for option values starting with "-"): keep the first.
    throw new UsageError((err as Error).message.split('\n')[0].replace(/\. To specify a positional argument.*$/, ''));
  }
  const r = schema.safeParse(values);
  if (!r.success) {
    const issue = r.error.issues[0];
    // A repeatable flag's issue has the item's index after the name: the flag is the first part.
    const flag = `--${String(issue.path[0])}`;
    const message = issue.message.replace(/^[A-Z](?=[a-z])/, (c) => c.toLowerCase());
    throw new UsageError(issue.path.length === 0 || issue.message.includes(flag) ? issue.message : `${flag}: ${message}`);
  }
  return { flags: r.data, args: positionals };
}

/** Left-aligned columns separated by two spaces, like kubectl's. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

/** Makes traffic-derived text safe for a terminal: no escape sequences, line breaks or bidirectional overrides. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g, '\uFFFD');
}

export function defaultDb(): string {
  return process.env.TRUSTMAP_DB ?? './trustmap.db';
}

export function humanBytes(n: number): string {
  // SI prefixes (powers of 1000), so kilo is a lower-case k.
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return `${n >= 100 || i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

export function humanCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(Math.round(n));
}

/** A duration flag: `500ms`, `10s`, `5m`, `1h`; the value in milliseconds. */
export function durationFlag(minMs: number, maxMs: number) {
  return z.string().transform((s, ctx) => {
    const m = /^(\d+)(ms|s|m|h)$/.exec(s);
    const ms = m ? Number(m[1]) * { ms: 1, s: 1e3, m: 6e4, h: 36e5 }[m[2] as 'ms' | 's' | 'm' | 'h'] : NaN;
    if (Number.isNaN(ms) || ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: 'custom', message: `not a duration between ${minMs} ms and ${maxMs / 1000} s like 10s, 500ms, 1m: ${JSON.stringify(s)}` });
      return z.NEVER;
    }
    return ms;
  });
}
