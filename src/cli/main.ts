#!/usr/bin/env node
/**
 * The `spool` command line. Each command lives in `commands/<name>.ts` and exports a function that
 * adds it to the program; list it in `commands` below.
 *
 * Exit codes: 0 success, 1 failure, 2 usage or configuration error (unknown flag, bad value,
 * conflicting options, an address that may not be bound without tokens).
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { InvalidArgumentError } from '../core/errors.js';
import { registerDlq } from './commands/dlq.js';
import { registerGroups } from './commands/groups.js';
import { registerJobs } from './commands/jobs.js';
import { registerPublish } from './commands/publish.js';
import { registerQueues } from './commands/queues.js';
import { registerReceive } from './commands/receive.js';
import { registerSend } from './commands/send.js';
import { registerServe } from './commands/serve.js';
import { registerSettle } from './commands/settle.js';
import { registerStats } from './commands/stats.js';
import { registerTail } from './commands/tail.js';
import { registerTopics } from './commands/topics.js';

const commands: ReadonlyArray<(program: Command) => void> = [
  registerServe,
  registerSend,
  registerReceive,
  registerSettle,
  registerPublish,
  registerTail,
  registerJobs,
  registerDlq,
  registerQueues,
  registerTopics,
  registerGroups,
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
    return error.exitCode === 0 ? 0 : 2;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`spool: ${message}\n`);
  return error instanceof InvalidArgumentError ? 2 : 1;
}
