// Test helper: writes packets to a real pcap file, ingests it into a fresh SQLite store through
// the real pipeline, and returns what the store then holds.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestCapture, type IngestOutcome } from '../../collector/ingest.js';
import { listCalls, type CallView } from '../../collector/store/calls.js';
import { openStore } from '../../collector/store/db.js';
import { pcapFile } from './packets.js';

export function tempDir(prefix = 'tm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function ingestPackets(packets: Array<{ tsMs: number; bytes: Uint8Array }>, opts: { maxFlows?: number } = {}): Promise<{ calls: CallView[]; outcome: IngestOutcome }> {
  const dir = tempDir();
  const file = join(dir, 'capture.pcap');
  writeFileSync(file, pcapFile(packets));
  const db = openStore(join(dir, 'store.db'));
  try {
    const outcome = await ingestCapture(db, file, null, { node: '', force: false, maxFlows: opts.maxFlows });
    return { calls: listCalls(db), outcome };
  } finally {
    db.close();
  }
}
