// The tokens collectors push with (serve --ingest-tokens FILE): one "node-name token" pair per
// line, "#" comments. A token speaks for one node. The file is read again when it changes (checked
// at most once a second, on a request) or on SIGHUP, so revoking a node is editing a line. If the
// file becomes unreadable or invalid, every token is refused until it is fixed: a revocation
// must never be undone by a typo.
import { readFileSync, statSync } from 'node:fs';
import { log } from '../../collector/log.js';
import { nodeName } from '../../collector/push/wire.js';
import { sameSecret } from '../security.js';

const RECHECK_MS = 1_000;

interface Entry { node: string; token: string }

export class TokenFileError extends Error {
  override name = 'TokenFileError';
}

/** Parses the file's text; errors name the line, never the token. */
export function parseTokenFile(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  const tokens = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    const at = `${file} line ${i + 1}`;
    if (fields.length !== 2) throw new TokenFileError(`${at}: expected "node-name token"`);
    const [node, token] = fields;
    if (!nodeName.safeParse(node).success) throw new TokenFileError(`${at}: not a node name (letters, digits, ".", "_", ":" and "-")`);
    if (token.length < 16) throw new TokenFileError(`${at}: the token must be at least 16 characters (e.g. openssl rand -hex 24)`);
    if (tokens.has(token)) throw new TokenFileError(`${at}: this token is already given to another line; each node needs its own`);
    tokens.add(token);
    entries.push({ node, token });
  });
  return entries;
}

export class IngestTokens {
  private entries: Entry[] = [];
  private stamp = '';
  private checkedAt = 0;

  /** Reads the file; throws TokenFileError when it cannot be used at start. */
  constructor(readonly file: string) {
    this.load();
    if (this.entries.length === 0) throw new TokenFileError(`${file}: no "node-name token" lines`);
  }

  private load(): void {
    const st = statSync(this.file);
    if ((st.mode & 0o077) !== 0) log.warn({ file: this.file }, 'the ingest tokens file is readable by other users; chmod 600 it');
    this.entries = parseTokenFile(readFileSync(this.file, 'utf8'), this.file);
    this.stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
  }

  /** Reads the file again (SIGHUP, or a change seen by a request). */
  reload(): void {
    try {
      this.load();
      log.info({ file: this.file, nodes: this.entries.length }, 'ingest tokens reloaded');
    } catch (err) {
      this.entries = [];
      this.stamp = '';
      log.error({ file: this.file, error: (err as Error).message }, 'cannot read the ingest tokens file: every push is refused until it is fixed');
    }
  }

  private reloadIfChanged(): void {
    const now = Date.now();
    if (now - this.checkedAt < RECHECK_MS) return;
    this.checkedAt = now;
    let stamp = '';
    try {
      const st = statSync(this.file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}`;
    } catch { /* missing: reload() logs it and refuses everything */ }
    if (stamp !== this.stamp) this.reload();
  }

  /** The node a token speaks for, or null. Compares against every token, in constant time each. */
  nodeFor(token: string): string | null {
    this.reloadIfChanged();
    let found: string | null = null;
    for (const e of this.entries) {
      if (sameSecret(token, e.token)) found = e.node;
    }
    return found;
  }
}
