// A one-line progress bar for terminals: bytes, packets, rate, ETA. Drawn on stderr only when it
// is a TTY; otherwise nothing is printed until the summary.
import { basename } from 'node:path';
import type { Progress } from '../ingest.js';
import { humanBytes, humanCount } from './support.js';

export class ProgressBar {
  private drawn = false;
  private readonly label: string;
  constructor(private readonly out: NodeJS.WritableStream & { columns?: number }, name: string) {
    this.label = basename(name);
  }

  update(p: Progress): void {
    const secs = Math.max(p.elapsedMs / 1000, 0.001);
    const rate = p.bytesRead / secs;
    // Most important first; parts are dropped from the end of `extra` until the line fits.
    let head: string;
    const extra: string[] = [];
    if (p.totalBytes !== null && p.totalBytes > 0) {
      const frac = Math.min(1, p.bytesRead / p.totalBytes);
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = rate > 0 ? (p.totalBytes - p.bytesRead) / rate : 0;
      head = `${this.label} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%  ETA ${eta.toFixed(0)}s`;
      extra.push(`${humanBytes(p.bytesRead)}/${humanBytes(p.totalBytes)}`);
    } else {
      head = `${this.label} ${humanBytes(p.bytesRead)}`;
    }
    extra.push(`${humanCount(p.packets)} pkts`, `${humanCount(p.packets / secs)} pkt/s`, `${humanBytes(rate)}/s`);
    // A pseudo-terminal without a size reports 0 columns.
    const cols = (this.out.columns || 100) - 1;
    let text = [head, ...extra].join('  ');
    while (text.length > cols && extra.length > 0) {
      extra.pop();
      text = [head, ...extra].join('  ');
    }
    this.out.write(`\r${text.slice(0, cols)}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
