// Errors a capture reader can raise. Anything else escaping a reader is a bug.

/** The input is not something we can read at all (wrong file type, unsupported version or link
 *  type, truncated global header). The CLI prints the message and exits 2; nothing is written. */
export class UnsupportedInputError extends Error {
  override name = 'UnsupportedInputError';
}
