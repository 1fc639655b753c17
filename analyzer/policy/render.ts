// Proposed objects → YAML text. Values go through the `yaml` package (never string
// concatenation), so a traffic-derived string is quoted and escaped as YAML requires; comments
// are made single-line and control-free before they are attached, so they cannot end early.
import { Document } from 'yaml';
import type { ProposedObject } from './model.js';
import { safeComment } from './shared.js';

const TO_STRING = { lineWidth: 0, minContentWidth: 0 } as const;

/** One object as a YAML document (without the `---` separator), its comments above it. */
export function renderObject(o: ProposedObject): string {
  const doc = new Document(o.object);
  doc.commentBefore = o.comments.map((c) => ` ${safeComment(c)}`).join('\n');
  return doc.toString(TO_STRING);
}

/** The comment lines above a multi-document stream. */
export function streamHeader(header: string[]): string {
  return header.map((h) => `# ${safeComment(h)}\n`).join('');
}
