// What a capture reader hands each record to. Positional arguments rather than a record object:
// this is called once per packet, and an object per call would be an allocation per packet.

export interface PacketSink {
  /** bytes are buf[offset, offset + capLen); buf is reused once the call returns. */
  packet(linkType: number, tsMs: number, buf: Uint8Array, offset: number, capLen: number, origLen: number): void;
  /** A record that could not be used (bad length, truncated); reading continues. */
  malformed(reason: MalformedReason): void;
}

export const MALFORMED_REASONS = [
  'record-truncated',
  'record-impossible-length',
  'record-resync',
  'block-bad-length',
  'block-unknown-interface',
  'link-truncated',
  'ip-bad-header',
  'ip-truncated',
  'tcp-bad-header',
  'udp-bad-header',
  'app-layer',
] as const;
export type MalformedReason = (typeof MALFORMED_REASONS)[number];

/**
 * A capture format reader. It is fed a moving window of the input and consumes whole records;
 * a record that runs past `end` is left for the next call ("need more bytes" is not malformed).
 */
export interface RecordReader {
  readonly format: string;
  /** Returns how many bytes from `start` were consumed. */
  feed(buf: Uint8Array, start: number, end: number, sink: PacketSink): number;
  /** Called at end of input with the bytes that were never consumed. */
  finish(leftover: number, sink: PacketSink): void;
}
