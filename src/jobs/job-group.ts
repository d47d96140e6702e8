/**
 * A job's fairness group (`AddJobOptions.group`, a tenant): every ticket of the job — its first,
 * a retry's, a wake-up's, a promotion's — is sent to the type's ticket queue with that group,
 * so the type's workers start jobs round-robin across groups (the queue's fairness groups).
 *
 * Where it is kept: in the job's metadata under `spool.group`, like `spool.deadline` of workflow
 * runs. Every path that writes or copies a job record (adds, batch adds, retries, start-overs,
 * both stores, the HTTP wire) already carries the metadata, so the group needs no migration of
 * the jobs table, no new record field in either store, and a job added before this existed
 * simply has none. The price: it shows in `metadata` (keys under `spool.` are Spool's), and it
 * cannot be searched by; nothing needs to search jobs by group yet.
 */
import { InvalidArgumentError } from '../core/errors.js';
import type { JsonValue } from '../core/message.js';
import type { JobRecord } from '../store/port.js';

/** The metadata key that holds a job's group. */
export const groupMetadataKey = 'spool.group';

/** Checks an add's `group` (1 to 256 characters), answering it; undefined when there is none. */
export function checkedGroup(group: unknown): string | undefined {
  if (group === undefined) return undefined;
  if (typeof group !== 'string' || group.length === 0 || group.length > 256) {
    throw new InvalidArgumentError('group must be a string of 1 to 256 characters', { field: 'group' });
  }
  return group;
}

/** The metadata of a new job: the caller's, with the group when there is one. */
export function metadataWithGroup(
  metadata: Record<string, JsonValue> | undefined,
  group: unknown,
): Record<string, JsonValue> {
  const checked = checkedGroup(group);
  return checked === undefined ? (metadata ?? {}) : { ...metadata, [groupMetadataKey]: checked };
}

/** The send option that gives a ticket of `job` its group: spread it into the send's options. */
export function ticketGroup(job: Pick<JobRecord, 'metadata'>): { group?: string } {
  // Most jobs have no group: skip the parse when the key cannot be there.
  if (!job.metadata.includes(groupMetadataKey)) return {};
  const group = (JSON.parse(job.metadata) as Record<string, unknown>)[groupMetadataKey];
  return typeof group === 'string' && group.length > 0 && group.length <= 256 ? { group } : {};
}
