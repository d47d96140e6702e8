/**
 * The circuit breakers' shared state (`GET /v1/breakers`), refreshed every 2 s, for the Breakers
 * page and the overview's summary. `null` while unknown or when the token may not read it (or
 * the server is older): the overview then shows no summary.
 */
import type { Breaker } from '../api/types.js';
import { api, type ApiError } from '../api/http.js';
import { useInterval, useResource } from './resource.js';

export interface BreakersView {
  readonly items: readonly Breaker[] | null;
  readonly error: ApiError | null;
  readonly reload: () => Promise<void>;
}

/** The breakers, refreshed every 2 s; not asked for when `enabled` is false. */
export function useBreakers(enabled = true): BreakersView {
  const breakers = useResource(
    (signal) =>
      enabled ? api<{ items: Breaker[] }>('GET', '/v1/breakers', { signal }) : Promise.resolve(null),
    [enabled],
  );
  useInterval(() => void breakers.reload(), enabled ? 2000 : null);
  return {
    items: breakers.data?.items ?? null,
    error: breakers.error,
    reload: breakers.reload,
  };
}

/** How each state reads, and its tone: closed calls through, open refuses, half-open probes. */
export const breakerStates = {
  closed: { tone: 'ok', explain: 'calls go through' },
  open: { tone: 'bad', explain: 'calls are refused until a probe is let through' },
  'half-open': { tone: 'warn', explain: 'probes are let through; their outcome closes or reopens it' },
} as const;
