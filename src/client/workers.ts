/**
 * The workers registry over HTTP: every consumer, subscription, job worker and group member of
 * every process sharing the server's store, with a stale flag for those that stopped
 * heartbeating. `list` is retried after a network error; `remove` is not.
 */
import { segment, type Transport } from './http.js';
import type { WorkerRecord } from './types.js';

export class WorkersClient {
  constructor(private readonly http: Transport) {}

  /** Every registered worker (`GET /v1/workers`; needs `read` or `admin`). */
  async list(): Promise<WorkerRecord[]> {
    const answer = await this.http.call<{ items: WorkerRecord[] }>({
      method: 'GET',
      path: '/v1/workers',
      retryOnNetworkError: true,
    });
    return answer.body.items;
  }

  /**
   * Removes a worker's record (`DELETE /v1/workers/{id}`; needs `admin`): a stale one, typically
   * — a live worker reappears at its next heartbeat. `SPOOL_WORKER_NOT_FOUND` for an unknown id.
   */
  async remove(id: string): Promise<void> {
    await this.http.call({
      method: 'DELETE',
      path: `/v1/workers/${segment(id)}`,
      retryOnNetworkError: false,
    });
  }
}
