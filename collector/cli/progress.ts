// A one-line progress bar for terminals: bytes, packets, rate, ETA. Drawn on stderr only when it
// is a TTY; otherwise nothing is printed until the summary.
import type { Progress } from '../ingest.js';
import { humanBytes, humanCount } from './support.js';

export class ProgressBar {
  private drawn = false;
  constructor(private readonly out: NodeJS.WritableStream & { columns?: number }, private readonly label: string) {}

  update(p: Progress): void {
    const secs = Math.max(p.elapsedMs / 1000, 0.001);
    const rate = p.bytesRead / secs;
    let text: string;
    if (p.totalBytes !== null && p.totalBytes > 0) {
      const frac = Math.min(1, p.bytesRead / p.totalBytes);
      const width = 24;
      const filled = Math.round(frac * width);
      const eta = rate > 0 ? (p.totalBytes - p.bytesRead) / rate : 0;
      text = `${this.label} [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% `
        + `${humanBytes(p.bytesRead)}/${humanBytes(p.totalBytes)}  ${humanCount(p.packets)} pkts  `
        + `${humanCount(p.packets / secs)} pkt/s  ${humanBytes(rate)}/s  ETA ${eta.toFixed(0)}s`;
    } else {
      text = `${this.label} ${humanBytes(p.bytesRead)}  ${humanCount(p.packets)} pkts  ${humanCount(p.packets / secs)} pkt/s  ${humanBytes(rate)}/s`;
    }
    const cols = this.out.columns ?? 100;
    this.out.write(`\r${text.slice(0, cols - 1).padEnd(Math.min(cols - 1, text.length))}\x1b[K`);
    this.drawn = true;
  }

  clear(): void {
    if (this.drawn) this.out.write('\r\x1b[K');
    this.drawn = false;
  }
}
