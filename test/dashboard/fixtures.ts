/**
 * Data for the dashboard to show, made through the public HTTP API the way producers, workers
 * and operators make it: queues with ready and dead-lettered messages, a topic with a lagging
 * group, jobs in several states, a schedule. Shared by the browser tests and the screenshot
 * script.
 */
import assert from 'node:assert/strict';
import { call } from '../e2e/helpers.js';

export interface Api {
  readonly url: string;
  /** Sent as `Authorization: Bearer` when set (a server with tokens). */
  readonly token?: string;
}

async function request<T = unknown>(api: Api, method: string, path: string, body?: unknown): Promise<T> {
  const answer = await call(api.url, method, path, {
    ...(body === undefined ? {} : { body }),
    ...(api.token === undefined ? {} : { token: api.token }),
  });
  assert.ok(
    answer.status < 300,
    `${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`,
  );
  return answer.body as T;
}

/** Creates `queue` (maxAttempts 3) and sends `count` JSON messages to it. */
export async function fillQueue(api: Api, queue: string, count: number, offset = 0): Promise<void> {
  await request(api, 'PUT', `/v1/queues/${queue}`, { maxAttempts: 3 });
  if (count === 0) return;
  await request(api, 'POST', `/v1/queues/${queue}/messages`, {
    messages: Array.from({ length: count }, (_, index) => ({
      body: { orderId: offset + index + 1, total: 19.99 + index, currency: 'EUR' },
      key: `customer-${(offset + index) % 4}`,
    })),
  });
}

/**
 * Sends `count` messages to `queue` and dead-letters them like a worker giving up: received,
 * failed once with a nack (recorded as an error), then dead-lettered with a reason. Answers
 * their ids.
 */
export async function deadLetter(api: Api, queue: string, count: number): Promise<string[]> {
  await request(api, 'PUT', `/v1/queues/${queue}`, { maxAttempts: 3 });
  const sent = await request<{ results: { id: string }[] }>(api, 'POST', `/v1/queues/${queue}/messages`, {
    messages: Array.from({ length: count }, (_, index) => ({
      body: { orderId: 9000 + index, card: `**** ${4000 + index}` },
    })),
  });
  const ids = sent.results.map((result) => result.id);
  // The queue must hold nothing else ready: a receive takes whatever is ready.
  const receive = async () => {
    const received = await request<{ messages: { id: string; receipt: string }[] }>(
      api,
      'POST',
      `/v1/queues/${queue}/receive`,
      { max: 1000 },
    );
    assert.deepEqual(received.messages.map((message) => message.id).sort(), [...ids].sort());
    return received.messages;
  };
  const first = await receive();
  await request(api, 'POST', `/v1/queues/${queue}/nack`, {
    receipts: first.map((message) => message.receipt),
    error: 'PaymentGatewayTimeout: no answer within 10 s',
  });
  const second = await receive();
  await request(api, 'POST', `/v1/queues/${queue}/dead-letter`, {
    receipts: second.map((message) => message.receipt),
    reason: 'CardDeclined: insufficient funds',
  });
  return ids;
}

/** A topic with events in every partition and a group that has read part of them. */
export async function fillTopic(api: Api, topic: string, events: number, group: string): Promise<void> {
  await request(api, 'PUT', `/v1/topics/${topic}`, { partitions: 3 });
  await request(api, 'POST', `/v1/topics/${topic}/events`, {
    events: Array.from({ length: events }, (_, index) => ({
      body: { orderId: index + 1, status: index % 3 === 0 ? 'paid' : 'created' },
      key: `order-${index + 1}`,
      headers: { 'ce-type': index % 3 === 0 ? 'order.paid' : 'order.created' },
    })),
  });
  const member = `${group}-worker-1`;
  const polled = await request<{ events: { partition: number; offset: number }[] }>(
    api,
    'POST',
    `/v1/topics/${topic}/groups/${group}/poll`,
    { member, max: Math.ceil(events / 2) },
  );
  const offsets: Record<string, number> = {};
  for (const event of polled.events) {
    offsets[event.partition] = Math.max(offsets[event.partition] ?? 0, event.offset + 1);
  }
  if (Object.keys(offsets).length > 0) {
    await request(api, 'POST', `/v1/topics/${topic}/groups/${group}/commit`, { member, offsets });
  }
  await request(api, 'POST', `/v1/topics/${topic}/groups/${group}/leave`, { member });
}

/** Adds a job; answers its id. */
export async function addJob(
  api: Api,
  type: string,
  payload: unknown,
  options: Record<string, unknown> = {},
): Promise<string> {
  const accepted = await request<{ id: string }>(api, 'POST', '/v1/jobs', { type, payload, ...options });
  return accepted.id;
}

/** Runs one waiting job of `type` as a remote worker would: completes it, or fails it for good. */
export async function runJob(
  api: Api,
  type: string,
  outcome: { result: unknown } | { error: { name: string; message: string; stack?: string } },
): Promise<string> {
  const claimed = await request<{ jobs: { job: { id: string }; lease: string }[] }>(
    api,
    'POST',
    '/v1/jobs/claim',
    {
      types: [type],
    },
  );
  const leased = claimed.jobs[0];
  assert.ok(leased, `no ${type} job to run`);
  await request(api, 'POST', `/v1/jobs/${leased.job.id}/progress`, { lease: leased.lease, progress: 60 });
  await request(api, 'POST', `/v1/jobs/${leased.job.id}/log`, {
    lease: leased.lease,
    lines: [{ message: `working on ${type}` }, { message: 'the warehouse is slow', level: 'warn' }],
  });
  if ('result' in outcome) {
    await request(api, 'POST', `/v1/jobs/${leased.job.id}/complete`, {
      lease: leased.lease,
      result: outcome.result,
    });
  } else {
    await request(api, 'POST', `/v1/jobs/${leased.job.id}/fail`, {
      lease: leased.lease,
      error: outcome.error,
      retryable: false,
    });
  }
  return leased.job.id;
}

/** A schedule firing `type` every hour. */
export async function addSchedule(api: Api, name: string, type: string): Promise<void> {
  await request(api, 'PUT', `/v1/schedules/${name}`, {
    cron: '0 * * * *',
    timezone: 'UTC',
    type,
    payload: {},
  });
}

/** A whole picture for screenshots: a busy queue, dead letters, a topic with lag, jobs, a schedule. */
export async function seedDemo(api: Api): Promise<void> {
  await fillQueue(api, 'emails', 0);
  await deadLetter(api, 'orders', 4);
  await fillQueue(api, 'orders', 128);
  await fillQueue(api, 'invoices', 12);
  await fillTopic(api, 'orders.events', 60, 'payment');
  await request(api, 'POST', '/v1/topics/orders.events/groups/inventory/seek', { to: 'earliest' });
  for (let index = 0; index < 3; index++) await addJob(api, 'report.build', { month: `2026-0${index + 1}` });
  await runJob(api, 'report.build', { result: { rows: 1234, url: 's3://reports/2026-01.csv' } });
  await runJob(api, 'report.build', {
    error: { name: 'QueryTimeout', message: 'the warehouse did not answer within 30 s' },
  });
  for (let index = 0; index < 4; index++) {
    await addJob(api, 'email.send', { to: `user${index}@example.com` }, { key: `user-${index}` });
  }
  await addJob(api, 'email.send', { to: 'later@example.com' }, { delayMs: 3_600_000 });
  await addSchedule(api, 'hourly-digest', 'email.digest');
  await request(api, 'PUT', '/v1/schedules/nightly-report', {
    cron: '30 2 * * *',
    timezone: 'Europe/Paris',
    type: 'report.build',
    payload: { month: 'current' },
  });
}
