/**
 * Reserved names: the queues and topics Spool keeps for itself. Names starting with `spool.` are
 * the engine's and its layers' own (`spool.events`, the events log; `spool.webhooks`, webhook
 * deliveries; `spool.webhook-deliveries` and `spool.webhook-endpoints`, the delivery log and the
 * endpoint states), and `jobs.<type>` is the queue of each job type, whose messages only the jobs
 * layer may add, lease or remove — a message taken from it by hand leaves its job stuck.
 *
 * The rule, for every door (the HTTP server, the CLI): a reserved name may be read — its
 * configuration, stats, messages, events, dead letters and group lag — and its dead letters
 * redriven or purged by an operator; everything else (create, reconfigure, delete, purge, send,
 * receive or settle, publish, consumer-group membership and seeking) is refused with
 * `ReservedNameError` (403 `SPOOL_RESERVED_NAME`).
 *
 * The engine applies it itself where no layer of Spool needs the operation: `deleteQueue`,
 * `deleteTopic` and `Queue.purge` refuse reserved names for every caller. The operations Spool's
 * own layers perform on these names through the same engine calls (create and configure, send,
 * publish, receive) cannot tell an outside caller from an inside one, so the doors check them
 * with {@link assertNotReserved} before calling the engine.
 */
import { ReservedNameError } from '../core/errors.js';

/** The prefix of the job types' queues: `jobs.<type>`. */
export const jobQueuePrefix = 'jobs.';

/** The prefixes of reserved names. */
export const reservedNamePrefixes: readonly string[] = Object.freeze(['spool.', jobQueuePrefix]);

/** True for the names of Spool's own queues and topics (see the module notes). */
export function isReservedName(name: string): boolean {
  return reservedNamePrefixes.some((prefix) => name.startsWith(prefix));
}

/**
 * Throws `ReservedNameError` when `name` is reserved. `action` says what is refused, before the
 * name: `'deleting'`, `'sending to'`.
 */
export function assertNotReserved(kind: 'queue' | 'topic', name: string, action: string): void {
  if (isReservedName(name)) throw new ReservedNameError(kind, name, action);
}
