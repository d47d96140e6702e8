/**
 * `spool serve` shutting down with only event streams open: SIGTERM ends the three kinds of
 * stream (`/v1/events`, `/v1/jobs/{id}/events`, `/v1/stats/stream`) and their connections, so the
 * process exits at once instead of waiting out `--shutdown-timeout`.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, get, type IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers.js';

function spoolServe(dir: string): ChildProcess {
  return spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'serve',
      '--port',
      '0',
      '--data',
      dir,
      '--shutdown-timeout',
      '10000',
    ],
    { env: withoutSpoolSettings(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

/** This process's environment without the caller's SPOOL_* settings (tokens, webhooks, …). */
function withoutSpoolSettings(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SPOOL_')));
}

/** Resolves the URL `spool serve` prints once it listens. */
async function listening(child: ChildProcess): Promise<string> {
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const deadline = Date.now() + 30_000;
  for (;;) {
    const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
    if (url) return url;
    if (child.exitCode !== null) assert.fail(`spool serve exited: ${stderr}`);
    if (Date.now() > deadline) assert.fail(`spool serve did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Keeps connections open between requests for as long as the server allows, as browsers and
 * proxies do (fetch's pool would close an idle one after 4 s on its own, hiding a server that
 * leaves them open).
 */
const agent = new Agent({ keepAlive: true });

/** Opens an event stream and resolves once its first bytes arrived; `ended` settles when it ends. */
async function openStream(url: string) {
  const request = get(url, { agent, headers: { accept: 'text/event-stream' } });
  const [response] = (await once(request, 'response')) as [IncomingMessage];
  assert.equal(response.statusCode, 200, url);
  assert.match(response.headers['content-type'] ?? '', /^text\/event-stream/);
  response.setEncoding('utf8');
  const [first] = (await once(response, 'data')) as [string];
  assert.ok(first.length > 0, `${url} sent its first bytes`);
  response.resume();
  const ended = once(response, 'end').then(() => Date.now());
  // The connection: it closes when the server ends it (it is not the client's to end).
  const closed = once(response.socket, 'close').then(() => Date.now());
  return { ended, closed };
}

describe('spool serve: SIGTERM with only event streams open', () => {
  it('ends every stream and its connection, and exits in well under the shutdown timeout', async () => {
    const { dir, cleanup } = tempDir('spool-shutdown-streams-');
    const child = spoolServe(dir);
    const exited = once(child, 'exit');
    try {
      const url = await listening(child);
      // A job no worker runs: its stream stays open, waiting for its next event.
      const added = await fetch(`${url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'never.handled' }),
      });
      assert.equal(added.status, 202);
      const { id } = (await added.json()) as { id: string };
      const streams = await Promise.all([
        openStream(`${url}/v1/events`),
        openStream(`${url}/v1/events?jobType=never.handled`),
        openStream(`${url}/v1/jobs/${id}/events`),
        openStream(`${url}/v1/stats/stream?intervalMs=1000`),
      ]);

      const signalled = Date.now();
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      const exitMs = Date.now() - signalled;
      const since = async (moments: Array<Promise<number>>) =>
        (await Promise.all(moments)).map((at) => at - signalled);
      const endedMs = await since(streams.map((stream) => stream.ended));
      const closedMs = await since(streams.map((stream) => stream.closed));
      console.log(
        `spool serve exited ${exitMs} ms after SIGTERM; streams ended after ${endedMs.join(', ')} ms, their connections closed after ${closedMs.join(', ')} ms`,
      );
      assert.equal(code, 0);
      assert.ok(exitMs < 3000, `exited ${exitMs} ms after SIGTERM (--shutdown-timeout is 10 s)`);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      agent.destroy();
      cleanup();
    }
  });
});
