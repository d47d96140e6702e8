/**
 * Calls to the Spool HTTP API (same origin as the page). Errors arrive as RFC 9457 problem
 * documents; {@link ApiError} carries the document so screens can show its `detail` (which says
 * what to do) and branch on its `code`. A 401 also opens the token prompt.
 */
import { auth, tokenRefused } from './auth.js';
import type { ProblemDocument } from './types.js';

/** A failed call: an answer outside 2xx, or no answer at all (`status` 0). */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    /** The problem's `code` (e.g. `SPOOL_QUEUE_NOT_FOUND`), or `SPOOL_NETWORK_ERROR`. */
    readonly code: string,
    message: string,
    readonly problem: ProblemDocument | null = null,
  ) {
    super(message);
  }

  /** The problem's title, for headings. */
  get title(): string {
    return this.problem?.title ?? (this.status === 0 ? 'The server did not answer' : `HTTP ${this.status}`);
  }
}

export interface CallOptions {
  readonly body?: unknown;
  readonly signal?: AbortSignal;
}

/** Calls `method path` and answers the parsed JSON body (undefined for 204). */
export async function api<T>(method: string, path: string, options: CallOptions = {}): Promise<T> {
  const token = auth.get().token;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (options.signal?.aborted) throw error;
    throw new ApiError(0, 'SPOOL_NETWORK_ERROR', `could not reach the server (${String(error)})`);
  }
  if (!response.ok) throw await failure(response, token);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The error for a non-2xx answer (its problem document when it has one). */
export async function failure(response: Response, sentToken: string | null): Promise<ApiError> {
  if (response.status === 401) tokenRefused(sentToken);
  let problem: ProblemDocument | null = null;
  try {
    const parsed: unknown = await response.json();
    if (parsed !== null && typeof parsed === 'object' && 'code' in parsed)
      problem = parsed as ProblemDocument;
  } catch {
    // Not JSON: a proxy's page, most likely.
  }
  return new ApiError(
    response.status,
    problem?.code ?? `HTTP_${response.status}`,
    problem?.detail ?? `${response.status} ${response.statusText}`,
    problem,
  );
}

/** Builds `path?query` from the defined, non-empty values of `query`. */
export function withQuery(path: string, query: Record<string, string | number | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** One path segment (a queue, topic, group or job name). */
export const seg = (value: string | number) => encodeURIComponent(String(value));
