/**
 * Completion webhooks: a job with a `callbackUrl` gets a Standard Webhooks delivery when it
 * finishes (completed, dead or cancelled). The delivery is sent in the same transaction as the
 * final state, so it exists if and only if that state was committed; the webhooks module then
 * delivers it with retries, signing and the SSRF guard.
 */
import type { JsonValue } from '../core/message.js';
import type { Spool } from '../engine/spool.js';
import type { SpoolTransaction } from '../engine/transaction.js';
import type { JobRecord } from '../store/port.js';
import { Webhooks } from '../webhooks/delivery.js';
import { webhookMessage, webhooksQueue } from '../webhooks/message.js';

/**
 * The start of the webhook ids of job `jobId`'s completion webhooks (each is this and the job's
 * version): what finds a job's deliveries in the delivery log.
 */
export function jobWebhookIdPrefix(jobId: string): string {
  return `${jobId}.`;
}

/** Creates the webhook queue (with its default policy) if no process has yet. */
export async function ensureCallbackQueue(spool: Spool): Promise<void> {
  if (!(await spool.store.getQueue(webhooksQueue))) await new Webhooks(spool).open();
}

/**
 * Sends the completion webhook of a finished job, if it asked for one, as part of `tx`. A webhook
 * that cannot be sent (a URL stored before the add checked it, a full webhook queue) never holds
 * the job's own state change back: it is logged as an error with the job's id, and the job
 * finishes without it.
 */
export async function sendJobCallback(spool: Spool, tx: SpoolTransaction, job: JobRecord): Promise<void> {
  if (!job.callbackUrl) return;
  try {
    await sendCallback(spool, tx, job, job.callbackUrl);
  } catch (error) {
    // The failed send rolled back alone (each transactional write has its own savepoint).
    spool.logger.error(
      { jobId: job.id, jobType: job.type, callbackUrl: job.callbackUrl, err: error },
      'job completion webhook not sent',
    );
  }
}

async function sendCallback(spool: Spool, tx: SpoolTransaction, job: JobRecord, url: string): Promise<void> {
  const { body, options } = webhookMessage(
    {
      url,
      event: `job.${job.status}`,
      payload: {
        id: job.id,
        type: job.type,
        status: job.status,
        attempts: job.attempts,
        result: job.result === null ? null : (JSON.parse(job.result) as JsonValue),
        // Name and message only: a stack tells an outside endpoint about the code, not the job.
        error: job.lastError && { name: job.lastError.name, message: job.lastError.message },
        finishedAt: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
      },
      // The version changes with every state change, so a job retried and finished again gets a
      // new delivery instead of being taken for a duplicate of the first.
      webhookId: `${jobWebhookIdPrefix(job.id)}${job.version}`,
      timestamp: job.updatedAt,
    },
    spool.clock.now(),
  );
  await tx.send(webhooksQueue, body, options);
}
