/** Schemas of a job type's rate limit budget (`GET /v1/jobs/types/{type}/rate-limit`). */
import { Type } from '@sinclair/typebox';

export const RateBudgetQuery = Type.Object(
  {
    key: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        description:
          "A job key: its own budget when the limit is perKey (ignored otherwise: the type's one bucket)",
      }),
    ),
  },
  { additionalProperties: false },
);

const rateLimitHeaders = {
  'RateLimit-Policy': {
    type: 'string',
    description:
      'IETF draft-ietf-httpapi-ratelimit-headers: `"<type>/globalRateLimit";q=<limit>;w=<interval, whole seconds>` (`;pk=:<base64 of the key>:` for a key\'s bucket)',
  },
  RateLimit: {
    type: 'string',
    description:
      '`"<type>/globalRateLimit";r=<remaining>;t=<seconds until more than r may start>` (and the same `pk`)',
  },
} as const;

const Ms = (description: string) => Type.Integer({ minimum: 0, description });

export const RateBudget = Type.Object(
  {
    type: Type.String(),
    key: Type.Union([Type.String(), Type.Null()], {
      description: "The job key whose bucket this is (perKey); null for the type's one bucket",
    }),
    limit: Type.Integer({
      minimum: 1,
      description: 'Starts allowed per intervalMs (and at once, from full)',
    }),
    intervalMs: Type.Integer({ minimum: 1 }),
    perKey: Type.Boolean({ description: 'Each job key has a bucket of its own' }),
    remaining: Type.Integer({ minimum: 0, description: 'Jobs that may start at once now, in every process' }),
    nextTokenMs: Ms(
      'Until one more may start after `remaining` have: within it, no more than `remaining` start',
    ),
    resetMs: Ms('Until the budget is back at `limit` if nothing starts (0: it is)'),
  },
  {
    description:
      "The budget of a job type's globalRateLimit (a token bucket in the store), read without taking from it",
    headers: rateLimitHeaders,
  },
);

/** Documents the headers a claim that came back empty because of a limit answers with. */
export const claimLimitHeaders = {
  'Retry-After': {
    type: 'string',
    description:
      'Only when no job was claimed because a limit held the jobs found back: seconds until it lets one start',
  },
  'RateLimit-Policy': {
    type: 'string',
    description:
      'With Retry-After: the limit, `"<type>/<option>";q=<limit>` with `;w=<seconds>` for a rate limit or `;qu="concurrent-requests"` for a concurrency limit, and `;pk=:<base64 of the key>:` for a per-key one',
  },
  RateLimit: {
    type: 'string',
    description: 'With Retry-After: `"<type>/<option>";r=0;t=<seconds until it lets one start>`',
  },
} as const;
