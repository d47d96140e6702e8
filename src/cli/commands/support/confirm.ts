/**
 * Confirming destructive commands (deletes, bulk retry/cancel): `--yes` skips the question; on a
 * terminal the command asks on stderr and reads y/N from stdin; without a terminal to ask (a
 * script, a pipe, CI) and without `--yes` it refuses with a usage error (exit 2), so nothing is
 * destroyed by a command nobody could confirm.
 */
import { createInterface } from 'node:readline/promises';
import { usageError } from './client-options.js';
import { note } from './output.js';

/** `--yes`, shared by the commands that confirm. */
export interface ConfirmFlags {
  yes?: boolean;
}

/** The help of `--yes`. */
export const yesHelp = 'do not ask for confirmation (required when stdin is not a terminal)';

/**
 * Whether to go on with what `question` describes (`Delete queue "orders" with 12 messages?`).
 * False when the user answers anything but y/yes: "nothing changed" is noted on stderr and the
 * exit code is 1.
 */
export async function confirm(question: string, flags: ConfirmFlags): Promise<boolean> {
  if (flags.yes) return true;
  if (!process.stdin.isTTY) {
    throw usageError(
      `${question.replace(/\?$/, '')}: confirm with --yes (stdin is not a terminal to ask on)`,
    );
  }
  const prompt = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await prompt.question(`${question} [y/N] `);
    if (/^\s*y(es)?\s*$/i.test(answer)) return true;
  } finally {
    prompt.close();
  }
  note('nothing changed');
  process.exitCode = 1;
  return false;
}

/** `n thing` or `n things`. */
export function plural(count: number, thing: string): string {
  return `${count} ${thing}${count === 1 ? '' : 's'}`;
}
