/**
 * What alert rules measure, read from the engine once per evaluation: the queues and topics a
 * rule's pattern matches, their stats, and consumer-group lag. A {@link MeasureSnapshot} caches
 * each read for the duration of one evaluation, so ten rules on one queue cost one stats query.
 */
import { breakersOf } from '../breakers/breakers.js';
import { TopicNotFoundError } from '../core/errors.js';
import type { Spool } from '../engine/spool.js';
import type { TopicStats } from '../engine/topic.js';
import type { QueueStats } from '../store/port.js';
import type { AlertRule } from './alerts-rules.js';
import { matchesPattern } from './alerts-rules.js';

/** What an alert is about: a queue, one consumer group of a topic, or a circuit breaker. */
export interface AlertTarget {
  readonly queue?: string;
  readonly topic?: string;
  readonly group?: string;
  readonly breaker?: string;
}

/**
 * One target of a rule and what was measured on it. For windowed kinds the numbers are samples
 * (the dead-letter depth; cumulative failed and settled counts) that the evaluator turns into
 * growth over the window.
 */
export interface Measurement {
  /** Identifies the target within the rule: the queue name, or `topic/group`. */
  readonly key: string;
  readonly target: AlertTarget;
  /** depth: messages; oldest-age: seconds; dlq-growth: dead letters now; consumer-lag: events behind. */
  readonly sample: number;
  /** failure-rate only: cumulative failures and settlements. */
  readonly failed?: number;
  readonly settled?: number;
}

/** Cumulative settlements of a queue, from the settlement counter. */
export type SettlementsOf = (queue: string) => { acked: number; retried: number; deadLettered: number };

/** The engine's state as one evaluation sees it. */
export class MeasureSnapshot {
  #queues: Promise<string[]> | undefined;
  #topics: Promise<string[]> | undefined;
  readonly #queueStats = new Map<string, Promise<QueueStats>>();
  readonly #topicStats = new Map<string, Promise<TopicStats | null>>();

  constructor(
    private readonly spool: Spool,
    private readonly settlements: SettlementsOf,
  ) {}

  /** Measures every target `rule` matches now. */
  async measure(rule: AlertRule): Promise<Measurement[]> {
    if (rule.kind === 'consumer-lag') return this.#measureLag(rule);
    if (rule.kind === 'breaker-open') return this.#measureBreakers(rule);
    const queues = (await this.#queueNames()).filter((name) => matchesPattern(rule.queue!, name));
    return Promise.all(
      queues.map(async (queue): Promise<Measurement> => {
        const target = { queue };
        if (rule.kind === 'failure-rate') {
          const { acked, retried, deadLettered } = this.settlements(queue);
          const failed = retried + deadLettered;
          return { key: queue, target, sample: 0, failed, settled: acked + failed };
        }
        const stats = await this.#stats(queue);
        switch (rule.kind) {
          case 'depth':
            return {
              key: queue,
              target,
              sample: (rule.states ?? []).reduce((sum, state) => sum + stats[state], 0),
            };
          case 'oldest-age':
            return { key: queue, target, sample: stats.oldestAgeMs / 1000 };
          default:
            return { key: queue, target, sample: stats.deadLettered };
        }
      }),
    );
  }

  async #measureLag(rule: AlertRule): Promise<Measurement[]> {
    const topics = (await this.#topicNames()).filter((name) => matchesPattern(rule.topic!, name));
    const measured = await Promise.all(
      topics.map(async (topic) => {
        const stats = await this.#topicStatsOf(topic);
        return (stats?.groups ?? [])
          .filter((group) => matchesPattern(rule.group ?? '*', group.group))
          .map((group): Measurement => ({
            key: `${topic}/${group.group}`,
            target: { topic, group: group.group },
            sample: group.totalLag,
          }));
      }),
    );
    return measured.flat();
  }

  /** Seconds each matching breaker has been open or half-open (0 while closed). */
  async #measureBreakers(rule: AlertRule): Promise<Measurement[]> {
    const now = this.spool.clock.now();
    const breakers = await breakersOf(this.spool).list();
    return breakers
      .filter((breaker) => matchesPattern(rule.breaker!, breaker.name))
      .map((breaker) => ({
        key: breaker.name,
        target: { breaker: breaker.name },
        sample:
          breaker.state === 'closed' || breaker.openedAt === null
            ? 0
            : Math.max(0, now - breaker.openedAt.getTime()) / 1000,
      }));
  }

  #queueNames(): Promise<string[]> {
    this.#queues ??= this.spool.listQueues().then((configs) => configs.map((config) => config.name));
    return this.#queues;
  }

  #topicNames(): Promise<string[]> {
    this.#topics ??= this.spool.listTopics().then((configs) => configs.map((config) => config.name));
    return this.#topics;
  }

  #stats(queue: string): Promise<QueueStats> {
    let stats = this.#queueStats.get(queue);
    if (!stats) {
      stats = this.spool.store.queueStats(queue);
      this.#queueStats.set(queue, stats);
    }
    return stats;
  }

  #topicStatsOf(topic: string): Promise<TopicStats | null> {
    let stats = this.#topicStats.get(topic);
    if (!stats) {
      stats = this.spool
        .openTopic(topic)
        .then((handle) => handle.stats())
        // Deleted since it was listed: it has no groups to lag any more.
        .catch((error: unknown) => {
          if (error instanceof TopicNotFoundError) return null;
          throw error;
        });
      this.#topicStats.set(topic, stats);
    }
    return stats;
  }
}
