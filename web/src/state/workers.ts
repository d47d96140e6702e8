/**
 * The workers registry (`GET /v1/workers`), refreshed every 5 s, for the Workers page and the
 * overview's "no consumer" / "no worker" flags. `null` while unknown or when the token may not
 * read it (or the server is older): the overview then falls back to its heuristics.
 */
import type { WorkerRecord } from '../api/types.js';
import { api, type ApiError } from '../api/http.js';
import { useInterval, useResource } from './resource.js';

export interface WorkersView {
  readonly items: readonly WorkerRecord[] | null;
  readonly error: ApiError | null;
  readonly reload: () => Promise<void>;
}

/** The registry, refreshed every 5 s; not asked for when `enabled` is false (a token that may not read it). */
export function useWorkers(enabled = true): WorkersView {
  const workers = useResource(
    (signal) =>
      enabled ? api<{ items: WorkerRecord[] }>('GET', '/v1/workers', { signal }) : Promise.resolve(null),
    [enabled],
  );
  useInterval(() => void workers.reload(), enabled ? 5000 : null);
  return {
    items: workers.data?.items ?? null,
    error: workers.error,
    reload: workers.reload,
  };
}

/** Whether a live (not stale) worker consumes `queue`: a queue consumer or a stream consumer. */
export function servesQueue(workers: readonly WorkerRecord[], queue: string): boolean {
  return workers.some((worker) => !worker.stale && worker.serves.queue === queue);
}

/** Whether a live (not stale) worker runs jobs of `type`, in process or remote. */
export function servesJobType(workers: readonly WorkerRecord[], type: string): boolean {
  return workers.some((worker) => !worker.stale && (worker.serves.jobTypes ?? []).includes(type));
}

/** What a worker serves, in one short cell: `emails`, `orders / billing`, `jobs: a, b`. */
export function servesLabel(serves: WorkerRecord['serves']): string {
  if (serves.jobTypes) return `jobs: ${serves.jobTypes.join(', ')}`;
  if (serves.topic !== undefined)
    return serves.group !== undefined ? `${serves.topic} / ${serves.group}` : serves.topic;
  return serves.queue ?? '—';
}
