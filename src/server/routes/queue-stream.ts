/**
 * Streaming consume: `GET /v1/queues/{name}/stream` upgrades to a WebSocket on which the server
 * pushes leased messages as the consumer grants credit, and the consumer sends its acks, nacks,
 * releases, dead-letters and lease extensions back in batches. One engine {@link LeaseStream}
 * per connection does the work; this file is the framing. docs/streaming.md is the protocol.
 *
 * A bad frame is answered with an `error` frame (a problem+json body) and the connection stays:
 * nothing already leased is lost for a client's mistake. Closing the connection releases every
 * message it held and did not settle, untried.
 */
import type { Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { errorCatalogue, InvalidArgumentError, SpoolError } from '../../core/errors.js';
import type { MessageBody } from '../../core/message.js';
import type { LeaseStream, LeaseStreamEnd, SettleOutcome } from '../../engine/lease-stream.js';
import type { Queue } from '../../engine/queue.js';
import type { Message } from '../../engine/received-message.js';
import type { RouteModule } from '../context.js';
import { HttpError, toProblem } from '../problems.js';
import { QueueParams } from '../schemas/queues.js';
import { ClientFrame, StreamQuery } from '../schemas/queue-stream.js';
import { wireReceivedMessage } from '../wire.js';

const checkFrame = TypeCompiler.Compile(ClientFrame);
/** Each frame type's own checker, to name the first wrong field of a frame of that type. */
const checkByType = new Map(
  ClientFrame.anyOf.map((schema) => [schema.properties.type.const as string, TypeCompiler.Compile(schema)]),
);

/** WebSocket close codes the server uses (4000–4999 are the application's own). */
export const streamCloseCodes = {
  /** The server is shutting down: reconnect (to another instance). */
  goingAway: 1001,
  /** The queue was deleted while the stream was open. */
  queueDeleted: 4404,
  /** Something failed on the server; reconnect. */
  internal: 1011,
} as const;

export const queueStreamRoutes: RouteModule = (app, { handles, closing }) => {
  const sessions = new Set<StreamSession>();
  // Before the engine closes under it: each stream commits the acks it has and releases what
  // its consumer held, so those messages are delivered again at once, not after their leases.
  app.addHook('preClose', async () => {
    await Promise.all([...sessions].map((session) => session.close()));
  });
  app.route({
    method: 'GET',
    url: '/v1/queues/:name/stream',
    schema: {
      operationId: 'streamMessages',
      tags: ['queue messages'],
      summary: 'Streaming consume over a WebSocket: leased messages pushed under credit-based flow control',
      description:
        'Upgrade to a WebSocket (`Authorization: Bearer` as for every route; consume scope). The server answers `{"type":"ready"}`, then pushes `{"type":"messages"}` frames, never more messages than the credit the consumer granted (`{"type":"credit","n":N}` or `?credit=N`). Settle with `ack`, `nack`, `release`, `dead-letter` and `extend` frames carrying a batch of receipts and an `id`; each is answered by a `settled` frame with one result per receipt. A bad frame gets an `error` frame and the connection stays. Closing the connection releases the messages it held untried. The protocol: docs/streaming.md. A queue that does not exist is created with the default configuration, as for a receive. A plain GET (no upgrade) answers 400.',
      params: QueueParams,
      querystring: StreamQuery,
    },
    config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'receiving from' } },
    handler: () => {
      throw new HttpError(
        errorCatalogue.BAD_REQUEST,
        'this route is a WebSocket: open it with "Connection: Upgrade" and "Upgrade: websocket" (see docs/streaming.md), or receive with POST /v1/queues/{name}/receive',
      );
    },
    wsHandler: (socket, request) => {
      const { name } = request.params;
      const { query } = request;
      const session = new StreamSession(socket, request, closing);
      sessions.add(session);
      socket.once('close', () => sessions.delete(session));
      void session.open(query, () => handles.queueOnFirstUse(name));
    },
  });
};

type StreamQueryValues = Static<typeof StreamQuery>;

/** One connection: frames in, frames out, one lease stream. */
class StreamSession {
  #stream: LeaseStream<MessageBody> | undefined;
  /** Frames that arrived while the queue was being opened, handled once it is. */
  #early: string[] | null = [];

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly closing: AbortSignal,
  ) {
    // Listeners first, synchronously: frames may arrive before the queue is open.
    socket.on('message', (data, isBinary) => {
      const text = isBinary ? null : (data as Buffer).toString();
      if (text === null) {
        this.#error(new InvalidArgumentError('frames are JSON text messages, not binary'));
      } else if (this.#early) this.#early.push(text);
      else this.#frame(text);
    });
    socket.on('close', () => void this.#stream?.close());
    socket.on('error', (error) => request.log.debug({ err: error }, 'stream socket error'));
  }

  /** Ends the connection (the server is going away) and resolves once the stream has ended. */
  async close(): Promise<void> {
    this.socket.close(streamCloseCodes.goingAway, 'server shutting down');
    await this.#stream?.close();
  }

  async open(query: StreamQueryValues, queueOf: () => Promise<Queue>): Promise<void> {
    let queue: Queue;
    try {
      queue = await queueOf();
      this.#stream = queue.openLeaseStream({
        ...(query.visibilityMs === undefined ? {} : { visibilityTimeoutMs: query.visibilityMs }),
        deliver: (messages) => this.#deliver(messages),
        onError: (error) => this.request.log.warn({ err: error, queue: queue.name }, 'stream round failed'),
        onEnd: (reason) => this.#ended(reason),
      });
    } catch (error) {
      this.#error(error);
      this.socket.close(streamCloseCodes.internal, 'could not open the queue');
      return;
    }
    const onClosing = () => this.socket.close(streamCloseCodes.goingAway, 'server shutting down');
    if (this.closing.aborted) return onClosing();
    this.closing.addEventListener('abort', onClosing, { once: true });
    this.socket.once('close', () => this.closing.removeEventListener('abort', onClosing));
    if (this.socket.readyState !== this.socket.OPEN) {
      await this.#stream.close();
      return;
    }
    this.#send({
      type: 'ready',
      queue: queue.name,
      visibilityMs: this.#stream.visibilityTimeoutMs,
    });
    if (query.credit) this.#stream.grant(query.credit);
    const early = this.#early ?? [];
    this.#early = null;
    for (const text of early) this.#frame(text);
  }

  #deliver(messages: Message[]): void {
    this.#send({ type: 'messages', messages: messages.map(wireReceivedMessage) });
  }

  #ended(reason: LeaseStreamEnd): void {
    if (reason === 'queue-deleted') this.socket.close(streamCloseCodes.queueDeleted, 'the queue was deleted');
    else if (reason === 'engine-closed')
      this.socket.close(streamCloseCodes.goingAway, 'server shutting down');
  }

  #frame(text: string): void {
    const stream = this.#stream!;
    let frame: unknown;
    try {
      frame = JSON.parse(text);
    } catch {
      return this.#error(
        new InvalidArgumentError('a frame must be one JSON object; this one does not parse'),
      );
    }
    if (!checkFrame.Check(frame)) return this.#error(frameError(frame));
    try {
      switch (frame.type) {
        case 'credit':
          stream.grant(frame.n);
          return;
        case 'ack':
          this.#settled(frame.id, frame.receipts, stream.ack(frame.receipts));
          break;
        case 'nack':
          this.#settled(
            frame.id,
            frame.items.map((item) => item.receipt),
            eachItem(frame.items, async ({ receipt, delayMs, error }) => ({
              outcome: await stream.nack(receipt, {
                ...(delayMs === undefined ? {} : { delayMs }),
                ...(error === undefined ? {} : { error }),
              }),
            })),
          );
          break;
        case 'release':
          this.#settled(
            frame.id,
            frame.items.map((item) => item.receipt),
            eachItem(frame.items, ({ receipt, delayMs }) =>
              stream.release(receipt, delayMs === undefined ? {} : { delayMs }),
            ),
          );
          break;
        case 'dead-letter':
          this.#settled(
            frame.id,
            frame.items.map((item) => item.receipt),
            eachItem(frame.items, ({ receipt, reason }) => stream.deadLetter(receipt, reason)),
          );
          break;
        case 'extend':
          this.#settled(
            frame.id,
            frame.items.map((item) => item.receipt),
            eachItem(frame.items, async ({ receipt, visibilityMs }) => ({
              leaseExpiresAt: new Date(await stream.extend(receipt, visibilityMs)).toISOString(),
            })),
          );
          return;
      }
      // A settle frame may grant credit for the slots it frees, saving a frame per batch.
      if (frame.credit) stream.grant(frame.credit);
    } catch (error) {
      this.#error(error, 'id' in frame ? frame.id : undefined);
    }
  }

  /** Answers a settle frame once its outcomes are known: one result per receipt, in order. */
  #settled(id: number, receipts: readonly string[], outcomes: Promise<SettleOutcome[]>): void {
    outcomes.then(
      (results) =>
        this.#send({
          type: 'settled',
          id,
          results: results.map((result, index) => {
            const receipt = receipts[index]!;
            if (result.ok) {
              const { ok: _ok, ...facts } = result;
              return { receipt, ok: true, ...facts };
            }
            if (!(result.error instanceof SpoolError)) throw result.error;
            return { receipt, ok: false, code: result.error.code, detail: result.error.message };
          }),
        }),
      (error: unknown) => this.#error(error, id),
    );
  }

  #error(error: unknown, id?: number): void {
    const problem = toProblem(error, this.request);
    if (problem.unexpected) this.request.log.error({ err: error }, 'stream frame failed');
    this.#send({ type: 'error', ...(id === undefined ? {} : { id }), problem: problem.body });
  }

  #send(frame: object): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }
}

/** Settles each item on its own: a stale receipt is that item's result, not the frame's failure. */
function eachItem<I>(
  items: readonly I[],
  settle: (item: I) => Promise<object | void>,
): Promise<SettleOutcome[]> {
  return Promise.all(
    items.map(async (item): Promise<SettleOutcome> => {
      try {
        return { ok: true, ...(await settle(item)) };
      } catch (error) {
        if (!(error instanceof SpoolError)) throw error;
        return { ok: false, error };
      }
    }),
  );
}

/** The first schema violation of a frame, as a typed error naming the field. */
function frameError(frame: unknown): InvalidArgumentError {
  const type = (frame as { type?: unknown } | null)?.type;
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) {
    return new InvalidArgumentError('a frame must be a JSON object with a "type"');
  }
  const check = typeof type === 'string' ? checkByType.get(type) : undefined;
  if (check === undefined) {
    const known = [...checkByType.keys()].join(', ');
    return new InvalidArgumentError(`unknown frame type ${JSON.stringify(type)}; expected one of ${known}`, {
      field: 'type',
    });
  }
  const first = check.Errors(frame).First();
  const field = first?.path.replace(/^\//, '').replaceAll('/', '.') || 'frame';
  return new InvalidArgumentError(`${String(type)} frame: ${field} ${first?.message ?? 'is invalid'}`, {
    field,
  });
}
