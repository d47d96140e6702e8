/**
 * The message path of a queue: send (one or a batch), receive under a lease (long poll), and
 * settle by receipt — ack, nack, release, dead-letter, extend — one receipt or a batch of them.
 *
 * A send batch is all or nothing (the engine stores it in one write). Settling a batch is not:
 * each receipt is its own lease, so the answer says per receipt what happened.
 */
import { Type } from '@sinclair/typebox';
import { InvalidArgumentError, SpoolError, StaleReceiptError } from '../../core/errors.js';
import { type RouteModule, startLongPoll } from '../context.js';
import { NoContent } from '../schemas/common.js';
import {
  AckBody,
  DeadLetterBody,
  ExtendBody,
  ExtendResult,
  IdempotencyHeaders,
  NackBody,
  QueueParams,
  ReceiveBody,
  receiveDefaults,
  ReceiveResponse,
  ReleaseBody,
  SendBody,
  SendResponse,
  SettleResults,
} from '../schemas/queues.js';
import { fromWireMessage, wireReceivedMessage } from '../wire.js';

const tags = ['queue messages'];

export const queueMessageRoutes: RouteModule = (app, { handles, closing }) => {
  app.post(
    '/v1/queues/:name/messages',
    {
      schema: {
        operationId: 'sendMessages',
        tags,
        summary: 'Send one message, or a batch stored all or nothing',
        description:
          'Answers once the messages are durably stored: 201 with `{ id, duplicate }` for one message (200 when it was a duplicate by dedupId and nothing was stored), or 201 with `{ results }` in order for a batch. A batch is all or nothing: if any message is invalid or the queue cannot take them all, nothing is stored. A full queue (maxDepth) answers 429 with Retry-After. `Idempotency-Key` on a single message is its dedupId. A queue that does not exist is created with the default configuration (unless the server runs with --no-auto-create, then 404; names under `spool.` and `jobs.` are never created this way).',
        params: QueueParams,
        headers: IdempotencyHeaders,
        body: SendBody,
        response: { 200: SendResponse, 201: SendResponse },
      },
      config: { access: 'produce', refuseReserved: { kind: 'queue', action: 'sending to' } },
    },
    async (request, reply) => {
      const queue = await handles.queueOnFirstUse(request.params.name);
      const idempotencyKey = request.headers['idempotency-key'];
      const { body } = request;
      if ('messages' in body) {
        if (idempotencyKey !== undefined) {
          throw new InvalidArgumentError(
            'Idempotency-Key names one message: give each message of a batch its own dedupId instead',
            {
              errors: [{ in: 'headers', field: 'idempotency-key', message: 'is not accepted with a batch' }],
            },
          );
        }
        const results = await queue.sendBatch(
          body.messages.map((message, index) => fromWireMessage(message, `messages.${index}`)),
        );
        return reply.code(201).send({ results });
      }
      if (idempotencyKey !== undefined && body.dedupId !== undefined && body.dedupId !== idempotencyKey) {
        throw new InvalidArgumentError(
          'Idempotency-Key and dedupId differ: give one of them, or the same value',
          {
            errors: [{ in: 'body', field: 'dedupId', message: 'differs from the Idempotency-Key header' }],
          },
        );
      }
      const [result] = await queue.sendBatch([
        fromWireMessage({ ...body, dedupId: body.dedupId ?? idempotencyKey }),
      ]);
      return reply.code(result!.duplicate ? 200 : 201).send(result!);
    },
  );

  app.post(
    '/v1/queues/:name/receive',
    {
      schema: {
        operationId: 'receiveMessages',
        tags,
        summary: 'Lease up to max messages, waiting up to waitMs for one (long poll)',
        description:
          'Each message comes with a receipt: ack it when done, nack it when it failed, release it to hand it back untried, or extend the lease. A message not settled before its lease ends is delivered again with attempt + 1. The wait ends early, with what there is, when the server shuts down; if the client disconnects, messages leased for it are released at once (as untried: their attempt count does not rise). A queue that does not exist is created with the default configuration, as for a send (404 with --no-auto-create).',
        params: QueueParams,
        body: ReceiveBody,
        response: { 200: ReceiveResponse },
      },
      config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'receiving from' } },
    },
    async (request, reply) => {
      const queue = await handles.queueOnFirstUse(request.params.name);
      const { max = receiveDefaults.max, waitMs = receiveDefaults.waitMs, visibilityMs } = request.body;
      const poll = waitMs > 0 ? startLongPoll(reply, closing) : undefined;
      const messages = await queue.receive({
        max,
        waitMs,
        signal: poll?.signal,
        ...(visibilityMs === undefined ? {} : { visibilityTimeoutMs: visibilityMs }),
      });
      if (poll?.abandoned && messages.length > 0) {
        // Nobody will read this answer: hand the messages back now rather than after their lease,
        // untried (a nack would count an attempt, and dead-letter a message on its last one).
        // A release that fails leaves the lease to expire, which redelivers them too.
        const released = await Promise.allSettled(messages.map((message) => message.release()));
        request.log.info(
          { queue: queue.name, released: released.filter((r) => r.status === 'fulfilled').length },
          'client left a long poll; released its messages',
        );
      }
      return { messages: messages.map(wireReceivedMessage) };
    },
  );

  app.post(
    '/v1/queues/:name/ack',
    {
      schema: {
        operationId: 'ackMessages',
        tags,
        summary: 'Acknowledge: the work is done, delete the message',
        description:
          '`{ receipt }` answers 204, or 409 (SPOOL_STALE_RECEIPT) if the lease was lost. `{ receipts: [...] }` answers 200 with one result per receipt: each is settled on its own, so some may fail while others succeed.',
        params: QueueParams,
        body: AckBody,
        response: { 200: SettleResults, 204: NoContent },
      },
      config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'acknowledging messages of' } },
    },
    async (request, reply) => {
      const queue = await handles.queue(request.params.name);
      const { body } = request;
      if ('receipt' in body) {
        await queue.ack(body.receipt);
        return reply.code(204).send(null);
      }
      // One store write for the batch; each receipt is still its own lease with its own result.
      const stale = new Set(await queue.ackMany(body.receipts));
      return {
        results: body.receipts.map((receipt) => {
          if (!stale.has(receipt)) return { receipt, ok: true };
          const error = new StaleReceiptError(queue.name, receipt);
          return { receipt, ok: false, code: error.code, detail: error.message };
        }),
      };
    },
  );

  app.post(
    '/v1/queues/:name/nack',
    {
      schema: {
        operationId: 'nackMessages',
        tags,
        summary:
          'The delivery failed: retry the message after delayMs, or dead-letter it after its last attempt',
        description:
          "Ends the lease and counts the delivery as a failed attempt; `error` is added to the message's errors. If it was the message's last allowed attempt (`attempt` has reached the queue's maxAttempts), the message is moved to the dead-letter queue with `error` as its last error (`Nacked` when none is given); otherwise it is delivered again after delayMs with attempt + 1. To hand a message back without using up an attempt, release it instead. One receipt answers 204 (409 if stale); a batch answers 200 with one result per receipt.",
        params: QueueParams,
        body: NackBody,
        response: { 200: SettleResults, 204: NoContent },
      },
      config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'nacking messages of' } },
    },
    async (request, reply) => {
      const queue = await handles.queue(request.params.name);
      const { body } = request;
      const options = { delayMs: body.delayMs, error: body.error };
      if ('receipt' in body) {
        await queue.nack(body.receipt, options);
        return reply.code(204).send(null);
      }
      return {
        results: await settleEach(body.receipts, async (receipt) => {
          await queue.nack(receipt, options);
        }),
      };
    },
  );

  app.post(
    '/v1/queues/:name/release',
    {
      schema: {
        operationId: 'releaseMessages',
        tags,
        summary: 'Hand a message back untried: it is delivered again after delayMs with the same attempt',
        description:
          'Ends the lease without counting the delivery as an attempt: the message is delivered again after delayMs with the same `attempt`, and a release never dead-letters it. For a consumer that took more than it can handle now (shutting down, overloaded); a failed delivery is a nack. One receipt answers 204 (409 if stale); a batch answers 200 with one result per receipt.',
        params: QueueParams,
        body: ReleaseBody,
        response: { 200: SettleResults, 204: NoContent },
      },
      config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'releasing messages of' } },
    },
    async (request, reply) => {
      const queue = await handles.queue(request.params.name);
      const { body } = request;
      const options = { delayMs: body.delayMs };
      if ('receipt' in body) {
        await queue.release(body.receipt, options);
        return reply.code(204).send(null);
      }
      return {
        results: await settleEach(body.receipts, async (receipt) => queue.release(receipt, options)),
      };
    },
  );

  app.post(
    '/v1/queues/:name/dead-letter',
    {
      schema: {
        operationId: 'deadLetterMessages',
        tags,
        summary: 'Give up on a message: move it to the dead-letter queue',
        description:
          'Use it for messages that can never succeed, or after the last attempt. One receipt answers 204 (409 if stale); a batch answers 200 with one result per receipt.',
        params: QueueParams,
        body: DeadLetterBody,
        response: { 200: SettleResults, 204: NoContent },
      },
      config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'dead-lettering messages of' } },
    },
    async (request, reply) => {
      const queue = await handles.queue(request.params.name);
      const { body } = request;
      if ('receipt' in body) {
        await queue.deadLetter(body.receipt, body.reason);
        return reply.code(204).send(null);
      }
      return {
        results: await settleEach(body.receipts, async (receipt) => queue.deadLetter(receipt, body.reason)),
      };
    },
  );

  app.post(
    '/v1/queues/:name/extend',
    {
      schema: {
        operationId: 'extendLeases',
        tags,
        summary: 'Keep a lease: it now ends visibilityMs from now',
        description:
          'One receipt answers 200 with the new leaseExpiresAt (409 if the lease was lost); a batch answers 200 with one result per receipt.',
        params: QueueParams,
        body: ExtendBody,
        response: { 200: Type.Union([ExtendResult, SettleResults]) },
      },
      config: { access: 'consume', refuseReserved: { kind: 'queue', action: 'extending leases on' } },
    },
    async (request) => {
      const queue = await handles.queue(request.params.name);
      const { body } = request;
      const extend = async (receipt: string) => ({
        leaseExpiresAt: new Date(await queue.extend(receipt, body.visibilityMs)).toISOString(),
      });
      if ('receipt' in body) return extend(body.receipt);
      return { results: await settleEach(body.receipts, extend) };
    },
  );
};

/**
 * Settles each receipt on its own and reports per receipt. Engine errors (a stale receipt) are
 * results; anything else is a server failure and fails the request.
 */
function settleEach(
  receipts: readonly string[],
  settle: (receipt: string) => Promise<object | void>,
): Promise<Array<{ receipt: string; ok: boolean; code?: string; detail?: string }>> {
  return Promise.all(
    receipts.map(async (receipt) => {
      try {
        return { receipt, ok: true, ...(await settle(receipt)) };
      } catch (error) {
        if (!(error instanceof SpoolError)) throw error;
        return { receipt, ok: false, code: error.code, detail: error.message };
      }
    }),
  );
}
