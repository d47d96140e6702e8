/**
 * `spool queues|topics|groups …` as a user runs them: against a server (--url) and on a data
 * directory (--data), the same commands with the same answers. Deleting asks for confirmation:
 * refused without a terminal unless --yes, asked on a terminal.
 *
 * Run by admin-server.test.ts and admin-data.test.ts, one mode each: every case spawns the CLI
 * several times, and both modes in one file came close to the per-file timeout on a slow machine.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { serverWithClient, startTestServer, type TestServer } from '../e2e/helpers.js';
import { tempDir } from '../helpers.js';
import { json, type Run, runSpool, runSpoolOnTerminal } from './run.js';

interface Mode {
  readonly name: string;
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** The flags or environment that point `spool` at this mode's backend. */
  env(): Record<string, string>;
}

let server: TestServer | undefined;
let dataDir: { dir: string; cleanup: () => void } | undefined;

const modes: Mode[] = [
  {
    name: 'against a server (--url)',
    setUp: async () => void (server = await startTestServer()),
    tearDown: () => server!.dispose(),
    env: () => ({ SPOOL_URL: server!.url }),
  },
  {
    name: 'on a data directory (--data)',
    setUp: () => {
      dataDir = tempDir('spool-cli-admin-');
      return Promise.resolve();
    },
    tearDown: () => {
      dataDir!.cleanup();
      return Promise.resolve();
    },
    env: () => ({ SPOOL_DATA: dataDir!.dir }),
  },
];

/** Registers the cases for one mode: `server` (with the confirmation cases) or `data`. */
export function adminTests(which: 'server' | 'data'): void {
  for (const mode of which === 'server' ? [modes[0]!] : [modes[1]!]) adminModeTests(mode);
  if (which === 'server') confirmationTests();
}

function adminModeTests(mode: Mode): void {
  describe(`spool queues, topics and groups ${mode.name}`, () => {
    before(() => mode.setUp());
    after(() => mode.tearDown());
    const spool = (...args: string[]): Promise<Run> => runSpool(args, mode.env());

    it('queues create (options, exists, --update), list (--all) and delete (--yes)', async () => {
      const created = json<{ name: string; maxAttempts: number; visibilityTimeoutMs: number }>(
        await spool(
          'queues',
          'create',
          'orders',
          '--max-attempts',
          '3',
          '--visibility-timeout-ms',
          '5000',
          '--json',
        ),
      );
      assert.deepEqual([created.name, created.maxAttempts, created.visibilityTimeoutMs], ['orders', 3, 5000]);

      const again = await spool('queues', 'create', 'orders');
      assert.equal(again.code, 4);
      assert.match(again.stderr, /queue "orders" already exists \(max attempts 3.*--update/);

      const updated = json<{ maxAttempts: number; maxDepth: number | null; backoff: { jitter: string } }>(
        await spool(
          'queues',
          'create',
          'orders',
          '--update',
          '--max-depth',
          '10',
          '--backoff-jitter',
          'none',
          '--json',
        ),
      );
      assert.deepEqual([updated.maxAttempts, updated.maxDepth, updated.backoff.jitter], [3, 10, 'none']);
      const badFlag = await spool('queues', 'create', 'orders', '--max-depth', 'lots');
      assert.equal(badFlag.code, 2);

      assert.equal((await spool('send', 'orders', '{"id":1}')).code, 0);
      // A job type has a queue of its own, jobs.<type>: Spool's, hidden unless --all.
      assert.equal((await spool('jobs', 'add', 'resize', '{}')).code, 0);
      const listed = await spool('queues', 'list');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(
        listed.stdout,
        /^QUEUE\s+READY\s+DELAYED\s+IN FLIGHT\s+DEAD\s+MAX ATTEMPTS\s+VISIBILITY\s+MAX DEPTH$/m,
      );
      assert.match(listed.stdout, /^orders\s+1\s+0\s+0\s+0\s+3\s+5s\s+10$/m);
      assert.doesNotMatch(listed.stdout, /jobs\.resize/);
      assert.match(listed.stderr, /internal queues? of Spool not shown: --all shows them/);
      const all = json<{ items: Array<{ name: string }> }>(await spool('queues', 'list', '--all', '--json'));
      assert.ok(all.items.some((queue) => queue.name === 'jobs.resize'));

      // No terminal to ask on: refused, nothing deleted.
      const refused = await spool('queues', 'delete', 'orders');
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        /Delete queue "orders" with 1 message and 0 dead letters: confirm with --yes/,
      );
      assert.equal((await spool('queues', 'list', '--json')).stdout.includes('"orders"'), true);

      const deleted = await spool('queues', 'delete', 'orders', '--yes');
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(deleted.stdout.trim(), 'deleted queue orders');
      assert.equal((await spool('queues', 'list', '--json')).stdout.includes('"orders"'), false);
      const gone = await spool('queues', 'delete', 'orders', '-y');
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /SPOOL_QUEUE_NOT_FOUND/);
    });

    it('queues create --message-ttl-ms and send --ttl-ms: expired messages go to the dead letters undelivered', async () => {
      const created = json<{ messageTtlMs: number | null }>(
        await spool('queues', 'create', 'offers', '--message-ttl-ms', '60000', '--json'),
      );
      assert.equal(created.messageTtlMs, 60_000);
      const kept = json<{ messageTtlMs: number | null; maxAttempts: number }>(
        await spool('queues', 'create', 'offers', '--update', '--max-attempts', '2', '--json'),
      );
      assert.deepEqual([kept.messageTtlMs, kept.maxAttempts], [60_000, 2], '--update keeps the ttl');
      const sent = await spool('send', 'offers', '{"offer":"flash"}', '--ttl-ms', '1');
      assert.equal(sent.code, 0, sent.stderr);
      await new Promise((resolve) => setTimeout(resolve, 20));
      const received = await spool('receive', 'offers');
      assert.equal(received.code, 0, received.stderr);
      assert.match(received.stdout + received.stderr, /no messages/);
      const dead = await spool('dlq', 'list', 'offers');
      assert.match(dead.stdout, new RegExp(`^${sent.stdout.trim()}\\s+0\\s+\\S+\\s+MessageExpired`, 'm'));
      const cleared = json<{ messageTtlMs: number | null }>(
        await spool('queues', 'create', 'offers', '--update', '--message-ttl-ms', 'none', '--json'),
      );
      assert.equal(cleared.messageTtlMs, null);
      assert.equal((await spool('queues', 'delete', 'offers', '--yes')).code, 0);
    });

    it('topics create (partitions, retention), --update and delete', async () => {
      const created = json<{ partitions: number; retentionMs: number | null }>(
        await spool('topics', 'create', 'clicks', '--partitions', '3', '--retention-ms', 'none', '--json'),
      );
      assert.deepEqual([created.partitions, created.retentionMs], [3, null]);
      const again = await spool('topics', 'create', 'clicks');
      assert.equal(again.code, 4);
      assert.match(again.stderr, /topic "clicks" already exists \(3 partitions, retention forever\)/);
      const updated = json<{ partitions: number; retentionMs: number | null }>(
        await spool('topics', 'create', 'clicks', '--update', '--retention-ms', '3600000', '--json'),
      );
      assert.deepEqual([updated.partitions, updated.retentionMs], [3, 3_600_000]);
      const conflict = await spool('topics', 'create', 'clicks', '--update', '--partitions', '5');
      assert.equal(conflict.code, 4);
      assert.match(conflict.stderr, /SPOOL_CONFIG_CONFLICT/);

      assert.equal((await spool('publish', 'clicks', '{"page":"/"}')).code, 0);
      const listed = await spool('topics', 'list');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^clicks\s+3\s+1h 0m\s+1\s+0$/m);
      assert.doesNotMatch(listed.stdout, /spool\.events/);

      const refused = await spool('topics', 'delete', 'clicks');
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        /Delete topic "clicks" with 1 event and 0 consumer groups: confirm with --yes/,
      );
      const deleted = await spool('topics', 'delete', 'clicks', '--yes', '--json');
      assert.deepEqual(json(deleted), { deleted: 'clicks' });
      assert.match((await spool('topics', 'delete', 'clicks', '--yes')).stderr, /SPOOL_TOPIC_NOT_FOUND/);
    });

    it('groups list and delete: the group a tail --group left behind', async () => {
      assert.equal((await spool('topics', 'create', 'audit', '--partitions', '2')).code, 0);
      assert.equal((await spool('publish', 'audit', '{"n":1}')).code, 0);
      const tailed = await spool(
        'tail',
        'audit',
        '--group',
        'auditors',
        '--from',
        'earliest',
        '--max-events',
        '1',
        '--json',
      );
      assert.equal(tailed.code, 0, tailed.stderr);

      const listed = json<{ items: Array<{ topic: string; group: string; members: number; lag: number }> }>(
        await spool('groups', 'list', 'audit', '--json'),
      );
      assert.deepEqual(
        listed.items.map((g) => [g.topic, g.group, g.members, g.lag]),
        [['audit', 'auditors', 0, 0]],
      );
      const everywhere = await spool('groups', 'list');
      assert.match(everywhere.stdout, /^TOPIC\s+GROUP\s+MEMBERS\s+LAG$/m);
      assert.match(everywhere.stdout, /^audit\s+auditors\s+0\s+0$/m);

      const paused = await spool('groups', 'pause', 'audit', 'auditors');
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, /^paused consumer group auditors of topic audit \(since \d{4}-\d\d-\d\dT/);
      const state = json<{ paused: boolean; pausedAt: string | null }>(
        await spool('groups', 'resume', 'audit', 'auditors', '--json'),
      );
      assert.deepEqual([state.paused, state.pausedAt], [false, null]);
      const unknown = await spool('groups', 'pause', 'audit', 'nobody');
      assert.equal(unknown.code, 3);
      assert.match(unknown.stderr, /SPOOL_GROUP_NOT_FOUND/);

      const refused = await spool('groups', 'delete', 'audit', 'auditors');
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        /Delete consumer group "auditors" of topic "audit" .*: confirm with --yes/,
      );
      const deleted = await spool('groups', 'delete', 'audit', 'auditors', '--yes');
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(deleted.stdout.trim(), 'deleted consumer group auditors of topic audit');
      assert.match((await spool('groups', 'list', 'audit')).stderr, /no consumer groups/);
      const gone = await spool('groups', 'delete', 'audit', 'auditors', '--yes');
      assert.equal(gone.code, 3);
      assert.match(gone.stderr, /SPOOL_GROUP_NOT_FOUND/);
    });

    it('schedules set, list, run, pause (kept by set), resume and delete', async () => {
      const missing = await spool('schedules', 'set', 'nightly', '--type', 'report');
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /give --cron "<expression>" or --every-ms <ms>/);
      const set = await spool(
        'schedules',
        'set',
        'nightly',
        '--type',
        'report',
        '--cron',
        '0 3 * * *',
        '--timezone',
        'Europe/Berlin',
        '--payload',
        '{"kind":"daily"}',
      );
      assert.equal(set.code, 0, set.stderr);
      assert.match(set.stdout, /^schedule nightly: 0 3 \* \* \* \(Europe\/Berlin\), adds report; next run /);
      const badCron = await spool('schedules', 'set', 'bad', '--type', 'report', '--cron', 'not a cron');
      assert.equal(badCron.code, 2, badCron.stderr);
      assert.match(badCron.stderr, /SPOOL_INVALID_ARGUMENT/);

      const listed = await spool('schedules', 'list');
      assert.match(listed.stdout, /^NAME\s+WHEN\s+TYPE\s+STATE\s+NEXT RUN\s+LAST RUN$/m);
      assert.match(listed.stdout, /^nightly\s+0 3 \* \* \* \(Europe\/Berlin\)\s+report\s+active\s+\d{4}-/m);

      const ran = json<{ id: string; status: string }>(await spool('schedules', 'run', 'nightly', '--json'));
      assert.equal(ran.status, 'queued');
      const job = json<{ type: string; payload: unknown; metadata: unknown }>(
        await spool('jobs', 'get', ran.id, '--json'),
      );
      assert.deepEqual([job.type, job.payload], ['report', { kind: 'daily' }]);

      const paused = await spool('schedules', 'pause', 'nightly');
      assert.equal(paused.stdout.trim(), 'paused schedule nightly');
      const reset = json<{ paused: boolean; payload: unknown }>(
        await spool('schedules', 'set', 'nightly', '--type', 'report', '--every-ms', '60000', '--json'),
      );
      assert.deepEqual(
        [reset.paused, reset.payload],
        [true, {}],
        'set replaces the schedule and keeps its pause',
      );
      assert.match(
        (await spool('schedules', 'list')).stdout,
        /^nightly\s+every 1m 0s\s+report\s+PAUSED\s+-/m,
      );
      const resumed = await spool('schedules', 'resume', 'nightly');
      assert.match(resumed.stdout, /^resumed schedule nightly: next run \d{4}-/);

      const unknown = await spool('schedules', 'pause', 'nope');
      assert.equal(unknown.code, 3);
      assert.match(unknown.stderr, /SPOOL_SCHEDULE_NOT_FOUND/);
      const refused = await spool('schedules', 'delete', 'nightly');
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /Delete schedule "nightly": confirm with --yes/);
      const deleted = await spool('schedules', 'delete', 'nightly', '--yes');
      assert.equal(deleted.stdout.trim(), 'deleted schedule nightly');
      assert.match((await spool('schedules', 'list')).stderr, /no schedules/);
    });

    it('queues pause and resume; jobs pause and resume a type', async () => {
      assert.equal((await spool('queues', 'create', 'prints')).code, 0);
      assert.equal((await spool('send', 'prints', '{"n":1}')).code, 0);
      const paused = await spool('queues', 'pause', 'prints');
      assert.equal(paused.code, 0, paused.stderr);
      assert.equal(paused.stdout.trim(), 'paused queue prints (1 message ready wait for a resume)');
      assert.match((await spool('queues', 'list')).stdout, /^prints \(PAUSED\)\s+1\s+/m);
      const none = json<{ messages: unknown[] }>(await spool('receive', 'prints', '--json'));
      assert.deepEqual(none.messages, []);
      const resumed = json<{ stats: { paused: boolean } }>(
        await spool('queues', 'resume', 'prints', '--json'),
      );
      assert.equal(resumed.stats.paused, false);
      const got = json<{ messages: unknown[] }>(await spool('receive', 'prints', '--json'));
      assert.equal(got.messages.length, 1);
      const unknown = await spool('queues', 'pause', 'no-such-queue');
      assert.equal(unknown.code, 3);
      assert.match(unknown.stderr, /SPOOL_QUEUE_NOT_FOUND/);

      const type = await spool('jobs', 'pause', 'thumbnail');
      assert.equal(type.stdout.trim(), 'paused job type thumbnail');
      const state = json<{ type: string; paused: boolean }>(
        await spool('jobs', 'resume', 'thumbnail', '--json'),
      );
      assert.deepEqual([state.type, state.paused], ['thumbnail', false]);
    });

    it('workflows start, list, get, event, cancel, retry; breakers list — runs wait for a process that defines them', async () => {
      const started = json<{ id: string; status: string }>(
        await spool('workflows', 'start', 'onboarding', '{"user":"ada"}', '--key', 'ada', '--json'),
      );
      assert.equal(started.status, 'queued');
      const again = json<{ id: string }>(
        await spool('workflows', 'start', 'onboarding', '{"user":"ada"}', '--key', 'ada', '--json'),
      );
      assert.equal(again.id, started.id, 'a key starts one run');
      const listed = await spool('workflows', 'list', 'onboarding');
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, new RegExp(`^${started.id}\\s+onboarding\\s+queued\\s+ada`, 'm'));
      const everyWorkflow = await spool('workflows', 'list', '--status', 'queued');
      assert.match(everyWorkflow.stdout, new RegExp(`^${started.id}\\s+onboarding\\s+queued`, 'm'));
      const none = await spool('workflows', 'list', '--status', 'failed');
      assert.match(none.stderr + none.stdout, /no failed runs/);
      const notFailed = await spool('workflows', 'retry', started.id);
      assert.equal(notFailed.code, 4, notFailed.stderr);
      assert.match(notFailed.stderr, /SPOOL_WORKFLOW_RUN_NOT_RETRYABLE/);
      const sent = await spool('workflows', 'event', started.id, 'verified', '{"at":1}');
      assert.equal(sent.code, 0, sent.stderr);
      assert.match(sent.stdout, /^sent verified to run /m);
      const shown = await spool('workflows', 'get', started.id);
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, new RegExp(`^run ${started.id} \\(onboarding\\): queued$`, 'm'));
      const cancelled = await spool('workflows', 'cancel', started.id);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.match(cancelled.stdout, /it compensates, then ends cancelled/);
      const reserved = await spool('workflows', 'event', started.id, 'spool.cancel');
      assert.equal(reserved.code, 2);
      assert.match(reserved.stderr, /not starting with 'spool\.'/);
      const missing = await spool('workflows', 'get', 'no-such-run');
      assert.equal(missing.code, 3);
      assert.match(missing.stderr, /SPOOL_WORKFLOW_RUN_NOT_FOUND/);
      const breakers = await spool('breakers', 'list');
      assert.equal(breakers.code, 0, breakers.stderr);
      assert.match(breakers.stderr + breakers.stdout, /no circuit breakers have been used/);
    });

    it('jobs delete: finished jobs by id and by filter, never one in flight', async () => {
      const add = async () =>
        json<{ id: string }>(await spool('jobs', 'add', 'export', '{}', '--delay-ms', '60000', '--json')).id;
      const [first, second, third, live] = [await add(), await add(), await add(), await add()];
      for (const id of [first, second, third]) assert.equal((await spool('jobs', 'cancel', id)).code, 0);

      const inFlight = await spool('jobs', 'delete', live);
      assert.equal(inFlight.code, 4, inFlight.stderr);
      assert.match(inFlight.stderr, /is scheduled: it cannot be deleted/);
      assert.match(inFlight.stderr, /SPOOL_JOB_STATE_CONFLICT/);
      const one = await spool('jobs', 'delete', first);
      assert.equal(one.stdout.trim(), `${first} deleted`);

      const refused = await spool('jobs', 'delete', '--type', 'export');
      assert.equal(refused.code, 2);
      assert.match(
        refused.stderr,
        /2 jobs match \(type export, status completed\/dead\/cancelled\)\. Delete them: confirm with --yes/,
      );
      const deleted = json<{ matched: number; deleted: number }>(
        await spool('jobs', 'delete', '--type', 'export', '--yes', '--json'),
      );
      assert.deepEqual([deleted.matched, deleted.deleted], [2, 2]);
      const left = json<{ items: Array<{ id: string }> }>(
        await spool('jobs', 'list', '--type', 'export', '--json'),
      );
      assert.deepEqual(
        left.items.map((item) => item.id),
        [live],
      );
    });
  });
}

function confirmationTests(): void {
  describe('spool groups delete and confirmations against a server', () => {
    const fixture = serverWithClient();
    const env = () => ({ SPOOL_URL: fixture.t.url });

    it('a group with a live member is not deleted (SPOOL_GROUP_NOT_EMPTY); once it left, it is', async () => {
      await fixture.client.topics.put('payments', { partitions: 1 });
      await fixture.client.topics.poll('payments', 'ledger', {
        member: 'worker-1',
        sessionTimeoutMs: 30_000,
      });
      const refused = await runSpool(['groups', 'delete', 'payments', 'ledger', '--yes'], env());
      assert.equal(refused.code, 4);
      assert.match(refused.stderr, /SPOOL_GROUP_NOT_EMPTY: .*1 live member \(worker-1\)/);
      assert.ok(await fixture.client.topics.group('payments', 'ledger'), 'still there');
      await fixture.client.topics.leave('payments', 'ledger', 'worker-1');
      const deleted = await runSpool(['groups', 'delete', 'payments', 'ledger', '--yes'], env());
      assert.equal(deleted.code, 0, deleted.stderr);
      await assert.rejects(fixture.client.topics.group('payments', 'ledger'), {
        code: 'SPOOL_GROUP_NOT_FOUND',
      });
    });

    it('on a terminal, delete asks: n keeps the queue (exit 1), y deletes it', async () => {
      await fixture.client.queues.put('scratch');
      const prompt = /Delete queue "scratch" with 0 messages and 0 dead letters\? \[y\/N\]/;
      const no = await runSpoolOnTerminal(['queues', 'delete', 'scratch'], env(), prompt, 'n');
      assert.equal(no.code, 1, no.screen);
      assert.match(no.screen, /nothing changed/);
      assert.ok(await fixture.client.queues.get('scratch'));
      const yes = await runSpoolOnTerminal(['queues', 'delete', 'scratch'], env(), prompt, 'y');
      assert.equal(yes.code, 0, yes.screen);
      assert.match(yes.screen, /deleted queue scratch/);
      await assert.rejects(fixture.client.queues.get('scratch'), { code: 'SPOOL_QUEUE_NOT_FOUND' });
    });
  });
}
