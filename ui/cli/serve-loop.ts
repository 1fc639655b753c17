// Running the UI server from a command: bind, print the URL, serve until SIGINT/SIGTERM, close.
import { log } from '../../collector/log.js';
import { InputError, UsageError } from '../../collector/cli/support.js';
import type { Io } from '../../collector/cli/command.js';
import { isLoopback } from '../security.js';
import type { RunningServer, ServerOptions } from '../server.js';

/** Binds, falling back to any free port when `isPortFlexible` and the port is taken. */
export async function bind(o: ServerOptions, isPortFlexible = false): Promise<RunningServer> {
  if (!isLoopback(o.host) && o.token === null) {
    throw new UsageError(`refusing to serve on ${o.host} without a token: set TRUSTMAP_TOKEN or --token-file (or bind 127.0.0.1)`);
  }
  // express and the analysis routes load only when a command serves: every other command (the
  // collectors above all, whose peak RSS is budgeted) starts without them.
  const { startServer } = await import('../server.js');
  try {
    return await startServer(o);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' && isPortFlexible) return bind({ ...o, port: 0 }, false);
    if (code === 'EADDRINUSE') throw new InputError(`port ${o.port} on ${o.host} is in use; choose another with --port`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EACCES') throw new InputError(`cannot listen on ${o.host}:${o.port} (${code})`);
    throw err;
  }
}

/** Serves until the process is asked to stop; resolves once the server and store are closed. */
export async function serveUntilStopped(running: RunningServer, io: Io, onClose: () => void, intro: string): Promise<void> {
  io.stdout.write(`${intro}trustmap UI: ${running.url}  (Ctrl-C to stop)\n`);
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      log.debug({ signal }, 'stopping the UI server');
      running.close().then(() => { onClose(); resolve(); }, () => { onClose(); resolve(); });
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
}
