/**
 * `<group> pause <name>` and `<group> resume <name>`, the same pair for queues, job types and
 * schedules: each calls the backend, prints the answer with `--json`, else one line.
 */
import type { Command } from 'commander';
import { withBackend } from './backend.js';
import type { SpoolBackend } from './backend-port.js';
import { type ClientFlags, withClientOptions } from './client-options.js';
import { out, printJson } from './output.js';

export interface PauseCommands<T> {
  /** The argument, e.g. `<queue>`, and what it names. */
  readonly argument: readonly [string, string];
  readonly descriptions: { readonly pause: string; readonly resume: string };
  /** Pauses (`paused` true) or resumes the named thing; the answer is printed. */
  readonly run: (spool: SpoolBackend, name: string, paused: boolean) => Promise<T>;
  /** The line printed without `--json`. */
  readonly line: (answer: T, name: string, paused: boolean) => string;
}

export function registerPauseCommands<T>(group: Command, commands: PauseCommands<T>): void {
  for (const action of ['pause', 'resume'] as const) {
    withClientOptions(
      group
        .command(action)
        .description(commands.descriptions[action])
        .argument(...commands.argument),
    ).action((name: string, flags: ClientFlags) =>
      withBackend(flags, async (spool) => {
        const paused = action === 'pause';
        const answer = await commands.run(spool, name, paused);
        if (flags.json) printJson(answer);
        else out(commands.line(answer, name, paused));
      }),
    );
  }
}
