/**
 * History-API routing: screens have real paths (`/queues/orders/dlq`), so they can be
 * bookmarked, opened in a new tab and shared; the server answers index.html for them.
 */
import { createStore } from './store.js';

export interface Location {
  readonly path: string;
  readonly query: URLSearchParams;
}

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

export const location = createStore<Location>(current());

window.addEventListener('popstate', () => location.set(current()));

/** Goes to `to` (a path with an optional query), adding a history entry unless `replace`. */
export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  location.set(current());
}

/** The route a path matches, with its decoded parameters. */
export type Route =
  | { readonly screen: 'overview' }
  | { readonly screen: 'queue'; readonly name: string; readonly tab: 'live' | 'messages' | 'dlq' }
  | { readonly screen: 'topic'; readonly name: string }
  | { readonly screen: 'jobs' }
  | { readonly screen: 'job'; readonly id: string }
  | { readonly screen: 'schedules' }
  | { readonly screen: 'webhooks' }
  | { readonly screen: 'workers' }
  | { readonly screen: 'workflows' }
  | { readonly screen: 'workflow-run'; readonly id: string }
  | { readonly screen: 'breakers' }
  | { readonly screen: 'not-found' };

export function match(path: string): Route {
  const parts = path
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      try {
        return decodeURIComponent(part);
      } catch {
        return part;
      }
    });
  const [first, second, third, ...rest] = parts;
  if (first === undefined) return { screen: 'overview' };
  if (rest.length > 0) return { screen: 'not-found' };
  if (first === 'queues' && second !== undefined) {
    if (third === undefined) return { screen: 'queue', name: second, tab: 'live' };
    if (third === 'messages' || third === 'dlq') return { screen: 'queue', name: second, tab: third };
  }
  if (first === 'topics' && second !== undefined && third === undefined)
    return { screen: 'topic', name: second };
  if (first === 'jobs' && third === undefined)
    return second === undefined ? { screen: 'jobs' } : { screen: 'job', id: second };
  if (first === 'schedules' && second === undefined) return { screen: 'schedules' };
  if (first === 'webhooks' && second === undefined) return { screen: 'webhooks' };
  if (first === 'workers' && second === undefined) return { screen: 'workers' };
  if (first === 'workflows' && second === undefined) return { screen: 'workflows' };
  if (first === 'workflow-runs' && second !== undefined && third === undefined)
    return { screen: 'workflow-run', id: second };
  if (first === 'breakers' && second === undefined) return { screen: 'breakers' };
  return { screen: 'not-found' };
}

/** Paths of the screens, so links are built in one place. */
export const paths = {
  overview: () => '/',
  queue: (name: string, tab: 'live' | 'messages' | 'dlq' = 'live') =>
    `/queues/${encodeURIComponent(name)}${tab === 'live' ? '' : `/${tab}`}`,
  topic: (name: string) => `/topics/${encodeURIComponent(name)}`,
  jobs: (query?: Record<string, string>) => {
    const text = new URLSearchParams(query).toString();
    return text === '' ? '/jobs' : `/jobs?${text}`;
  },
  job: (id: string) => `/jobs/${encodeURIComponent(id)}`,
  schedules: () => '/schedules',
  workers: () => '/workers',
  workflows: (query?: Record<string, string>) => {
    const text = new URLSearchParams(query).toString();
    return text === '' ? '/workflows' : `/workflows?${text}`;
  },
  workflowRun: (id: string) => `/workflow-runs/${encodeURIComponent(id)}`,
  breakers: () => '/breakers',
  webhooks: (query?: Record<string, string>) => {
    const text = new URLSearchParams(query).toString();
    return text === '' ? '/webhooks' : `/webhooks?${text}`;
  },
};
