// The one-line status of a long-running collector on a terminal: packets, rows written, drops,
// time since the last flush. Drawn on stderr only when it is a TTY; pipes get the summary only.
import type { LiveStatus } from '../ingest.js';
import { humanCount } from './support.js';

export class StatusLine {
  private drawn = false;
  constructor(private readonly out: NodeJS.WritableStream & { columns?: number }, private readonly label: string) {}

  update(s: LiveStatus, nowMs = Date.now()): void {
    const flushed = s.lastFlushMs === null ? 'no flush yet' : `last flush ${Math.max(0, Math.round((nowMs - s.lastFlushMs) / 1000))}s ago`;
    const drops = s.dropped === null ? 'drops ?' : `drops ${humanCount(s.dropped)}${s.dropped > 0 ? ' (map may be incomplete)' : ''}`;
    const text = `${this.label}  ${humanCount(s.packets)} pkts  ${humanCount(s.callsWritten)} calls written  ${drops}  ${flushed}`;
    const cols = (this.out.columns || 100) - 1;
    this.out.write(`\r${text.slice(0, cols)}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
