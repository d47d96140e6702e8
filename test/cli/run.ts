/**
 * Running the real `spool` command as a user would, for the CLI tests: as a child process with
 * its own stdout and stderr (stdin closed: no terminal), or under a terminal made by `script(1)`
 * to answer a confirmation prompt.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a run: no server, token or data directory unless the test gives one. */
function environment(env: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, SPOOL_URL: '', SPOOL_TOKEN: '', SPOOL_DATA: '', SPOOL_AUTO_CREATE: '', ...env };
}

/** Starts `spool …` (through tsx); stdin is closed, as in a script or CI. */
export function startSpool(args: readonly string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    env: environment(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs `spool …` to its end and collects its output; `stdin`, when given, is piped to it. */
export async function runSpool(
  args: readonly string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<Run> {
  const child =
    stdin === undefined
      ? startSpool(args, env)
      : spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
          env: environment(env),
          stdio: ['pipe', 'pipe', 'pipe'],
        });
  if (stdin !== undefined) child.stdin!.end(stdin);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, stdout, stderr };
}

/**
 * Runs `spool …` on a terminal (`script -qec`), answers `answer` once `prompt` appears, and
 * resolves with its exit code and what the terminal showed (stdout and stderr together).
 */
export async function runSpoolOnTerminal(
  args: readonly string[],
  env: Record<string, string>,
  prompt: RegExp,
  answer: string,
): Promise<{ code: number | null; screen: string }> {
  const quoted = ['node', '--import', 'tsx', 'src/cli/main.ts', ...args]
    .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
    .join(' ');
  const child = spawn('script', ['-qec', quoted, '/dev/null'], {
    env: environment(env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let screen = '';
  let answered = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    screen += chunk;
    if (!answered && prompt.test(screen)) {
      answered = true;
      child.stdin.write(`${answer}\n`);
    }
  });
  const [code] = (await once(child, 'close')) as [number | null];
  return { code, screen };
}

/** Parses a run's stdout as JSON, after checking it succeeded. */
export function json<T>(run: Run): T {
  if (run.code !== 0) throw new Error(`exit ${String(run.code)}: ${run.stderr}`);
  return JSON.parse(run.stdout) as T;
}
