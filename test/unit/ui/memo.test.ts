// The UI server's answer memo on a real SQLite store: one computation per key while the store is
// unchanged, least recently used entries evicted first, and everything dropped when anything
// commits (another connection, or the memo's own connection).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openStore } from '../../../collector/store/db.js';
import { StoreMemo } from '../../../ui/api/memo.js';
import { tempDir } from '../../helpers/ingest.js';
import { writeCalls } from '../analyzer/fixture.js';

function counting(): { computed: string[]; compute: (key: string) => () => string } {
  const computed: string[] = [];
  let n = 0;
  return { computed, compute: (key) => () => { computed.push(key); return `${key}#${++n}`; } };
}

describe('StoreMemo', () => {
  it('computes a key once while the store is unchanged and evicts the least recently used', () => {
    const db = openStore(join(tempDir('tm-memo-'), 'store.db'));
    try {
      const memo = new StoreMemo(db, 2);
      const { computed, compute } = counting();
      const a = memo.get('a', compute('a'));
      assert.equal(memo.get('a', compute('a')), a);
      memo.get('b', compute('b'));
      memo.get('a', compute('a')); // a is now the most recent
      memo.get('c', compute('c')); // evicts b
      assert.equal(memo.get('a', compute('a')), a);
      memo.get('b', compute('b'));
      assert.deepEqual(computed, ['a', 'b', 'c', 'b']);
    } finally {
      db.close();
    }
  });

  it('drops everything when another connection or its own commits', () => {
    const file = join(tempDir('tm-memo-'), 'store.db');
    const db = openStore(file);
    const other = openStore(file);
    try {
      const memo = new StoreMemo(db);
      const { computed, compute } = counting();
      const first = memo.get('graph', compute('graph'));
      assert.equal(memo.get('graph', compute('graph')), first);
      writeCalls(other, [{ srcIp: '10.0.0.1', dstIp: '10.0.0.2', dstPort: 80, atMs: Date.parse('2026-01-01T00:00:00Z') }]);
      const second = memo.get('graph', compute('graph'));
      assert.notEqual(second, first);
      assert.equal(memo.get('graph', compute('graph')), second);
      writeCalls(db, [{ srcIp: '10.0.0.3', dstIp: '10.0.0.4', dstPort: 80, atMs: Date.parse('2026-01-01T00:00:00Z') }]);
      assert.notEqual(memo.get('graph', compute('graph')), second);
      assert.deepEqual(computed, ['graph', 'graph', 'graph']);
    } finally {
      other.close();
      db.close();
    }
  });

  it('does not keep a computation that failed', () => {
    const db = openStore(join(tempDir('tm-memo-'), 'store.db'));
    try {
      const memo = new StoreMemo(db);
      assert.throws(() => memo.get('x', () => { throw new Error('analyzer refused'); }), /analyzer refused/);
      assert.equal(memo.get('x', () => 'fine'), 'fine');
    } finally {
      db.close();
    }
  });
});
