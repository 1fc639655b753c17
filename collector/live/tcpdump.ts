// tcpdump as the capture engine of `collect live`: started with an argument array (never a
// shell), its pcap stream read from stdout, its messages and packet statistics from stderr.
// It needs root or CAP_NET_RAW (-B too: measured as an unprivileged user with only that
// capability); we only read what it writes.
import { spawn, type ChildProcess } from 'node:child_process';
import type { LiveInput, Source } from '../ingest.js';
import { TcpdumpStats } from './tcpdump-stats.js';
import { tickingSource } from './stream-source.js';

export interface TcpdumpOptions {
  iface: string;
  filter: string | null;
  snaplen: number | null;
  /** Kernel capture buffer, KiB (tcpdump -B). */
  bufferKiB: number;
  /** How often an idle stream yields to the ingest's clock. */
  tickMs: number;
  /** The executable, looked up in PATH. */
  command?: string;
}

/** tcpdump could not start capturing (missing, no permission, bad filter or interface). */
export class TcpdumpStartError extends Error {
  override name = 'TcpdumpStartError';
}

const MAX_MESSAGES = 8;
const MAX_LINE = 1024;
/** tcpdump gets this long to exit after SIGINT before it is killed. */
const STOP_GRACE_MS = 10_000;
/** tcpdump prints "listening on" as soon as the capture is open; opening never takes this long. */
const START_TIMEOUT_MS = 30_000;

export function tcpdumpArgs(o: TcpdumpOptions): string[] {
  const args = ['-U', '-w', '-', '-i', o.iface, '-B', String(o.bufferKiB)];
  if (o.snaplen !== null) args.push('-s', String(o.snaplen));
  // "--": a filter is never taken for an option, whatever it starts with.
  if (o.filter !== null) args.push('--', o.filter);
  return args;
}

export class Tcpdump implements LiveInput {
  readonly source: Source;
  readonly stats = new TcpdumpStats();
  /** Recent lines that were not statistics: tcpdump's own words when it fails. */
  private readonly messages: string[] = [];
  private partial = '';
  private isStopping = false;
  private isListening = false;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(private readonly child: ChildProcess, o: TcpdumpOptions) {
    this.source = tickingSource(`tcpdump -i ${o.iface}`, child.stdout!, o.tickMs);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => this.stderr(d));
    this.exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  }

  /** Starts tcpdump and resolves once it is capturing ("listening on ..."). */
  static start(o: TcpdumpOptions): Promise<Tcpdump> {
    const command = o.command ?? 'tcpdump';
    const child = spawn(command, tcpdumpArgs(o), { stdio: ['ignore', 'pipe', 'pipe'] });
    const t = new Tcpdump(child, o);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new TcpdumpStartError(`${command} did not start capturing within ${START_TIMEOUT_MS / 1000} s`));
      }, START_TIMEOUT_MS);
      child.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new TcpdumpStartError(err.code === 'ENOENT'
          ? `${command} not found in PATH; collect live needs tcpdump (apt-get install tcpdump)`
          : `cannot run ${command}: ${err.code ?? err.message}`));
      });
      t.onListening = () => { clearTimeout(timer); resolve(t); };
      void t.exited.then(({ code, signal }) => {
        if (t.isListening) return;
        clearTimeout(timer);
        reject(new TcpdumpStartError(t.message() || `${command} exited (${signal ?? `code ${code}`}) before capturing`));
      });
    });
  }

  private onListening: () => void = () => {};

  get pid(): number | undefined {
    return this.child.pid;
  }

  private stderr(d: string): void {
    const lines = (this.partial + d).split('\n');
    this.partial = lines.pop()!.slice(0, MAX_LINE);
    for (const raw of lines) {
      const line = raw.trim().slice(0, MAX_LINE);
      if (line === '' || this.stats.line(line)) continue;
      if (!this.isListening && line.includes('listening on ')) {
        this.isListening = true;
        this.onListening();
        continue;
      }
      this.messages.push(line);
      if (this.messages.length > MAX_MESSAGES) this.messages.shift();
    }
  }

  /** tcpdump's recent messages as one line. */
  private message(): string {
    // eslint-disable-next-line no-control-regex
    return this.messages.join(' ').replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
  }

  dropped(): number | null {
    return this.stats.dropped();
  }

  /** SIGUSR1 makes tcpdump print its statistics on Linux; sent only once it is capturing (the
   * default action of SIGUSR1 is to terminate, before tcpdump installs its handler). */
  requestStats(): void {
    if (this.isListening && !this.isStopping && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGUSR1');
    }
  }

  /** Asks tcpdump to stop (SIGINT: it prints its final statistics and exits 0). */
  stop(): void {
    if (this.isStopping || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.isStopping = true;
    this.child.kill('SIGINT');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
    void this.exited.then(() => clearTimeout(timer));
  }

  async ended(): Promise<{ error: string | null }> {
    const { code, signal } = await this.exited;
    // tcpdump exits 0 only when told to stop (SIGINT/SIGTERM, ours or a terminal's Ctrl-C).
    if (code === 0 || (this.isStopping && signal !== null)) return { error: null };
    const said = this.message();
    return { error: `tcpdump ${signal !== null ? `was killed by ${signal}` : `exited with code ${code}`}${said ? `: ${said}` : ''}` };
  }
}
