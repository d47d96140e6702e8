/**
 * Server-Sent Events over `fetch` rather than `EventSource`: EventSource cannot send an
 * `Authorization` header, and the API takes its token only there. Parses `text/event-stream`
 * as the WHATWG spec says (comments, multi-line data, `id`, `retry`) and reconnects with
 * `Last-Event-ID` after a dropped connection, backing off up to 15 s.
 */
import { auth } from './auth.js';
import { type ApiError, failure } from './http.js';

export interface StreamEvent {
  readonly id: string;
  readonly event: string;
  readonly data: string;
}

export type StreamStatus = 'connecting' | 'open' | 'reconnecting' | 'failed';

export interface StreamOptions {
  readonly onEvent: (event: StreamEvent) => void;
  /** Each connection state change; `failed` (with its error) is final: 401, 403, 404, … */
  readonly onStatus?: (status: StreamStatus, error?: ApiError) => void;
  readonly signal: AbortSignal;
}

/**
 * Follows the stream at `path` until `signal` aborts, the server refuses it, or the server
 * answers 204 No Content: nothing more to send (a finished job's stream, reconnected after its
 * last event).
 */
export async function followStream(path: string, options: StreamOptions): Promise<void> {
  const { signal } = options;
  let lastEventId = '';
  let retryMs = 1000;
  let failures = 0;
  while (!signal.aborted) {
    options.onStatus?.(failures === 0 ? 'connecting' : 'reconnecting');
    const token = auth.get().token;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      if (token !== null) headers.authorization = `Bearer ${token}`;
      if (lastEventId !== '') headers['last-event-id'] = lastEventId;
      const response = await fetch(path, { headers, signal, cache: 'no-store' });
      if (response.status === 204) return;
      if (!response.ok || response.body === null) {
        const error = await failure(response, token);
        // Client errors will not go away by retrying; 5xx and 429 may.
        if (response.status < 500 && response.status !== 429) {
          options.onStatus?.('failed', error);
          return;
        }
        throw error;
      }
      options.onStatus?.('open');
      failures = 0;
      const parser = new EventStreamParser();
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        for (const event of parser.push(value)) {
          lastEventId = event.id;
          options.onEvent(event);
        }
        if (parser.retryMs !== undefined) retryMs = parser.retryMs;
      }
    } catch {
      if (signal.aborted) return;
    }
    failures++;
    await pause(Math.min(15_000, retryMs * 2 ** Math.min(failures - 1, 4)), signal);
  }
}

/** Incremental `text/event-stream` parser: feed it decoded text, take the events it completes. */
export class EventStreamParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #id = '';
  retryMs: number | undefined;

  push(chunk: string): StreamEvent[] {
    this.#buffer += chunk;
    const events: StreamEvent[] = [];
    // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
    const lines = this.#buffer.split(/\r\n|\r(?!$)|\n/);
    this.#buffer = lines.pop() ?? '';
    for (const line of lines) {
      if (line === '') {
        if (this.#data.length > 0) {
          events.push({ id: this.#id, event: this.#event || 'message', data: this.#data.join('\n') });
        }
        this.#data = [];
        this.#event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.#data.push(value);
      else if (field === 'event') this.#event = value;
      else if (field === 'id' && !value.includes('\0')) this.#id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value);
    }
    return events;
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
