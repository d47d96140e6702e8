/**
 * Short messages about what an action did ("Redrove 3 messages") or why it failed, announced to
 * screen readers through a live region and dismissed after a while.
 */
import { createStore } from './store.js';

export interface Notice {
  readonly id: number;
  readonly kind: 'success' | 'error';
  readonly text: string;
}

export const notices = createStore<readonly Notice[]>([]);
let nextId = 1;

export function notify(text: string, kind: Notice['kind'] = 'success'): void {
  const id = nextId++;
  notices.update((list) => [...list.slice(-4), { id, kind, text }]);
  // Errors stay longer: they usually say what to do.
  setTimeout(() => dismiss(id), kind === 'error' ? 15_000 : 6000);
}

export function dismiss(id: number): void {
  notices.update((list) => list.filter((notice) => notice.id !== id));
}
