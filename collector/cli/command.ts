// The shape every subcommand has; the root entry (trustmap.ts) dispatches on `path`.
import type { Readable, Writable } from 'node:stream';

export interface Io {
  stdin: Readable;
  stdout: Writable & { isTTY?: boolean };
  stderr: Writable & { isTTY?: boolean; columns?: number };
}

export interface Command {
  /** Words that select the command, e.g. ['collect', 'pcap']. */
  path: string[];
  /** Full --help text: usage, flags, examples. */
  help: string;
  run(argv: string[], io: Io): Promise<number>;
}
