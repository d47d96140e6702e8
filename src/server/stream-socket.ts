/**
 * The framing the streaming routes share (queue consume and job work, see docs/streaming.md):
 * JSON text frames with a `type`, checked against a TypeBox union; a bad frame is answered with
 * an `error` frame carrying the problem+json body any route would answer, and the connection
 * stays. Frames that arrive before the route is ready wait, in order, until it is.
 */
import type { Static, TUnion } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { InvalidArgumentError, SpoolError } from '../core/errors.js';
import { toProblem } from './problems.js';

/** WebSocket close codes the server uses (4000–4999 are the application's own). */
export const streamCloseCodes = {
  /** The server is shutting down: reconnect (to another instance). */
  goingAway: 1001,
  /** The queue was deleted while the stream was open. */
  queueDeleted: 4404,
  /** Something failed on the server; reconnect. */
  internal: 1011,
} as const;

/** One receipt's (or job's) outcome in a settle: `ok` with facts, or the error that refused it. */
export type ItemOutcome = ({ ok: true } & object) | { ok: false; error: unknown };

/** Checks frames of one protocol and says, for a bad one, which field is wrong. */
export class FrameChecker<U extends TUnion> {
  readonly #check;
  readonly #byType = new Map<string, ReturnType<typeof TypeCompiler.Compile>>();

  constructor(union: U) {
    this.#check = TypeCompiler.Compile(union);
    for (const schema of union.anyOf as unknown as { properties: { type: { const: string } } }[]) {
      this.#byType.set(schema.properties.type.const, TypeCompiler.Compile(schema as never));
    }
  }

  /** The frame in `text`, or the typed error to answer. */
  parse(text: string): Static<U> | InvalidArgumentError {
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return new InvalidArgumentError('a frame must be one JSON object; this one does not parse');
    }
    if (this.#check.Check(frame)) return frame;
    if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
      return new InvalidArgumentError('a frame must be a JSON object with a "type"');
    }
    const type = (frame as { type?: unknown }).type;
    const check = typeof type === 'string' ? this.#byType.get(type) : undefined;
    if (check === undefined) {
      const known = [...this.#byType.keys()].join(', ');
      return new InvalidArgumentError(
        `unknown frame type ${JSON.stringify(type)}; expected one of ${known}`,
        {
          field: 'type',
        },
      );
    }
    const first = check.Errors(frame).First();
    const field = first?.path.replace(/^\//, '').replaceAll('/', '.') || 'frame';
    return new InvalidArgumentError(`${String(type)} frame: ${field} ${first?.message ?? 'is invalid'}`, {
      field,
    });
  }
}

/** A streaming connection's frames: parse, hold until ready, answer, report. */
export class FrameSocket<F> {
  /** Frames that arrived before `ready()`, handled then. */
  #early: F[] | null = [];
  #onFrame: ((frame: F) => void) | undefined;

  constructor(
    readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    checker: { parse(text: string): F | InvalidArgumentError },
  ) {
    // Listeners first, synchronously: frames may arrive while the route is still opening.
    socket.on('message', (data, isBinary) => {
      if (isBinary) return this.error(new InvalidArgumentError('frames are JSON text messages, not binary'));
      const frame = checker.parse((data as Buffer).toString());
      if (frame instanceof InvalidArgumentError) return this.error(frame);
      if (this.#early) this.#early.push(frame);
      else this.#handle(frame);
    });
    socket.on('error', (error) => request.log.debug({ err: error }, 'stream socket error'));
  }

  get open(): boolean {
    return this.socket.readyState === this.socket.OPEN;
  }

  /** Starts handling frames with `onFrame`, those that waited first. */
  ready(onFrame: (frame: F) => void): void {
    this.#onFrame = onFrame;
    const early = this.#early ?? [];
    this.#early = null;
    for (const frame of early) this.#handle(frame);
  }

  send(frame: object): void {
    this.sendText(JSON.stringify(frame));
  }

  /** A frame already serialised as JSON text. */
  sendText(frame: string): void {
    if (this.open) this.socket.send(frame);
  }

  /** An `error` frame with the problem+json body of `error`; `id` when it answers a frame. */
  error(error: unknown, id?: number): void {
    const problem = toProblem(error, this.request);
    if (problem.unexpected) this.request.log.error({ err: error }, 'stream frame failed');
    this.send({ type: 'error', ...(id === undefined ? {} : { id }), problem: problem.body });
  }

  /**
   * Answers settle frame `id` once its outcomes are known: one result per item, in order, each
   * named by `key` (`receipt`, `job`) — an engine refusal (a stale receipt) is that item's result.
   */
  settled(id: number, key: string, names: readonly string[], outcomes: Promise<ItemOutcome[]>): void {
    outcomes.then(
      (results) =>
        this.send({
          type: 'settled',
          id,
          results: results.map((result, index) => {
            const name = { [key]: names[index]! };
            if (result.ok) {
              const { ok: _ok, ...facts } = result;
              return { ...name, ok: true, ...facts };
            }
            if (!(result.error instanceof SpoolError)) throw result.error;
            return { ...name, ok: false, code: result.error.code, detail: result.error.message };
          }),
        }),
      (error: unknown) => this.error(error, id),
    );
  }

  #handle(frame: F): void {
    try {
      this.#onFrame!(frame);
    } catch (error) {
      const id = (frame as { id?: unknown }).id;
      this.error(error, typeof id === 'number' ? id : undefined);
    }
  }
}

/** Settles each item on its own: an engine refusal is that item's outcome, not the frame's failure. */
export function eachItem<I>(
  items: readonly I[],
  settle: (item: I) => Promise<object | void>,
): Promise<ItemOutcome[]> {
  return Promise.all(
    items.map(async (item): Promise<ItemOutcome> => {
      try {
        return { ok: true, ...(await settle(item)) };
      } catch (error) {
        if (!(error instanceof SpoolError)) throw error;
        return { ok: false, error };
      }
    }),
  );
}
