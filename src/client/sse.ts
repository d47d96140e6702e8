/**
 * A Server-Sent Events reader: parses `text/event-stream` as the WHATWG spec says (fields `id`,
 * `event`, `data`, `retry`; comments; CRLF, LF or CR line ends; multi-line data) and reconnects
 * with `Last-Event-ID` when the connection drops.
 */
import { SpoolHttpError } from './errors.js';
import { sleep, type Transport } from './http.js';

/** One parsed event. */
export interface SseEvent {
  /** The last event id seen (this event's, or an earlier one's if it had none). */
  readonly id: string;
  /** The `event:` field; `message` when absent. */
  readonly event: string;
  /** The `data:` lines joined with newlines. */
  readonly data: string;
}

/** Incremental parser: feed it text chunks, take the complete events. */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  #lastId = '';
  #sawCr = false;
  /** The reconnection delay the server asked for with `retry:`, if any. */
  retryMs: number | undefined;

  constructor(lastEventId = '') {
    this.#lastId = lastEventId;
  }

  /** Parses `chunk`; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = [];
    let text = this.#buffer + chunk;
    // A CR at the end of the last chunk ended a line; an LF right after it belongs to that end.
    if (this.#sawCr && text.startsWith('\n')) text = text.slice(1);
    this.#sawCr = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const char = text[i];
      if (char !== '\n' && char !== '\r') continue;
      const line = text.slice(start, i);
      if (char === '\r') {
        if (i + 1 < text.length) {
          if (text[i + 1] === '\n') i++;
        } else {
          this.#sawCr = true;
        }
      }
      start = i + 1;
      const event = this.#line(line);
      if (event) events.push(event);
    }
    this.#buffer = text.slice(start);
    return events;
  }

  #line(line: string): SseEvent | undefined {
    if (line === '') {
      const data = this.#data;
      const event = this.#event || 'message';
      this.#data = [];
      this.#event = '';
      if (data.length === 0) return undefined;
      return { id: this.#lastId, event, data: data.join('\n') };
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    switch (field) {
      case 'data':
        this.#data.push(value);
        break;
      case 'event':
        this.#event = value;
        break;
      case 'id':
        if (!value.includes('\0')) this.#lastId = value;
        break;
      case 'retry':
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
    }
    return undefined;
  }
}

/** Options of {@link readEventStream}. */
export interface EventStreamOptions {
  path: string;
  query?: Record<string, string | number | undefined>;
  /** Resume after this event id. */
  lastEventId?: string | undefined;
  /** Ends the stream (the iterator returns). */
  signal?: AbortSignal | undefined;
  /**
   * For streams the server ends on purpose: when the response ends cleanly right after an event
   * for which this returns true, the iterator returns instead of reconnecting.
   */
  endsAfter?: ((event: SseEvent) => boolean) | undefined;
}

/**
 * Follows an event stream: yields events as they arrive; on a dropped connection (the body ends or
 * errors, or the connect fails) it reconnects with `Last-Event-ID` after a backoff (or the
 * server's `retry:`), so no event is missed or repeated. A problem answer (401, 404, …) other than
 * 429/503 ends the iteration by throwing it. The iteration returns when the server answers 204 No
 * Content (nothing more to send, as for `EventSource`), or when the body ends cleanly right after
 * an event `endsAfter` accepts. Breaking out of the loop closes the connection.
 *
 * A reconnect the server answers 416 `SPOOL_OFFSET_OUT_OF_RANGE` throws too, at once: the
 * `Last-Event-ID` is past the end of the server's events log, so that log was reset or replaced
 * (or the server is another deployment) and the events already yielded belong to another
 * history. Restarting silently would skip or repeat events unnoticed; the caller decides instead,
 * with `error.problem.endOffset` (the id the next event will get): iterate again without
 * `lastEventId` to follow from now on, or with `from` to replay.
 */
export async function* readEventStream(
  http: Transport,
  options: EventStreamOptions,
): AsyncGenerator<SseEvent> {
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  if (options.signal?.aborted) return;
  options.signal?.addEventListener('abort', onAbort, { once: true });
  let lastEventId = options.lastEventId ?? '';
  let failures = 0;
  let retryMs: number | undefined;
  try {
    while (!stop.signal.aborted) {
      let response: Response;
      try {
        response = await http.stream(
          options.path,
          options.query,
          lastEventId === '' ? {} : { 'last-event-id': lastEventId },
          stop.signal,
        );
      } catch (error) {
        if (stop.signal.aborted) return;
        if (error instanceof SpoolHttpError && error.status !== 429 && error.status !== 503) throw error;
        failures++;
        const delay =
          error instanceof SpoolHttpError && error.retryAfterMs !== undefined
            ? error.retryAfterMs
            : (retryMs ?? http.backoffMs(failures));
        await sleep(delay, stop.signal).catch(() => undefined);
        continue;
      }
      // 204: the server has nothing more to send on this stream, now or later.
      if (response.status === 204 || response.body === null) return;
      const parser = new SseParser(lastEventId);
      const decoder = new TextDecoder();
      let endedAfter: SseEvent | undefined;
      let ended = false;
      try {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          failures = 0;
          for (const event of parser.push(decoder.decode(chunk, { stream: true }))) {
            lastEventId = event.id;
            endedAfter = event;
            yield event;
          }
        }
        ended = true;
      } catch {
        // A dropped connection: reconnect below.
      } finally {
        retryMs = parser.retryMs ?? retryMs;
      }
      if (stop.signal.aborted) return;
      if (ended && endedAfter !== undefined && options.endsAfter?.(endedAfter)) return;
      failures++;
      await sleep(retryMs ?? http.backoffMs(failures), stop.signal).catch(() => undefined);
    }
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    stop.abort();
  }
}
