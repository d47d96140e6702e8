/**
 * Loading data for a screen: `useResource(load, deps)` calls `load` when the screen mounts and
 * when `deps` or the API token change, aborts calls whose answer is no longer wanted, and keeps
 * showing the previous data while a reload runs (no flicker on refresh).
 */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { auth } from '../api/auth.js';
import { ApiError } from '../api/http.js';
import { useStore } from './store.js';

export interface Resource<T> {
  readonly data: T | undefined;
  readonly error: ApiError | null;
  readonly loading: boolean;
  /** Loads again (e.g. after an action changed the data). */
  readonly reload: () => Promise<void>;
}

export function useResource<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: readonly unknown[],
): Resource<T> {
  const { version } = useStore(auth);
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | null; loading: boolean }>({
    data: undefined,
    error: null,
    loading: true,
  });
  const loadRef = useRef(load);
  loadRef.current = load;
  // Each change of deps or token starts a new generation: calls of older ones are aborted.
  const generation = useRef(0);
  const controller = useRef<AbortController | null>(null);
  const running = useRef<{ generation: number; again: boolean; done: Promise<void> } | null>(null);

  // A reload asked for while one runs (live updates come every second; a slow server may take
  // longer) runs once more after it, rather than aborting it: otherwise nothing would finish.
  const reload = useCallback((): Promise<void> => {
    const active = running.current;
    if (active && active.generation === generation.current) {
      active.again = true;
      return active.done;
    }
    const abort = new AbortController();
    controller.current = abort;
    const entry = { generation: generation.current, again: false, done: Promise.resolve() };
    running.current = entry;
    entry.done = (async () => {
      try {
        do {
          entry.again = false;
          setState((previous) => ({ ...previous, loading: true }));
          try {
            const data = await loadRef.current(abort.signal);
            if (!abort.signal.aborted) setState({ data, error: null, loading: false });
          } catch (error) {
            if (abort.signal.aborted) return;
            const apiError =
              error instanceof ApiError ? error : new ApiError(0, 'SPOOL_DASHBOARD_ERROR', String(error));
            setState((previous) => ({ ...previous, error: apiError, loading: false }));
          }
        } while (entry.again && !abort.signal.aborted);
      } finally {
        if (running.current === entry) running.current = null;
      }
    })();
    return entry.done;
  }, []);

  const restart = (keepData: boolean) => {
    generation.current++;
    controller.current?.abort();
    // Data of another resource (another queue, other filters) must not show under this one.
    if (!keepData) setState({ data: undefined, error: null, loading: true });
    void reload();
  };

  useEffect(() => {
    restart(false);
    return () => controller.current?.abort();
  }, [...deps]);

  const loadedVersion = useRef(version);
  useEffect(() => {
    if (version === loadedVersion.current) return;
    loadedVersion.current = version;
    restart(true);
  }, [version]);

  return { ...state, reload };
}

/** Calls `tick` every `ms` while the page is visible. */
export function useInterval(tick: () => void, ms: number | null): void {
  const tickRef = useRef(tick);
  tickRef.current = tick;
  useEffect(() => {
    if (ms === null) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') tickRef.current();
    }, ms);
    return () => clearInterval(timer);
  }, [ms]);
}

/** The current time, updated every `ms` (for countdowns and relative times). */
export function useNow(ms = 1000): number {
  const [now, setNow] = useState(Date.now());
  useInterval(() => setNow(Date.now()), ms);
  return now;
}
