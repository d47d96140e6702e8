/**
 * The API token. A server configured with tokens answers 401 to calls without one; the dashboard
 * then asks the operator for a token and keeps it in sessionStorage — for this tab only, gone
 * when the tab closes, never in a URL or a cookie the browser would send by itself.
 */
import { createStore } from '../state/store.js';

const storageKey = 'spool.token';

export interface AuthState {
  /** The token sent as `Authorization: Bearer …`; null when none was given. */
  readonly token: string | null;
  /** Why the token prompt is open: no token yet, or the server refused the one given. */
  readonly prompt: 'none' | 'required' | 'invalid';
  /** Rises each time a new token is set: data loaded under the old one loads again. */
  readonly version: number;
}

function storedToken(): string | null {
  try {
    return sessionStorage.getItem(storageKey);
  } catch {
    return null; // storage disabled: the token lives as long as the page
  }
}

export const auth = createStore<AuthState>({ token: storedToken(), prompt: 'none', version: 0 });

/** Uses `token` from now on (and for this tab's later loads). */
export function setToken(token: string): void {
  try {
    sessionStorage.setItem(storageKey, token);
  } catch {
    // Storage disabled: keep it in memory only.
  }
  auth.update((state) => ({ token, prompt: 'none', version: state.version + 1 }));
}

/** Forgets the token; the next call that needs one opens the prompt. */
export function signOut(): void {
  try {
    sessionStorage.removeItem(storageKey);
  } catch {
    // Nothing stored.
  }
  auth.update((state) => ({ token: null, prompt: 'required', version: state.version + 1 }));
}

/** Called on a 401: opens the prompt, saying whether the token sent was refused. */
export function tokenRefused(sent: string | null): void {
  auth.update((state) => {
    // A 401 for an older token than the current one says nothing about the current one.
    if (sent !== state.token) return state;
    const prompt = sent === null ? 'required' : 'invalid';
    return state.prompt === prompt ? state : { ...state, prompt };
  });
}
