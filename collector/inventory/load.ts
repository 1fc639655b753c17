// Loading inventory files into the store: read → validate → resolve → one transaction per file.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Db } from '../store/db.js';
import { findSnapshotBySha, writeSnapshot, type SnapshotTimeSource } from '../store/inventory.js';
import { InventoryFormatError, readInventoryText } from './read.js';
import { resolveSnapshot } from './resolve.js';

/** Inventory files are text listings; beyond this something is wrong (or it is not one). */
const MAX_BYTES = 512 * 1024 * 1024;

export interface LoadOptions {
  /** Snapshot time from --at; otherwise the newest timestamp in the file, else now. */
  atMs: number | null;
  force: boolean;
  now?: () => Date;
}

export type LoadOutcome =
  | {
    status: 'loaded'; name: string; snapshotId: number; takenAtMs: number; timeSource: SnapshotTimeSource;
    objects: number; pods: number; services: number; skipped: number; ignored: number; byConvention: number;
  }
  | { status: 'duplicate'; name: string; previousId: number }
  | { status: 'error'; name: string; message: string };

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    const b = typeof c === 'string' ? Buffer.from(c) : (c as Buffer);
    n += b.length;
    if (n > MAX_BYTES) throw new InventoryFormatError('standard input is larger than 512 MiB');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

function readInput(input: string): Buffer {
  try {
    return readFileSync(input);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new InventoryFormatError(e.code === 'ENOENT' ? `${input}: no such file` : e.code === 'EISDIR' ? `${input}: is a directory` : `${input}: cannot read (${e.code ?? e.message})`);
  }
}

/** Loads one file (or '-' with `stdin`); never throws for bad input. */
export async function loadInventory(db: Db, input: string, stdin: Readable | null, opts: LoadOptions): Promise<LoadOutcome> {
  let bytes: Buffer;
  try {
    bytes = input === '-' ? await readAll(stdin ?? process.stdin) : readInput(input);
  } catch (err) {
    if (err instanceof InventoryFormatError) return { status: 'error', name: input, message: err.message };
    throw err;
  }
  return loadInventoryBytes(db, input, bytes, opts);
}

/** Loads one listing already in memory (a file's bytes, or what `kubectl get` printed). */
export function loadInventoryBytes(db: Db, input: string, bytes: Buffer, opts: LoadOptions): LoadOutcome {
  const now = opts.now ?? (() => new Date());
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (!opts.force) {
    const seen = findSnapshotBySha(db, sha256);
    if (seen && (opts.atMs === null || seen.takenAtMs === opts.atMs)) return { status: 'duplicate', name: input, previousId: seen.id };
  }
  if (bytes.includes(0)) return { status: 'error', name: input, message: `${input}: not JSON or YAML (binary data)` };
  let read;
  try {
    read = readInventoryText(bytes.toString('utf8'), input);
  } catch (err) {
    if (err instanceof InventoryFormatError) return { status: 'error', name: input, message: err.message };
    throw err;
  }
  const resolved = resolveSnapshot(read.objects, { atMs: opts.atMs, nowMs: now().getTime() });
  const snapshotId = writeSnapshot(db, {
    name: input, sha256, takenAtMs: resolved.takenAtMs, timeSource: resolved.timeSource, objects: read.objects.length,
    skipped: read.skipped, kinds: [...read.kinds], loadedAt: now().toISOString(),
  }, resolved.data);
  return {
    status: 'loaded', name: input, snapshotId, takenAtMs: resolved.takenAtMs, timeSource: resolved.timeSource,
    objects: read.objects.length, pods: resolved.data.pods.length, services: resolved.data.services.length,
    skipped: read.skipped, ignored: read.ignored, byConvention: resolved.byConvention,
  };
}
