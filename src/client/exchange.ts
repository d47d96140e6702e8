/**
 * @internal What a transport needs of a way to reach the server (the Node pool in http-node.ts,
 * or a `fetch`): one attempt's answer, the exchange that makes it, and the attempt's deadline.
 */

/**
 * @internal One attempt's answer, whichever way it came: the status, headers on demand, and the
 * whole body as text.
 */
export interface Reply {
  readonly status: number;
  readonly statusText: string;
  /** One header (by its lower-case name), as `Headers.get` gives it; null when absent. */
  header(name: string): string | null;
  /** All the headers. */
  readonly headers: Headers;
  readonly text: string;
}

/** @internal How requests reach the server: the Node pool (http-node.ts) or a `fetch`. */
export interface Exchange {
  /** One attempt: sends the request and reads the whole answer; rejects when `deadline` ends. */
  send(
    method: string,
    pathAndQuery: string,
    headers: Record<string, string>,
    body: string | undefined,
    deadline: Deadline,
  ): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * @internal The end of one attempt: `timeoutMs` passed (then `timedOut` is true), or the caller's
 * signal aborted. A plain timer, and a listener only when the caller gave a signal; an
 * `AbortSignal` only when the exchange needs one (fetch). The Node pool does without: an
 * `AbortSignal.timeout` + `AbortSignal.any` pair per request costs more than the rest of the
 * client's work on it.
 */
export class Deadline {
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #caller: AbortSignal | undefined;
  readonly #onCallerAbort: (() => void) | undefined;
  #listener: ((reason: unknown) => void) | undefined;
  #controller: AbortController | undefined;
  #ended = false;
  #reason: unknown;
  timedOut = false;

  constructor(timeoutMs: number, caller: AbortSignal | undefined) {
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#end(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
    }, timeoutMs);
    // As `AbortSignal.timeout`'s timer: it does not keep the process alive by itself.
    (this.#timer as { unref?: () => void }).unref?.();
    if (caller !== undefined) {
      this.#caller = caller;
      this.#onCallerAbort = () => this.#end(caller.reason);
      caller.addEventListener('abort', this.#onCallerAbort, { once: true });
    }
  }

  /** Calls `listener` when the attempt ends early (at once if it has); one listener. */
  onEnd(listener: (reason: unknown) => void): void {
    if (this.#ended) listener(this.#reason);
    else this.#listener = listener;
  }

  /** An `AbortSignal` that aborts when the attempt ends early. */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      const controller = new AbortController();
      this.#controller = controller;
      this.onEnd((reason) => controller.abort(reason));
    }
    return this.#controller.signal;
  }

  /** Stops the timer and lets go of the caller's signal; the attempt is over. */
  dispose(): void {
    clearTimeout(this.#timer);
    if (this.#onCallerAbort !== undefined) this.#caller!.removeEventListener('abort', this.#onCallerAbort);
  }

  #end(reason: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#reason = reason;
    this.#listener?.(reason);
  }
}
