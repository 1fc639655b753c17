// Sends the outbox (collector/store/outbox.ts) to the central server, one batch at a time and in
// order. A batch leaves the outbox only after a 2xx (a duplicate answer is a 2xx: the server had
// it already). Unreachable server, timeouts, 408, 429 and 5xx: the batch stays and is retried
// with exponential backoff and full jitter, so a fleet of collectors does not return in step.
// 400/413/415 mean the batch itself can never be accepted: it is set aside as rejected, logged,
// and the queue moves on rather than blocking forever behind it.
import { log } from '../log.js';
import type { Db } from '../store/db.js';
import { markRejected, nextBatches, removeSent, spoolState, type OutboxEntry, type SpoolState } from '../store/outbox.js';
import type { IngestReply } from './wire.js';

export interface SenderOptions {
  /** The ingest endpoint, e.g. http://trustmap:7070/api/v1/ingest. */
  url: string;
  token: string;
}

export interface SenderStats {
  sent: number;
  duplicates: number;
  rejected: number;
  retries: number;
}

type Attempt = { kind: 'accepted'; duplicate: boolean } | { kind: 'rejected'; reason: string } | { kind: 'retry'; reason: string; isAuth: boolean };

const PERMANENT = new Set([400, 413, 415, 422]);
const IDLE_POLL_MS = 200;
/** Backoff: the first retry within 0.25 s, doubling up to 30 s between tries. */
const BASE_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;
/** A batch of ~1 MB on a cluster network; a server that takes longer is treated as down. */
const REQUEST_TIMEOUT_MS = 30_000;

export class Sender {
  readonly stats: SenderStats = { sent: 0, duplicates: 0, rejected: 0, retries: 0 };
  private cursor = 0;
  private acked: number[] = [];
  private failing = false;
  private stopAt: number | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** What stopped the loop other than finish(): a store error, rethrown by finish(). */
  private failure: unknown = null;

  /** `db` is the sender's own connection to the store that holds the outbox. */
  constructor(private readonly db: Db, private readonly o: SenderOptions) {
    // The ingest may hold the write lock for a whole input: a delete that cannot have it now is
    // retried after the next send instead of blocking this thread.
    db.pragma('busy_timeout = 100');
  }

  /** Starts sending in the background, batches as they are committed. */
  start(): void {
    // Caught here so a store error between batches is not an unhandled rejection; finish() reports it.
    this.loop ??= this.run().catch((err: unknown) => { this.failure = err; });
  }

  /**
   * Keeps sending until the outbox is empty or `timeoutMs` has passed, then stops. Resolves with
   * what is still spooled.
   */
  async finish(timeoutMs: number): Promise<SpoolState> {
    this.stopAt = Date.now() + timeoutMs;
    this.start();
    this.wake?.();
    await this.loop;
    if (this.failure !== null) throw this.failure;
    // The ingest is over: waiting for the lock is fine now, and an accepted batch left behind
    // would only be sent again (and answered duplicate) by the next run.
    this.db.pragma('busy_timeout = 5000');
    this.deleteAcked();
    return spoolState(this.db);
  }

  private async run(): Promise<void> {
    let attempt = 0;
    for (;;) {
      this.deleteAcked();
      const batch = nextBatches(this.db, this.cursor, 1)[0];
      if (batch === undefined) {
        if (this.stopAt !== null) return;
        await this.sleep(IDLE_POLL_MS);
        continue;
      }
      if (this.stopAt !== null && Date.now() >= this.stopAt) return;
      const r = await this.send(batch);
      if (r.kind === 'retry') {
        this.stats.retries++;
        if (!this.failing) {
          this.failing = true;
          log.warn({ url: this.o.url, reason: r.reason, spooled: spoolState(this.db).batches },
            r.isAuth ? 'the central server refuses this node\'s token: batches stay in the spool until it is fixed'
              : 'central server unreachable: batches stay in the spool and are resent with backoff');
        }
        // Full jitter: a random wait up to the exponential bound (AWS Architecture Blog, "Exponential Backoff And Jitter").
        const bound = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** Math.min(attempt, 20));
        attempt++;
        await this.sleep(Math.max(10, Math.random() * bound));
        continue;
      }
      attempt = 0;
      if (this.failing) {
        this.failing = false;
        log.info({ url: this.o.url }, 'central server reachable again: the spool drains');
      }
      if (r.kind === 'rejected') {
        if (!this.setAside(batch.seq, r.reason)) {
          // The ingest holds the write lock: the batch is sent (and refused) again later.
          await this.sleep(IDLE_POLL_MS);
          continue;
        }
        this.cursor = batch.seq;
        this.stats.rejected++;
        log.error({ batch: batch.batchId, reason: r.reason }, 'the central server rejected a batch as malformed; it is kept aside in the spool (push_outbox.rejected)');
        continue;
      }
      this.cursor = batch.seq;
      if (r.duplicate) this.stats.duplicates++;
      else this.stats.sent++;
      this.acked.push(batch.seq);
    }
  }

  private async send(b: OutboxEntry): Promise<Attempt> {
    let res: Response;
    try {
      res = await fetch(this.o.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${this.o.token}` },
        body: b.body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause;
      return { kind: 'retry', reason: cause?.code ?? (err as Error).message, isAuth: false };
    }
    const text = await res.text().catch(() => '');
    if (res.ok) {
      let reply: Partial<IngestReply> = {};
      try { reply = JSON.parse(text) as IngestReply; } catch { /* a 2xx is an acceptance whatever its body */ }
      return { kind: 'accepted', duplicate: reply.duplicate === true };
    }
    const detail = `HTTP ${res.status}: ${text.slice(0, 300)}`;
    if (PERMANENT.has(res.status)) return { kind: 'rejected', reason: detail };
    return { kind: 'retry', reason: detail, isAuth: res.status === 401 || res.status === 403 };
  }

  /** Marks a batch rejected; false when the store is locked by the ingest right now. */
  private setAside(seq: number, reason: string): boolean {
    try {
      markRejected(this.db, seq, reason);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
      return false;
    }
  }

  private deleteAcked(): void {
    if (this.acked.length === 0) return;
    try {
      removeSent(this.db, this.acked);
      this.acked = [];
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
    }
  }

  private sleep(ms: number): Promise<void> {
    const until = this.stopAt === null ? ms : Math.max(0, Math.min(ms, this.stopAt - Date.now()));
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.wake = null; resolve(); }, until);
      this.wake = () => { clearTimeout(t); this.wake = null; resolve(); };
    });
  }
}
