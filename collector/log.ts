// The one logger. JSON lines on stderr for machines; pino-pretty when stderr is a terminal.
// Library code logs through this, never console.log.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';

function make(): Logger {
  const level = process.env.TRUSTMAP_LOG_LEVEL ?? 'info';
  if (process.stderr.isTTY) {
    // Synchronous pretty printing: a CLI that exits right after logging must not lose lines.
    return pino({ level, base: undefined }, pretty({ destination: 2, sync: true, colorize: true, ignore: 'pid,hostname' }));
  }
  return pino({ level, base: undefined }, pino.destination({ dest: 2, sync: true }));
}

export const log: Logger = make();
