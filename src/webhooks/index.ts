/**
 * Webhooks: Standard Webhooks 1.0 signing and verification, SSRF-guarded delivery on a Spool
 * queue with retries, a delivery log, endpoint disabling on 410, dead-lettering and redrive.
 */
export { Webhooks, type WebhooksOptions, type EnqueuedWebhook } from './delivery.js';
export { webhookMessage, webhooksQueue, type WebhookInput, type WebhookMessage } from './message.js';
export {
  webhookDeliveriesTopic,
  type DeliveryAttempt,
  type LoggedDeliveryAttempt,
  type DeliveryOutcome,
  type DeliveryQuery,
  type DeliveryPage,
} from './delivery-log.js';
export { webhookEndpointsTopic, type DisabledEndpoint } from './endpoints.js';
export {
  sign,
  verify,
  generateSecret,
  webhookHeaders,
  WebhookVerificationError,
  type SignInput,
  type VerifyOptions,
  type VerifiedWebhook,
  type HeaderSource,
  type WebhookHeaders,
  type VerificationFailure,
} from './signature.js';
export {
  AddressGuard,
  BlockedAddressError,
  type AddressGuardOptions,
  type Resolver,
} from './address-guard.js';
export { classifyAddress, type AddressCategory } from './address-ranges.js';
export { WebhookTimeoutError } from './http-client.js';
