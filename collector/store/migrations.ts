// Versioned schema migrations. The store's version lives in SQLite's `user_version`; each
// migration runs in its own transaction, so a crash mid-migration leaves the previous version.
// Append new migrations at the end; never edit one that has shipped. docs/schema.md describes
// the resulting tables.

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

// Text key columns are NOT NULL DEFAULT '' because SQLite's UNIQUE treats NULLs as distinct,
// which would make every upsert with a NULL key column insert a new row.
const CALL_KEY_COLUMNS = `
  bucket_ms        INTEGER NOT NULL,
  source           TEXT    NOT NULL,
  node             TEXT    NOT NULL DEFAULT '',
  src_ip           TEXT    NOT NULL,
  dst_ip           TEXT    NOT NULL,
  service_ip       TEXT    NOT NULL DEFAULT '',
  dst_port         INTEGER NOT NULL,
  transport        TEXT    NOT NULL,
  protocol         TEXT    NOT NULL,
  method           TEXT    NOT NULL DEFAULT '',
  path             TEXT    NOT NULL DEFAULT '',
  host             TEXT    NOT NULL DEFAULT '',
  sni              TEXT    NOT NULL DEFAULT '',
  alpn             TEXT    NOT NULL DEFAULT '',
  security         TEXT    NOT NULL,
  security_reason  TEXT    NOT NULL DEFAULT '',
  direction        TEXT    NOT NULL DEFAULT 'observed'`;

const CALL_COUNTER_COLUMNS = `
  count            INTEGER NOT NULL,
  connections      INTEGER NOT NULL DEFAULT 0,
  bytes            INTEGER NOT NULL DEFAULT 0,
  first_seen_ms    INTEGER NOT NULL,
  last_seen_ms     INTEGER NOT NULL,
  credentials_in_plaintext INTEGER NOT NULL DEFAULT 0,
  status_2xx       INTEGER NOT NULL DEFAULT 0,
  status_3xx       INTEGER NOT NULL DEFAULT 0,
  status_4xx       INTEGER NOT NULL DEFAULT 0,
  status_5xx       INTEGER NOT NULL DEFAULT 0`;

export const CALL_KEY = `bucket_ms, source, node, src_ip, dst_ip, service_ip, dst_port, transport,
  protocol, method, path, host, sni, alpn, security, security_reason, direction`;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'captures and calls',
    sql: `
      CREATE TABLE captures (
        id            INTEGER PRIMARY KEY,
        source        TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        node          TEXT    NOT NULL DEFAULT '',
        sha256        TEXT,
        fingerprint   TEXT,
        size_bytes    INTEGER NOT NULL DEFAULT 0,
        packets       INTEGER NOT NULL DEFAULT 0,
        malformed     INTEGER NOT NULL DEFAULT 0,
        skipped       INTEGER NOT NULL DEFAULT 0,
        connections   INTEGER NOT NULL DEFAULT 0,
        evicted_early INTEGER NOT NULL DEFAULT 0,
        calls_written INTEGER NOT NULL DEFAULT 0,
        first_ts_ms   INTEGER,
        last_ts_ms    INTEGER,
        status        TEXT    NOT NULL CHECK (status IN ('running', 'complete', 'failed')),
        error         TEXT,
        started_at    TEXT    NOT NULL,
        finished_at   TEXT
      );
      CREATE INDEX captures_sha256 ON captures (sha256);
      CREATE INDEX captures_fingerprint ON captures (fingerprint);

      CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        ${CALL_KEY_COLUMNS},
        ${CALL_COUNTER_COLUMNS},
        UNIQUE (${CALL_KEY})
      );
      CREATE INDEX calls_time ON calls (last_seen_ms);
      CREATE INDEX calls_edge ON calls (src_ip, dst_ip, dst_port);

      -- An ingest writes its batches here and moves them into calls in one transaction when the
      -- input is complete, so a process killed mid-ingest never leaves half a capture counted.
      CREATE TABLE staged_calls (
        capture_id INTEGER NOT NULL REFERENCES captures (id) ON DELETE CASCADE,
        ${CALL_KEY_COLUMNS},
        ${CALL_COUNTER_COLUMNS},
        UNIQUE (capture_id, ${CALL_KEY})
      );
    `,
  },
];
