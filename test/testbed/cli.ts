// npm run testbed -- up | traffic --seconds N | record --seconds N --out DIR | down | status
// argv → zod → one of the lifecycle commands. Exit 0 ok, 1 failed, 2 usage or environment error.
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { z } from 'zod';
import { LIMITS, drive } from './driver.js';
import { TestbedError } from './exec.js';
import { cannotRun, down, status, up } from './lifecycle.js';
import { record } from './record.js';

const COMMANDS = ['up', 'traffic', 'record', 'down', 'status'] as const;

const Flags = z.object({
  command: z.enum(COMMANDS),
  seconds: z.coerce.number().int().min(1).max(LIMITS.maxSeconds).default(10),
  rate: z.coerce.number().int().min(0).max(LIMITS.maxSessionsPerSecond).default(2),
  out: z.string().min(1).optional(),
}).refine((f) => f.command !== 'record' || f.out !== undefined, { message: 'record needs --out DIR', path: ['out'] });

class UsageError extends Error {}

const USAGE = 'usage: testbed up | traffic --seconds N [--rate R] | record --seconds N --out DIR [--rate R] | down | status';

const parseFlags = (argv: string[]): z.infer<typeof Flags> => {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: {
      seconds: { type: 'string' }, rate: { type: 'string' }, out: { type: 'string' },
    } });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}; ${USAGE}`);
  }
  const result = Flags.safeParse({ command: parsed.positionals[0], ...parsed.values });
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UsageError(`${issue?.message ?? 'invalid flags'} (at: flags.${issue?.path.join('.') ?? ''}); ${USAGE}`);
  }
  if (parsed.positionals.length > 1) throw new UsageError(`unexpected argument ${parsed.positionals[1]}; ${USAGE}`);
  return result.data;
};

const main = async (): Promise<number> => {
  const log = pino({ level: process.env.LOG_LEVEL ?? 'info' }, pino.destination(2));
  const flags = parseFlags(process.argv.slice(2));
  if (flags.command === 'status') {
    process.stdout.write(`${JSON.stringify(status(), null, 2)}\n`);
    return 0;
  }
  const reason = cannotRun();
  if (reason) throw new UsageError(reason);
  switch (flags.command) {
    case 'up':
      await up(log);
      process.stdout.write('testbed up\n');
      return 0;
    case 'down':
      await down(log);
      process.stdout.write('testbed down\n');
      return 0;
    case 'traffic': {
      if (!status().isUp) throw new UsageError('the testbed is not up (run `up` first)');
      const summary = await drive({ seconds: flags.seconds, sessionsPerSecond: flags.rate }, log);
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
      return summary.failures.length > 0 ? 1 : 0;
    }
    case 'record': {
      const result = await record({ seconds: flags.seconds, sessionsPerSecond: flags.rate, out: flags.out ?? '' }, log);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.traffic.failures.length > 0 ? 1 : 0;
    }
  }
};

main().then((code) => { process.exitCode = code; }, (err: unknown) => {
  if (err instanceof UsageError) {
    process.stderr.write(`testbed: ${err.message}\n`);
    process.exitCode = 2;
  } else if (err instanceof TestbedError) {
    process.stderr.write(`testbed: ${err.message}\n`);
    process.exitCode = 1;
  } else {
    throw err;
  }
});
