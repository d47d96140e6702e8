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
import type { FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import { errorCatalogue } from '../../core/errors.js';
import type { MessageBody } from '../../core/message.js';
import type { LeaseStream, LeaseStreamEnd } from '../../engine/lease-stream.js';
import type { Queue } from '../../engine/queue.js';
import type { WorkerHandle, Workers } from '../../engine/workers.js';
import type { Message } from '../../engine/received-message.js';
import type { RouteModule } from '../context.js';
import { HttpError } from '../problems.js';
import { QueueParams } from '../schemas/queues.js';
import { ClientFrame, StreamQuery } from '../schemas/queue-stream.js';
import { eachItem, FrameChecker, FrameSocket, streamCloseCodes } from '../stream-socket.js';
import { wireMessagesFrame } from '../wire.js';

const frames = new FrameChecker(ClientFrame);

export const queueStreamRoutes: RouteModule = (app, { spool, handles, closing }) => {
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
      const session = new StreamSession(socket, request, closing, spool.workers);
      sessions.add(session);
      socket.once('close', () => sessions.delete(session));
      void session.open(query, () => handles.queueOnFirstUse(name));
    },
  });
};

type StreamQueryValues = Static<typeof StreamQuery>;

/** One connection: frames in, frames out, one lease stream. */
class StreamSession {
  readonly #frames: FrameSocket<ClientFrame>;
  #stream: LeaseStream<MessageBody> | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly request: FastifyRequest,
    private readonly closing: AbortSignal,
    private readonly workers: Workers,
    private readonly log: FastifyRequest['log'] = request.log,
  ) {
    this.#frames = new FrameSocket(socket, request, frames);
    socket.on('close', () => {
      void this.#worker?.close();
      void this.#stream?.close();
    });
  }

  #worker: WorkerHandle | undefined;

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
        onError: (error) => this.log.warn({ err: error, queue: queue.name }, 'stream round failed'),
        onEnd: (reason) => this.#ended(reason),
      });
    } catch (error) {
      this.#frames.error(error);
      this.socket.close(streamCloseCodes.internal, 'could not open the queue');
      return;
    }
    const onClosing = () => this.socket.close(streamCloseCodes.goingAway, 'server shutting down');
    if (this.closing.aborted) return onClosing();
    this.closing.addEventListener('abort', onClosing, { once: true });
    this.socket.once('close', () => this.closing.removeEventListener('abort', onClosing));
    if (!this.#frames.open) {
      await this.#stream.close();
      return;
    }
    this.#frames.send({ type: 'ready', queue: queue.name, visibilityMs: this.#stream.visibilityTimeoutMs });
    const stream = this.#stream;
    // In the workers registry while connected: what it holds, and its window (held + credit).
    this.#worker = this.workers.register({
      kind: 'stream-consumer',
      serves: { queue: queue.name },
      concurrency: 0,
      host: query.host ?? this.request.ip,
      pid: query.pid ?? 0,
      stats: () => ({
        inFlight: stream.held,
        processed: stream.settled,
        concurrency: stream.held + stream.credit,
      }),
    });
    if (query.credit) this.#stream.grant(query.credit);
    this.#frames.ready((frame) => this.#frame(stream, frame));
  }

  #deliver(messages: Message[]): void {
    this.#frames.sendText(wireMessagesFrame(messages));
  }

  #ended(reason: LeaseStreamEnd): void {
    if (reason === 'queue-deleted') this.socket.close(streamCloseCodes.queueDeleted, 'the queue was deleted');
    else if (reason === 'engine-closed')
      this.socket.close(streamCloseCodes.goingAway, 'server shutting down');
  }

  #frame(stream: LeaseStream<MessageBody>, frame: ClientFrame): void {
    const receipts = 'items' in frame ? frame.items.map((item) => item.receipt) : [];
    switch (frame.type) {
      case 'credit':
        stream.grant(frame.n);
        return;
      case 'ack':
        this.#frames.settled(frame.id, 'receipt', frame.receipts, stream.ack(frame.receipts));
        break;
      case 'nack':
        this.#frames.settled(
          frame.id,
          'receipt',
          receipts,
          eachItem(frame.items, async ({ receipt, delayMs, error }) => ({
            outcome: await stream.nack(receipt, {
              ...(delayMs === undefined ? {} : { delayMs }),
              ...(error === undefined ? {} : { error }),
            }),
          })),
        );
        break;
      case 'release':
        this.#frames.settled(
          frame.id,
          'receipt',
          receipts,
          eachItem(frame.items, ({ receipt, delayMs }) =>
            stream.release(receipt, delayMs === undefined ? {} : { delayMs }),
          ),
        );
        break;
      case 'dead-letter':
        this.#frames.settled(
          frame.id,
          'receipt',
          receipts,
          eachItem(frame.items, ({ receipt, reason }) => stream.deadLetter(receipt, reason)),
        );
        break;
      case 'extend':
        this.#frames.settled(
          frame.id,
          'receipt',
          receipts,
          eachItem(frame.items, async ({ receipt, visibilityMs }) => ({
            leaseExpiresAt: new Date(await stream.extend(receipt, visibilityMs)).toISOString(),
          })),
        );
        return;
    }
    // A settle frame may grant credit for the slots it frees, saving a frame per batch.
    if (frame.credit) stream.grant(frame.credit);
  }
}
