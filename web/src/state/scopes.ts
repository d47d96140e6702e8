/**
 * What the current token may do (`GET /v1/auth/scopes`), so screens offer only the actions it
 * can take: a read-only token sees no buttons that would answer 403. Until the scopes are known
 * (or when the server is older and has no such route) every action is offered, and the server's
 * 403 explains a refusal, as before.
 */
import { auth } from '../api/auth.js';
import { api } from '../api/http.js';
import { createStore, useStore } from './store.js';

export type Scope = 'read' | 'produce' | 'consume' | 'admin';

/** The token's scopes; null while unknown. */
const granted = createStore<readonly Scope[] | null>(null);

let loadedFor = -1;

function load(version: number): void {
  loadedFor = version;
  granted.set(null);
  api<{ scopes: Scope[] }>('GET', '/v1/auth/scopes').then(
    (answer) => {
      if (loadedFor === version) granted.set(answer.scopes);
    },
    () => {
      // No route (an older server) or no valid token yet: offer everything; 401/403 explain.
    },
  );
}

/** Whether the current token may take actions that need `scope` (true while unknown). */
export function useCan(scope: Scope): boolean {
  const { version } = useStore(auth);
  const scopes = useStore(granted);
  if (loadedFor !== version) load(version);
  return scopes === null || scopes.includes(scope);
}
