/** The scenario catalogue: what each measures, its unit, and which direction is better. */
import type { Counts } from '../counts.js';
import type { Run, ScenarioId } from '../results.js';
import type { BenchSystem } from '../types.js';
import { flashSale } from './flash-sale.js';
import { latency } from './latency.js';
import { processQueue } from './process.js';
import { sendBatches, sendConcurrent, sendSingle } from './send.js';

export interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  /** Unit of {@link Run.value}. */
  readonly unit: 'msg/s' | 's' | 'ms';
  readonly better: 'higher' | 'lower';
  run(system: BenchSystem, counts: Counts): Promise<Run>;
}

export const scenarios: readonly Scenario[] = [
  {
    id: 'send-single',
    title: 'send, one at a time awaited',
    unit: 'msg/s',
    better: 'higher',
    run: sendSingle,
  },
  {
    id: 'send-concurrent',
    title: 'send, 100 concurrent senders',
    unit: 'msg/s',
    better: 'higher',
    run: sendConcurrent,
  },
  {
    id: 'send-batch',
    title: 'send, batches of 1,000 awaited in turn',
    unit: 'msg/s',
    better: 'higher',
    run: (system, counts) => sendBatches(system, counts, 1000, 1),
  },
  {
    id: 'send-batch-100',
    title: 'send, batches of 100 from 10 concurrent senders',
    unit: 'msg/s',
    better: 'higher',
    run: (system, counts) => sendBatches(system, counts, 100, 10),
  },
  {
    id: 'process',
    title: 'process pre-enqueued, concurrency 50, no-op handler',
    unit: 'msg/s',
    better: 'higher',
    run: processQueue,
  },
  {
    id: 'latency',
    title: 'latency at a steady 1,000 msg/s: send→handler-start p99',
    unit: 'ms',
    better: 'lower',
    run: latency,
  },
  {
    id: 'flash-sale',
    title: 'flash sale: publish, 3 consumer groups all done',
    unit: 's',
    better: 'lower',
    run: flashSale,
  },
];

export function scenarioById(id: string): Scenario | undefined {
  return scenarios.find((scenario) => scenario.id === id);
}
