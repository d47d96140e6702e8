/**
 * Webhook subscriptions to job event types: every job event that matches a subscription (by
 * event type, e.g. `job.dead` or `job.*`, and optionally by job type) becomes a signed webhook
 * delivery to the subscription's URL.
 *
 * The subscriptions read the job events topic as one consumer group, transactionally: a
 * delivery is enqueued in the same transaction that commits the event's offset, so each matching
 * event yields exactly one delivery, across restarts and several server processes.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../core/errors.js';
import type { Spool } from '../engine/spool.js';
import type { Subscription } from '../engine/subscription.js';
import { webhookMessage, webhooksQueue } from '../webhooks/message.js';
import { isJobEvent, jobEventsTopic, type SpoolEvent } from './job-events.js';
import { ensureCallbackQueue } from './job-callbacks.js';

/** One webhook subscription. */
export interface EventSubscription {
  /** Receives the deliveries (http or https). */
  readonly url: string;
  /**
   * Event types, e.g. `['job.completed', 'job.dead']`; `job.*` for all job events, `alert.*` for
   * alerts starting (`alert.firing`) and stopping (`alert.resolved`) to fire, `queue.*` for queue events.
   */
  readonly events: readonly string[];
  /** Only events of jobs of these types; all types when omitted. */
  readonly jobTypes?: readonly string[];
  /** Signing secret(s) of this subscription; the delivering process's default otherwise. */
  readonly secret?: string | readonly string[];
}

export class EventSubscriptions {
  readonly #subscriptions: readonly EventSubscription[];
  #subscription: Subscription<SpoolEvent> | undefined;

  constructor(
    private readonly spool: Spool,
    subscriptions: readonly EventSubscription[],
  ) {
    this.#subscriptions = subscriptions.map(validateSubscription);
  }

  /** Starts delivering; events from now on (the group starts at the end of the log). */
  async start(): Promise<void> {
    if (this.#subscriptions.length === 0) return;
    await ensureCallbackQueue(this.spool);
    const topic = await this.spool.topic<SpoolEvent>(jobEventsTopic, {
      partitions: 1,
      retentionMs: 86_400_000,
    });
    // One group per set of subscriptions: a changed configuration starts its own position.
    const digest = createHash('sha256')
      .update(JSON.stringify(this.#subscriptions))
      .digest('hex')
      .slice(0, 12);
    this.#subscription = topic.subscribe(
      `webhook-subscriptions-${digest}`,
      async (event, { tx }) => {
        for (const subscription of this.#subscriptions) {
          if (!matches(subscription, event.body)) continue;
          const { body, options } = webhookMessage(
            {
              url: subscription.url,
              event: event.body.event,
              payload: { ...event.body, at: new Date(event.body.at).toISOString(), eventId: event.offset },
              webhookId: `evt-${event.offset}-${createHash('sha256').update(subscription.url).digest('hex').slice(0, 12)}`,
              timestamp: event.body.at,
              ...(subscription.secret === undefined ? {} : { secret: subscription.secret }),
            },
            this.spool.clock.now(),
          );
          await tx!.send(webhooksQueue, body, options);
        }
      },
      { startFrom: 'latest', transactional: true, batchSize: 100 },
    );
    await this.#subscription.ready();
  }

  async close(options: { timeoutMs?: number } = {}): Promise<void> {
    await this.#subscription?.close(options);
  }
}

function matches(subscription: EventSubscription, event: SpoolEvent): boolean {
  const eventMatches = subscription.events.some(
    (pattern) =>
      pattern === event.event || (pattern.endsWith('.*') && event.event.startsWith(pattern.slice(0, -1))),
  );
  if (!eventMatches) return false;
  if (subscription.jobTypes === undefined) return true;
  return isJobEvent(event) && subscription.jobTypes.includes(event.jobType);
}

function validateSubscription(subscription: EventSubscription, index: number): EventSubscription {
  if (!/^https?:\/\//.test(subscription.url)) {
    throw new InvalidArgumentError(`webhook subscription ${index}: url must be an http(s) URL`, {
      field: 'url',
    });
  }
  if (!Array.isArray(subscription.events) || subscription.events.length === 0) {
    throw new InvalidArgumentError(
      `webhook subscription ${index}: events must list event types such as "job.completed" or "job.*"`,
      { field: 'events' },
    );
  }
  return Object.freeze({ ...subscription });
}

/**
 * Reads subscriptions from `SPOOL_WEBHOOK_SUBSCRIPTIONS`: a JSON array of
 * `{ url, events, jobTypes?, secret? }`.
 */
export function subscriptionsFromEnv(text: string | undefined): EventSubscription[] {
  if (text === undefined || text.trim() === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(
      `SPOOL_WEBHOOK_SUBSCRIPTIONS is not JSON (${(error as Error).message}); give an array of { url, events }`,
      { field: 'SPOOL_WEBHOOK_SUBSCRIPTIONS' },
    );
  }
  if (!Array.isArray(parsed)) {
    throw new InvalidArgumentError('SPOOL_WEBHOOK_SUBSCRIPTIONS must be a JSON array of { url, events }', {
      field: 'SPOOL_WEBHOOK_SUBSCRIPTIONS',
    });
  }
  return parsed as EventSubscription[];
}
