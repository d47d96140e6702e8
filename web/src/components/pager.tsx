/**
 * Cursor paging (the API's `next`): forward with the page's cursor, back through the cursors
 * already followed. `usePager` resets to the first page when its key (the filters) changes.
 */
import { useEffect, useState } from 'preact/hooks';

export interface Pager {
  /** The cursor of the page to load; null for the first page. */
  readonly cursor: string | null;
  readonly page: number;
  readonly next: (cursor: string) => void;
  readonly previous: () => void;
  readonly first: () => void;
}

export function usePager(key: string): Pager {
  const [stack, setStack] = useState<readonly (string | null)[]>([null]);
  useEffect(() => setStack([null]), [key]);
  return {
    cursor: stack.at(-1) ?? null,
    page: stack.length,
    next: (cursor) => setStack((current) => [...current, cursor]),
    previous: () => setStack((current) => (current.length > 1 ? current.slice(0, -1) : current)),
    first: () => setStack([null]),
  };
}

export function PagerNav({ pager, next, label }: { pager: Pager; next: string | null; label: string }) {
  if (pager.page === 1 && next === null) return null;
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        ← Previous
      </button>
      <span aria-live="polite">Page {pager.page}</span>
      <button type="button" disabled={next === null} onClick={() => next !== null && pager.next(next)}>
        Next →
      </button>
    </nav>
  );
}
