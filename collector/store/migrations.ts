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

      -- key_hi/key_lo: a 64-bit hash of the aggregation key (collector/store/key-hash.ts). One
      -- integer pair is far cheaper to keep unique than seventeen text columns, and at a million
      -- rows the chance of any collision is about 3e-8.
      CREATE TABLE calls (
        id INTEGER PRIMARY KEY,
        key_hi INTEGER NOT NULL,
        key_lo INTEGER NOT NULL,
        ${CALL_KEY_COLUMNS},
        ${CALL_COUNTER_COLUMNS},
        UNIQUE (key_hi, key_lo)
      );
    `,
  },
  {
    version: 2,
    name: 'inventory, dns names, call verdicts',
    // Inventory rows are facts as one snapshot saw them; validity intervals across snapshots are
    // computed when the attribution index is built (collector/identity/attribute.ts), so loading
    // snapshots out of time order, or after the captures, gives the same answer.
    sql: `
      CREATE TABLE inventory_snapshots (
        id          INTEGER PRIMARY KEY,
        name        TEXT    NOT NULL,
        sha256      TEXT    NOT NULL,
        taken_at_ms INTEGER NOT NULL,
        time_source TEXT    NOT NULL CHECK (time_source IN ('flag', 'newest-timestamp', 'now')),
        objects     INTEGER NOT NULL DEFAULT 0,
        skipped     INTEGER NOT NULL DEFAULT 0,
        -- Which kinds the snapshot listed: a later snapshot only ends the life of objects of a
        -- kind it lists (a file of Services says nothing about Pods).
        kinds       TEXT    NOT NULL DEFAULT '',
        loaded_at   TEXT    NOT NULL
      );
      CREATE INDEX inventory_snapshots_sha256 ON inventory_snapshots (sha256);

      CREATE TABLE inventory_namespaces (
        snapshot_id INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        name        TEXT    NOT NULL,
        labels      TEXT    NOT NULL DEFAULT '{}',
        PRIMARY KEY (snapshot_id, name)
      );

      -- Controllers (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob) as listed.
      CREATE TABLE inventory_workloads (
        snapshot_id     INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        namespace       TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        name            TEXT    NOT NULL,
        uid             TEXT    NOT NULL DEFAULT '',
        owner_kind      TEXT    NOT NULL DEFAULT '',
        owner_name      TEXT    NOT NULL DEFAULT '',
        service_account TEXT    NOT NULL DEFAULT '',
        labels          TEXT    NOT NULL DEFAULT '{}',
        created_ms      INTEGER,
        PRIMARY KEY (snapshot_id, namespace, kind, name)
      );

      -- Pods, already resolved to their top workload when the snapshot was loaded.
      CREATE TABLE inventory_pods (
        snapshot_id     INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        namespace       TEXT    NOT NULL,
        name            TEXT    NOT NULL,
        uid             TEXT    NOT NULL DEFAULT '',
        workload_kind   TEXT    NOT NULL,
        workload_name   TEXT    NOT NULL,
        resolution      TEXT    NOT NULL,
        service_account TEXT    NOT NULL,
        node            TEXT    NOT NULL DEFAULT '',
        labels          TEXT    NOT NULL DEFAULT '{}',
        phase           TEXT    NOT NULL DEFAULT '',
        host_network    INTEGER NOT NULL DEFAULT 0,
        created_ms      INTEGER,
        deleted_ms      INTEGER,
        finished_ms     INTEGER,
        PRIMARY KEY (snapshot_id, namespace, name)
      );

      -- One row per pod IP (dual-stack pods have two): the pod's own evidence of when it held the
      -- address (creation → finish/deletion, NULL when still holding it at snapshot time).
      CREATE TABLE inventory_pod_addresses (
        snapshot_id   INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        ip            TEXT    NOT NULL,
        namespace     TEXT    NOT NULL,
        pod           TEXT    NOT NULL,
        valid_from_ms INTEGER,
        valid_until_ms INTEGER,
        PRIMARY KEY (snapshot_id, ip, namespace, pod)
      );
      CREATE INDEX inventory_pod_addresses_ip ON inventory_pod_addresses (ip);

      CREATE TABLE inventory_services (
        snapshot_id INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        namespace   TEXT    NOT NULL,
        name        TEXT    NOT NULL,
        type        TEXT    NOT NULL DEFAULT 'ClusterIP',
        -- JSON arrays/objects: [{name, port, protocol, targetPort}], {label: value} or null.
        ports       TEXT    NOT NULL DEFAULT '[]',
        selector    TEXT,
        created_ms  INTEGER,
        PRIMARY KEY (snapshot_id, namespace, name)
      );

      -- ClusterIPs, external IPs and load-balancer ingress IPs of services.
      CREATE TABLE inventory_service_addresses (
        snapshot_id INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        ip          TEXT    NOT NULL,
        namespace   TEXT    NOT NULL,
        name        TEXT    NOT NULL,
        kind        TEXT    NOT NULL CHECK (kind IN ('cluster-ip', 'external-ip', 'load-balancer')),
        PRIMARY KEY (snapshot_id, ip, namespace, name)
      );
      CREATE INDEX inventory_service_addresses_ip ON inventory_service_addresses (ip);

      -- One row per endpoint address of an EndpointSlice.
      CREATE TABLE inventory_endpoints (
        snapshot_id   INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        namespace     TEXT    NOT NULL,
        slice         TEXT    NOT NULL,
        service       TEXT    NOT NULL,
        ip            TEXT    NOT NULL,
        target_kind   TEXT    NOT NULL DEFAULT '',
        target_name   TEXT    NOT NULL DEFAULT '',
        ready         INTEGER NOT NULL DEFAULT 1,
        ports         TEXT    NOT NULL DEFAULT '[]',
        PRIMARY KEY (snapshot_id, namespace, slice, ip)
      );

      CREATE TABLE inventory_nodes (
        snapshot_id INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        name        TEXT    NOT NULL,
        pod_cidrs   TEXT    NOT NULL DEFAULT '[]',
        labels      TEXT    NOT NULL DEFAULT '{}',
        created_ms  INTEGER,
        PRIMARY KEY (snapshot_id, name)
      );

      CREATE TABLE inventory_node_addresses (
        snapshot_id INTEGER NOT NULL REFERENCES inventory_snapshots (id) ON DELETE CASCADE,
        ip          TEXT    NOT NULL,
        name        TEXT    NOT NULL,
        type        TEXT    NOT NULL,
        PRIMARY KEY (snapshot_id, ip, name)
      );

      -- DNS answers the pcap collector saw: names external addresses.
      CREATE TABLE dns_names (
        ip            TEXT    NOT NULL,
        name          TEXT    NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        PRIMARY KEY (ip, name)
      );

      -- Hubble verdicts per call (FORWARDED, DROPPED, ...): a side table keyed by the call's key
      -- hash (calls.key_hi, key_lo) rather than a new key column, so pcap and Envoy rows (no
      -- verdict) keep one row per call. docs/identity.md explains the choice.
      CREATE TABLE call_verdicts (
        key_hi  INTEGER NOT NULL,
        key_lo  INTEGER NOT NULL,
        verdict TEXT    NOT NULL,
        count   INTEGER NOT NULL,
        PRIMARY KEY (key_hi, key_lo, verdict)
      );
    `,
  },
  {
    version: 3,
    name: 'certificates seen in clear',
    // TLS <= 1.2 sends certificates unencrypted: who presented which identity, to whom, until
    // when it is valid. One row per certificate, one per (certificate, role, address) sighting.
    sql: `
      CREATE TABLE certificates (
        fingerprint   TEXT    PRIMARY KEY,
        subject       TEXT    NOT NULL,
        issuer        TEXT    NOT NULL,
        uris          TEXT    NOT NULL DEFAULT '[]',
        dns_names     TEXT    NOT NULL DEFAULT '[]',
        serial        TEXT    NOT NULL DEFAULT '',
        not_before_ms INTEGER NOT NULL,
        not_after_ms  INTEGER NOT NULL
      );
      CREATE TABLE certificate_sightings (
        fingerprint   TEXT    NOT NULL REFERENCES certificates (fingerprint),
        role          TEXT    NOT NULL CHECK (role IN ('client', 'server')),
        ip            TEXT    NOT NULL,
        count         INTEGER NOT NULL,
        first_seen_ms INTEGER NOT NULL,
        last_seen_ms  INTEGER NOT NULL,
        PRIMARY KEY (fingerprint, role, ip)
      );
    `,
  },
  {
    version: 4,
    name: 'live captures: kernel drops; merged stores',
    // A live capture (collect live) records the packets the kernel or tcpdump dropped: NULL for
    // file inputs, whose drops (if any) happened when the file was written and are unknown.
    // merges: one row per source store folded in by "trustmap merge", keyed by the store's
    // identity (collector/store/merge.ts), so merging the same store again is a reported no-op.
    sql: `
      ALTER TABLE captures ADD COLUMN dropped INTEGER;
      CREATE TABLE merges (
        identity   TEXT    PRIMARY KEY,
        name       TEXT    NOT NULL,
        captures   INTEGER NOT NULL,
        calls      INTEGER NOT NULL,
        merged_at  TEXT    NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'many nodes, one store: push outbox, ingest batches, pushed captures',
    // Collector side (collect --push): push_outbox holds every batch from the transaction that
    // produced it until the server answered 2xx, so a batch is never lost and never rebuilt; its
    // seq (AUTOINCREMENT: never reused) with the store's collector id is the idempotency key.
    // push_collector holds that id (one row). Server side (POST /api/v1/ingest): ingest_batches
    // records each applied batch id in the same transaction as its rows, so a replay is found
    // and nothing is counted twice. captures.origin names a pushed capture
    // ('<collector id>/<its capture id>'); NULL for captures ingested here.
    sql: `
      CREATE TABLE push_collector (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        id  TEXT    NOT NULL
      );
      CREATE TABLE push_outbox (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id   TEXT    NOT NULL UNIQUE,
        rows       INTEGER NOT NULL,
        bytes      INTEGER NOT NULL,
        body       TEXT    NOT NULL,
        created_at TEXT    NOT NULL,
        rejected   TEXT
      );
      CREATE TABLE ingest_batches (
        batch_id    TEXT    PRIMARY KEY,
        node        TEXT    NOT NULL,
        rows        INTEGER NOT NULL,
        received_at TEXT    NOT NULL
      );
      ALTER TABLE captures ADD COLUMN origin TEXT;
      CREATE UNIQUE INDEX captures_origin ON captures (origin) WHERE origin IS NOT NULL;
    `,
  },
  {
    version: 6,
    name: 'store identity for merge',
    // Every store gets a random identity when it is created (or first opened by this version):
    // "trustmap merge" records the identities it folded in (merges.identity) so the same store
    // merged twice is a no-op, and refuses a store that changed since it was merged (signature:
    // a hash of its captures and totals) instead of counting its calls twice. A copied file
    // keeps its identity, which is right: it holds the same calls. docs/live.md, "Merge".
    sql: `
      CREATE TABLE store_identity (
        one INTEGER PRIMARY KEY CHECK (one = 1),
        id  TEXT    NOT NULL
      );
      INSERT INTO store_identity (one, id) VALUES (1, lower(hex(randomblob(16))));
      ALTER TABLE merges ADD COLUMN signature TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 7,
    name: 'one store id: pushing uses store_identity',
    // push_collector (migration 5) and store_identity (migration 6) were the same thing, a
    // random id per store, added at the same time by two changes; batch ids now take
    // store_identity's. A spool store with batches still queued keeps their ids (in the bodies);
    // only batches created from now on use the new prefix, and ids never repeat either way.
    sql: `DROP TABLE push_collector;`,
  },
  {
    version: 8,
    name: 'capture owner',
    // The process that records a capture (collector/capture-owner.ts): a capture left 'running'
    // by a collector that was killed is recognised as interrupted instead of running forever.
    // NULL for captures from before, pushed or merged: their owner cannot be checked here.
    sql: `ALTER TABLE captures ADD COLUMN owner TEXT;`,
  },
  {
    version: 9,
    name: 'calls a pushing collector dropped',
    // A collector whose spool is full drops new batches (collect --push --spool-max): the calls
    // in them are missing from the central map. Counted on its own capture record and sent with
    // the capture's tallies, so the server (and its UI) says the map is incomplete. NULL: the
    // capture was not pushed.
    sql: `ALTER TABLE captures ADD COLUMN spool_dropped_calls INTEGER;`,
  },
  {
    version: 10,
    name: 'verdicts a pushing collector dropped',
    // Hubble verdict counts ride in batches too (DROPPED ones keep refused calls out of the
    // proposed policies), and a full spool drops them like calls, sometimes alone while the calls
    // they count went out earlier: the central map then proposes allowing what Cilium refuses.
    // Counted and sent like spool_dropped_calls. NULL: not pushed, or pushed by an older collector.
    sql: `ALTER TABLE captures ADD COLUMN spool_dropped_verdicts INTEGER;`,
  },
];
