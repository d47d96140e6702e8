/**
 * Valid sequences, so the fuzzer reaches the handlers' deep paths and not only validation: a
 * queue's whole life (send, browse, receive, ack/nack/extend/dead-letter by real receipts,
 * redrive, purge, delete), a job claimed and settled by a remote worker (heartbeat, progress,
 * complete; fail, retry, cancel), a topic's consumer group (publish, poll, commit, seek, leave)
 * and a schedule. Each runs on names of its own, so fuzzed requests on the shared pools cannot
 * change what its steps must answer. Every step is judged like any fuzzed request, and must also
 * answer what the README documents (`expect`, any 2xx by default).
 */
import { isObject } from './contract.js';
import type { ScenarioCase } from './generate.js';

export interface StepOptions {
  readonly body?: unknown;
  readonly headers?: [string, string][];
  /** The status the step must answer: `2xx` (the default), one status, or a list. */
  readonly expect?: '2xx' | number | readonly number[];
  /** Read a stream this long. */
  readonly holdMs?: number;
  /** The long poll the step asks for (ms), allowed on top of the answer time limit. */
  readonly allowMs?: number;
}

export type Step = (
  operationId: string,
  method: string,
  path: string,
  options?: StepOptions,
) => Promise<{ status: number; body: unknown; text: string }>;

/** Reports an answer that has the right status but says the wrong thing. */
export type Complain = (operationId: string, message: string) => void;

export async function runScenario(
  item: ScenarioCase,
  id: string,
  step: Step,
  complain: Complain,
): Promise<void> {
  switch (item.name) {
    case 'queue':
      return queue(`fz.sq.${id}`, item.variant, step);
    case 'job':
      return job(`fz.sj.${id}`, item.variant, step, complain);
    case 'job-fail':
      return jobFail(`fz.sf.${id}`, step);
    case 'topic':
      return topic(`fz.st.${id}`, item.variant, step);
    case 'schedule':
      return schedule(`fz.ss.${id}`, step);
  }
}

function list(value: unknown, field: string): Record<string, unknown>[] {
  return isObject(value) && Array.isArray(value[field]) ? (value[field] as unknown[]).filter(isObject) : [];
}

function text(value: unknown, field: string): string | undefined {
  return isObject(value) && typeof value[field] === 'string' ? value[field] : undefined;
}

async function queue(name: string, variant: number, step: Step): Promise<void> {
  const base = `/v1/queues/${name}`;
  await step('putQueue', 'PUT', base, {
    body: {
      maxAttempts: 3,
      visibilityTimeoutMs: 30_000,
      dedupWindowMs: 60_000,
      backoff: { baseMs: 10, capMs: 100 },
    },
  });
  await step('sendMessages', 'POST', `${base}/messages`, {
    body: {
      messages: [
        { body: { i: 0, variant } },
        { bodyBase64: Buffer.from([0, 1, 2, variant % 256]).toString('base64') },
        { body: 'x'.repeat(variant % 50), key: 'k1', priority: 5, headers: { traceparent: 'x' } },
        { body: [null, true, 1.5], dedupId: `d-${variant}` },
      ],
    },
    expect: 201,
  });
  const key: [string, string][] = [['idempotency-key', `idem-${variant}`]];
  await step('sendMessages', 'POST', `${base}/messages`, {
    body: { body: { single: true } },
    headers: key,
    expect: 201,
  });
  await step('sendMessages', 'POST', `${base}/messages`, {
    body: { body: { single: true } },
    headers: key,
    expect: 200,
  });
  const page = await step('browseQueue', 'GET', `${base}/messages?limit=2`, { expect: 200 });
  const next = text(page.body, 'next');
  if (next)
    await step('browseQueue', 'GET', `${base}/messages?limit=2&cursor=${encodeURIComponent(next)}`, {
      expect: 200,
    });
  await step('getQueue', 'GET', base, { expect: 200 });
  const received = await step('receiveMessages', 'POST', `${base}/receive`, {
    body: { max: 10, waitMs: 0, visibilityMs: 30_000 },
    expect: 200,
  });
  const receipts = list(received.body, 'messages')
    .map((message) => text(message, 'receipt'))
    .filter((receipt): receipt is string => receipt !== undefined);
  const [first, second, third, fourth] = receipts;
  if (first) {
    await step('ackMessages', 'POST', `${base}/ack`, { body: { receipt: first }, expect: 204 });
    await step('ackMessages', 'POST', `${base}/ack`, { body: { receipt: first }, expect: 409 });
  }
  if (second) {
    await step('extendLeases', 'POST', `${base}/extend`, {
      body: { receipt: second, visibilityMs: 60_000 },
      expect: 200,
    });
    await step('nackMessages', 'POST', `${base}/nack`, {
      body: { receipt: second, delayMs: 0, error: 'fuzz nack' },
      expect: 204,
    });
  }
  if (third) {
    await step('deadLetterMessages', 'POST', `${base}/dead-letter`, {
      body: { receipt: third, reason: 'fuzz' },
      expect: 204,
    });
  }
  await step('ackMessages', 'POST', `${base}/ack`, {
    body: { receipts: [...(fourth ? [fourth] : []), 'not-a-receipt', 'eyJmYWtlIjp0cnVlfQ'] },
    expect: 200,
  });
  const dead = await step('listDeadLetters', 'GET', `${base}/dlq?limit=10`, { expect: 200 });
  const deadIds = list(dead.body, 'items')
    .map((item) => text(item, 'id'))
    .filter((id): id is string => id !== undefined);
  if (deadIds.length > 0) {
    await step('redriveDeadLetters', 'POST', `${base}/redrive`, {
      body: { ids: deadIds.slice(0, 1) },
      expect: 200,
    });
  }
  await step('receiveMessages', 'POST', `${base}/receive`, {
    body: { max: 1, waitMs: 150 },
    expect: 200,
    allowMs: 150,
  });
  await step('purgeDeadLetters', 'POST', `${base}/dlq/purge`, { body: {} });
  await step('purgeQueue', 'POST', `${base}/purge`);
  await step('deleteQueue', 'DELETE', base);
  await step('getQueue', 'GET', base, { expect: 404 });
}

async function job(type: string, variant: number, step: Step, complain: Complain): Promise<void> {
  const added = await step('addJob', 'POST', '/v1/jobs', {
    body: { type, payload: { variant }, maxAttempts: 2, key: `k-${variant}`, metadata: { from: 'fuzz' } },
    expect: 202,
  });
  const id = text(added.body, 'id');
  const key: [string, string][] = [['idempotency-key', `job-${type}`]];
  const once = await step('addJob', 'POST', '/v1/jobs', {
    body: { type, payload: 1 },
    headers: key,
    expect: 202,
  });
  const again = await step('addJob', 'POST', '/v1/jobs', {
    body: { type, payload: 1 },
    headers: key,
    expect: 202,
  });
  if (text(once.body, 'id') !== text(again.body, 'id')) {
    complain('addJob', 'a repeat with the same Idempotency-Key and body answered another job');
  }
  await step('addJob', 'POST', '/v1/jobs', { body: { type, payload: 2 }, headers: key, expect: 422 });
  if (id) {
    await step('getJob', 'GET', `/v1/jobs/${id}`, { expect: 200 });
    await step('streamJobEvents', 'GET', `/v1/jobs/${id}/events`, { expect: 200, holdMs: 150 });
  }
  const claimed = await step('claimJobs', 'POST', '/v1/jobs/claim', {
    body: { types: [type], max: 5, waitMs: 1000, leaseMs: 30_000 },
    expect: 200,
    allowMs: 1000,
  });
  const leases = list(claimed.body, 'jobs').flatMap((entry) => {
    const jobId = isObject(entry.job) ? text(entry.job, 'id') : undefined;
    const lease = text(entry, 'lease');
    return jobId && lease ? [{ jobId, lease }] : [];
  });
  const [one, two] = leases;
  if (one) {
    const at = `/v1/jobs/${one.jobId}`;
    await step('heartbeatJob', 'POST', `${at}/heartbeat`, { body: { lease: one.lease, leaseMs: 60_000 } });
    await step('reportJobProgress', 'POST', `${at}/progress`, {
      body: { progress: 42.5, data: { step: 1 }, lease: one.lease },
    });
    await step('completeJob', 'POST', `${at}/complete`, {
      body: { lease: one.lease, result: { ok: true, variant } },
    });
    await step('completeJob', 'POST', `${at}/complete`, {
      body: { lease: one.lease, result: null },
      expect: 409,
    });
  }
  if (two) {
    const at = `/v1/jobs/${two.jobId}`;
    await step('cancelJob', 'DELETE', at);
    await step('heartbeatJob', 'POST', `${at}/heartbeat`, { body: { lease: two.lease }, expect: 409 });
  }
  const found = await step('searchJobs', 'GET', `/v1/jobs?type=${encodeURIComponent(type)}&limit=1`, {
    expect: 200,
  });
  const next = text(found.body, 'next');
  if (next)
    await step(
      'searchJobs',
      'GET',
      `/v1/jobs?type=${encodeURIComponent(type)}&limit=1&cursor=${encodeURIComponent(next)}`,
      { expect: 200 },
    );
  await step('streamEvents', 'GET', `/v1/events?jobType=${encodeURIComponent(type)}&from=0`, {
    expect: 200,
    holdMs: 150,
  });
}

async function jobFail(type: string, step: Step): Promise<void> {
  const added = await step('addJob', 'POST', '/v1/jobs', { body: { type, maxAttempts: 1 }, expect: 202 });
  const id = text(added.body, 'id');
  if (!id) return;
  // Names are recycled (see the fuzzer), so the type may have jobs an earlier run left: claim a
  // few and keep the lease of ours.
  const claim = async () => {
    const claimed = await step('claimJobs', 'POST', '/v1/jobs/claim', {
      body: { types: [type], max: 10, waitMs: 1000, leaseMs: 30_000 },
      expect: 200,
      allowMs: 1000,
    });
    const entry = list(claimed.body, 'jobs').find((item) => isObject(item.job) && item.job.id === id);
    return entry ? text(entry, 'lease') : undefined;
  };
  const lease = await claim();
  if (!lease) return;
  await step('failJob', 'POST', `/v1/jobs/${id}/fail`, {
    body: { lease, error: { name: 'FuzzError', message: 'failed on purpose' }, retryable: false },
  });
  await step('getJob', 'GET', `/v1/jobs/${id}`, { expect: 200 });
  await step('retryJob', 'POST', `/v1/jobs/${id}/retry`);
  const again = await claim();
  if (again) await step('completeJob', 'POST', `/v1/jobs/${id}/complete`, { body: { lease: again } });
  await step('cancelJob', 'DELETE', `/v1/jobs/${id}`, { expect: 409 });
}

async function topic(name: string, variant: number, step: Step): Promise<void> {
  const base = `/v1/topics/${name}`;
  await step('putTopic', 'PUT', base, { body: { partitions: 2 } });
  await step('publishEvents', 'POST', `${base}/events`, {
    body: { events: [{ body: 1, key: 'a' }, { bodyBase64: 'AAE=', partition: 1 }, { body: { variant } }] },
    expect: [200, 201],
  });
  await step('publishEvents', 'POST', `${base}/events`, {
    body: { body: 'one', key: 'b' },
    expect: [200, 201],
  });
  await step('readPartition', 'GET', `${base}/partitions/0/events?from=0&limit=10`, { expect: 200 });
  await step('readPartition', 'GET', `${base}/partitions/7/events`, { expect: 416 });
  const group = `${base}/groups/g`;
  const polled = await step('pollGroup', 'POST', `${group}/poll`, {
    body: { member: 'm', waitMs: 0, startFrom: 'earliest', sessionTimeoutMs: 5000 },
    expect: 200,
  });
  const offsets: Record<string, number> = {};
  for (const event of list(polled.body, 'events')) {
    if (typeof event.partition === 'number' && typeof event.offset === 'number') {
      offsets[event.partition] = Math.max(offsets[event.partition] ?? 0, event.offset + 1);
    }
  }
  if (Object.keys(offsets).length > 0) {
    await step('commitOffsets', 'POST', `${group}/commit`, { body: { member: 'm', offsets } });
  }
  const cursor = text(polled.body, 'cursor');
  await step('pollGroup', 'POST', `${group}/poll`, {
    body: { member: 'm', waitMs: 100, ...(cursor ? { cursor } : {}) },
    expect: 200,
    allowMs: 100,
  });
  await step('getGroup', 'GET', group, { expect: 200 });
  await step('seekGroup', 'POST', `${group}/seek`, {
    body: { to: variant % 2 === 0 ? 'earliest' : { timestamp: 0 } },
  });
  await step('leaveGroup', 'POST', `${group}/leave`, { body: { member: 'm' } });
  await step('deleteTopic', 'DELETE', base);
}

async function schedule(name: string, step: Step): Promise<void> {
  const base = `/v1/schedules/${name}`;
  await step('putSchedule', 'PUT', base, {
    body: { everyMs: 3_600_000, type: 'fz.j2', payload: { from: 'schedule' } },
  });
  await step('putSchedule', 'PUT', base, {
    body: { cron: '*/5 * * * *', timezone: 'Europe/Paris', type: 'fz.j2', missed: 'skip' },
  });
  await step('listSchedules', 'GET', '/v1/schedules', { expect: 200 });
  await step('deleteSchedule', 'DELETE', base);
  // Deleting an absent schedule: either answer is documented behaviour (idempotent, or not found).
  await step('deleteSchedule', 'DELETE', base, { expect: [204, 404] });
}
