#!/usr/bin/env node
/**
 * The `spool` command line. Each command lives in `commands/<name>.ts` and exports a function that
 * adds it to the program; list it in `commands` below.
 *
 * Exit codes come from the error catalogue (`exitCodes` in src/core/errors.ts): 0 success, 1
 * failure, 2 usage or configuration error (unknown flag, bad value, conflicting options, an
 * address that may not be bound without tokens), and for a Spool error the exit code of its code:
 * 3 not found, 4 conflict, 5 unauthorized or forbidden, 6 unavailable or timed out (try again).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { exitCodes, InvalidArgumentError, isErrorCode } from '../core/errors.js';
import { registerDlq } from './commands/dlq.js';
import { registerGroups } from './commands/groups.js';
import { registerJobs } from './commands/jobs.js';
import { registerPublish } from './commands/publish.js';
import { registerQueues } from './commands/queues.js';
import { registerReceive } from './commands/receive.js';
import { registerSchedules } from './commands/schedules.js';
import { registerSend } from './commands/send.js';
import { registerServe } from './commands/serve.js';
import { registerSettle } from './commands/settle.js';
import { registerStats } from './commands/stats.js';
import { registerTail } from './commands/tail.js';
import { exitCodeOf, exitCodesHelp } from './commands/support/exit-codes.js';
import { registerTopics } from './commands/topics.js';
import { registerWorkers } from './commands/workers.js';
import { registerWorkflows } from './commands/workflows.js';

const commands: ReadonlyArray<(program: Command) => void> = [
  registerServe,
  registerSend,
  registerReceive,
  registerSettle,
  registerPublish,
  registerTail,
  registerJobs,
  registerSchedules,
  registerWorkflows,
  registerDlq,
  registerQueues,
  registerTopics,
  registerGroups,
  registerWorkers,
  registerStats,
];

// `spool … | head` closes stdout early: that is the reader's choice, not a failure, and a
// server whose banner nobody reads keeps serving.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

const program = new Command('spool')
  .description('Durable queues, topics and jobs: an HTTP server and tools to use it')
  .version(version)
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', `\n${exitCodesHelp()}`)
  // Throw instead of exiting, so exit codes are decided in one place below.
  .exitOverride();
for (const register of commands) register(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.exitCode = exitCodeFor(error);
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has printed its message. Help and version are successes; the rest is usage.
    return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
  }
  process.stderr.write(`spool: ${messageOf(error)}\n`);
  return exitCodeOf(error);
}

/**
 * What to print for `error`. Problems from a server and engine errors in direct mode already read
 * `CODE: detail`; any other error with a catalogue code (the client's network errors and wait
 * timeouts, Spool errors raised here) gets its code in front the same way, except a usage error,
 * whose message is the whole story.
 */
function messageOf(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const { code } = error as { code?: unknown };
  if (!isErrorCode(code) || error instanceof InvalidArgumentError || error.message.startsWith(`${code}:`)) {
    return error.message;
  }
  return `${code}: ${error.message}`;
}
