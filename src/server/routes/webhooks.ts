/**
 * Webhook operations: the delivery log (every attempt, with its status and outcome) and the
 * endpoints disabled by a 410 answer, which an operator can enable again. Pending and
 * dead-lettered deliveries themselves are messages of the `spool.webhooks` queue: browse and
 * redrive them with the queue routes.
 */
import { InvalidArgumentError } from '../../core/errors.js';
import { jobWebhookIdPrefix } from '../../jobs/job-callbacks.js';
import type { LoggedDeliveryAttempt } from '../../webhooks/delivery-log.js';
import type { DisabledEndpoint } from '../../webhooks/endpoints.js';
import type { RouteModule } from '../context.js';
import { defaultPageLimit } from '../schemas/common.js';
import {
  DeliveryPage,
  DeliveryQuery,
  DisabledEndpointList,
  EnableEndpointBody,
  EnableEndpointResponse,
} from '../schemas/webhooks.js';

const tags = ['webhooks'];

export const webhookRoutes: RouteModule = (app, { webhooks }) => {
  app.get(
    '/v1/webhooks/deliveries',
    {
      schema: {
        operationId: 'listWebhookDeliveries',
        tags,
        summary: 'The delivery log: logged attempts matching the filters, oldest first',
        description:
          'Each call scans a bounded part of the log, so a filter that matches rarely can answer a short page with a `next` cursor: keep following it until `next` is null.',
        querystring: DeliveryQuery,
        response: { 200: DeliveryPage },
      },
      config: { access: ['read', 'admin'] },
    },
    async (request) => {
      const {
        webhookId,
        jobId,
        since,
        url,
        event,
        outcome,
        cursor,
        limit = defaultPageLimit,
      } = request.query;
      const page = await webhooks.listDeliveries({
        ...(webhookId === undefined ? {} : { webhookId }),
        ...(jobId === undefined ? {} : { webhookIdPrefix: jobWebhookIdPrefix(jobId) }),
        ...(since === undefined ? {} : { since: Date.parse(since) }),
        ...(url === undefined ? {} : { url }),
        ...(event === undefined ? {} : { event }),
        ...(outcome === undefined ? {} : { outcome }),
        ...(cursor === undefined ? {} : { cursor: parseCursor(cursor) }),
        limit,
      });
      return { items: page.items.map(wireAttempt), next: page.next === null ? null : String(page.next) };
    },
  );

  app.get(
    '/v1/webhooks/endpoints/disabled',
    {
      schema: {
        operationId: 'listDisabledWebhookEndpoints',
        tags,
        summary: 'Endpoints disabled because they answered 410 Gone',
        response: { 200: DisabledEndpointList },
      },
      config: { access: ['read', 'admin'] },
    },
    async () => ({ items: (await webhooks.disabledEndpoints()).map(wireEndpoint) }),
  );

  app.post(
    '/v1/webhooks/endpoints/enable',
    {
      schema: {
        operationId: 'enableWebhookEndpoint',
        tags,
        summary: 'Enable a disabled endpoint; `enabled: false` when it was not disabled',
        description:
          'Deliveries skipped while it was disabled are dead letters of the `spool.webhooks` queue: redrive them (`POST /v1/queues/spool.webhooks/redrive`) to send them again.',
        body: EnableEndpointBody,
        response: { 200: EnableEndpointResponse },
      },
      config: { access: 'admin' },
    },
    async (request) => {
      const { url } = request.body;
      assertHttpUrl(url);
      return { url, enabled: await webhooks.enableEndpoint(url) };
    },
  );
};

function parseCursor(cursor: string): number {
  const offset = Number(cursor);
  if (!Number.isSafeInteger(offset)) {
    throw new InvalidArgumentError('cursor must be the `next` of a previous page', { field: 'cursor' });
  }
  return offset;
}

function assertHttpUrl(url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new InvalidArgumentError('url must be an absolute http or https URL', { field: 'url' });
  }
}

function wireAttempt(attempt: LoggedDeliveryAttempt) {
  return { ...attempt, at: new Date(attempt.at).toISOString() };
}

function wireEndpoint(endpoint: DisabledEndpoint) {
  return { ...endpoint, at: new Date(endpoint.at).toISOString() };
}
