/**
 * The contract fuzzer: reads `/openapi.json` from a running server, generates requests with
 * fast-check (`generate.ts`), sends them from several concurrent workers, and holds every answer
 * to the properties below. Each violation is grouped by a signature (kind, operation, status,
 * code); the first case of each group is replayed by fast-check from its seed and index and
 * shrunk to a smaller request that still shows it.
 *
 * Properties of every answer:
 * - an answer comes (no reset, no hang past the deadline), and within `slowMs` unless the request
 *   asked for a long poll (then within the wait it asked for plus `slowMs`);
 * - no 5xx (the server is never shut down during a run);
 * - every 4xx is `application/problem+json` with `type`, `title`, `status` (= the HTTP status),
 *   `detail` and `code`, `type` derived from `code`, and the whole document matching `Problem`;
 * - `X-Request-Id` on every answer, equal to the problem's `requestId`;
 * - a 2xx status the operation documents, with a JSON body matching the documented schema;
 * - a body with an unknown field or without a required one is never accepted (2xx).
 * Of the run: the server still answers `GET /healthz` 200 at the end, and its heap after GC is
 * back near where it was after the warm-up.
 */
import fc from 'fast-check';
import {
  type Contract,
  isObject,
  type Operation,
  problemTypeOf,
  readContract,
  schemaErrors,
} from './contract.js';
import {
  type Body,
  type FuzzCase,
  fuzzCase,
  pools,
  type RefKind,
  refKindOf,
  type RequestCase,
} from './generate.js';
import { runScenario, type Step, type StepOptions } from './scenarios.js';
import { type Memory, type ServerUnderFuzz, tokens } from './server.js';
import { type Answer, Wire, type WireRequest } from './wire.js';

export interface FuzzOptions {
  /** Requests to send (scenario steps count one each). */
  readonly requests: number;
  readonly seed: number;
  /** Requests in flight at once. @defaultValue 8 */
  readonly concurrency?: number;
  /** An answer slower than this (beyond a long poll's own wait) is a violation. @defaultValue 3000 */
  readonly slowMs?: number;
  /** Requests sent before the start-of-run memory is taken. @defaultValue 10% of `requests`, at most 20000 */
  readonly warmup?: number;
  /** Heap growth (after GC) tolerated over the run: bytes, plus this fraction of the start. */
  readonly heapSlackBytes?: number;
  readonly heapSlackRatio?: number;
  /** Shrink each distinct finding (replaying it with fast-check) for at most this long. @defaultValue 20000 */
  readonly shrinkMs?: number;
  /** Findings to shrink. @defaultValue 12 */
  readonly shrinkFindings?: number;
  /** Progress lines (every `progressEveryMs`). */
  readonly log?: (line: string) => void;
  readonly progressEveryMs?: number;
}

export interface Example {
  /** Replays this case: `--seed <seed> --replay <index>`. */
  readonly index: number;
  readonly mutation: string;
  readonly request: string;
  readonly status: number;
  readonly answer: string;
  readonly ms: number;
  readonly serverLog?: string;
}

export interface Finding {
  readonly kind: string;
  readonly label: string;
  readonly signature: string;
  readonly detail: string;
  count: number;
  readonly first: Example;
  /** The first case, shrunk by fast-check (still showing the finding), when it could be replayed. */
  minimal?: Example;
}

export interface FuzzReport {
  readonly seed: number;
  readonly sent: number;
  readonly byClass: Record<string, number>;
  readonly byStatus: Record<string, number>;
  readonly byLabel: Record<string, Record<string, number>>;
  readonly serverErrors: number;
  readonly nonProblemErrors: number;
  readonly latencyMs: { p50: number; p99: number; max: number; count: number };
  readonly memory: { start?: Memory; end?: Memory; heapGrowth?: number };
  readonly healthy: boolean;
  readonly findings: Finding[];
  readonly durationMs: number;
  readonly rate: number;
}

interface Violation {
  readonly kind: string;
  /** What distinguishes this violation from others of its kind (a code, a reason). */
  readonly key: string;
  readonly detail: string;
}

const chunkSize = 1000;

/** The server's body limit (spool serve's default): larger bodies answer 413. */
const bodyLimit = 1024 * 1024;

/** Finding kinds reported without failing a run: see where each is raised. */
export const advisoryKinds: ReadonlySet<string> = new Set(['oversize-reset']);

type Observer = (
  request: WireRequest,
  answer: Answer,
  violations: readonly Violation[],
  label: string,
) => void;

/** The seed of one chunk of cases: chunk `c` of a run with `seed` is `fc.sample(arb, { seed: chunkSeed(seed, c) })`. */
export function chunkSeed(seed: number, chunk: number): number {
  return (Math.imul(seed ^ 0x5bd1e995, 2654435761) + Math.imul(chunk + 1, 40503)) | 0;
}

/** Values earlier answers returned, for references in later requests. */
class Live {
  readonly #pools = new Map<RefKind, string[]>();
  readonly claimed: { id: string; lease: string }[] = [];

  add(kind: RefKind, value: string): void {
    let pool = this.#pools.get(kind);
    if (!pool) this.#pools.set(kind, (pool = []));
    pool.push(value);
    if (pool.length > 64) pool.shift();
  }

  addClaimed(id: string, lease: string): void {
    this.claimed.push({ id, lease });
    if (this.claimed.length > 64) this.claimed.shift();
  }

  /** The `occurrence`-th reference of `kind` in a request with `seed`. */
  pick(kind: RefKind, seed: number, occurrence: number): string {
    if (kind === 'claimedId' || kind === 'claimedLease') {
      const entry = this.claimed[seed % Math.max(1, this.claimed.length)];
      if (!entry) return kind === 'claimedId' ? '00000000-0000-4000-8000-000000000000' : 'no-lease-yet';
      return kind === 'claimedId' ? entry.id : entry.lease;
    }
    const pool = this.#pools.get(kind) ?? [];
    const value = pool[(seed + occurrence) % Math.max(1, pool.length)];
    if (value !== undefined) return value;
    return kind === 'jobId' ? '00000000-0000-4000-8000-000000000000' : `unknown-${kind}`;
  }

  /** Collects receipts, ids, leases and cursors from a 2xx JSON answer. */
  learn(label: string, value: unknown): void {
    const walk = (node: unknown, depth: number) => {
      if (depth > 6) return;
      if (Array.isArray(node)) {
        for (const item of node.slice(0, 100)) walk(item, depth + 1);
        return;
      }
      if (!isObject(node)) return;
      if (typeof node.receipt === 'string') this.add('receipt', node.receipt);
      if (typeof node.lease === 'string' && isObject(node.job) && typeof node.job.id === 'string') {
        this.addClaimed(node.job.id, node.lease);
      }
      if (typeof node.next === 'string') this.add('cursor', node.next);
      if (typeof node.cursor === 'string') this.add('pollCursor', node.cursor);
      if (typeof node.id === 'string') {
        if (typeof node.type === 'string' && typeof node.status === 'string') this.add('jobId', node.id);
        else if (/queue|Message|DeadLetter|send/i.test(label)) this.add('messageId', node.id);
      }
      for (const item of Object.values(node)) if (typeof item === 'object') walk(item, depth + 1);
    };
    walk(value, 0);
  }
}

function percentEncode(text: string): string {
  try {
    return encodeURIComponent(text);
  } catch {
    // A lone surrogate: encode the bytes Node would send for it.
    return [...Buffer.from(text, 'utf8')]
      .map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)
      .join('');
  }
}

const malformedAuth = [
  'Bearer',
  'Bearer ',
  'Basic Zm9vOmJhcg==',
  'Bearer a b',
  'Token fz',
  `Bearer ${'x'.repeat(5000)}`,
  'Bearer\tfz',
];

/** The run: state shared by the workers. */
export class Fuzzer {
  readonly #server: ServerUnderFuzz;
  readonly #contract: Contract;
  readonly #byId: Map<string, Operation>;
  readonly #arbitrary: fc.Arbitrary<FuzzCase>;
  readonly #wire: Wire;
  readonly #live = new Live();
  readonly #options: Required<Omit<FuzzOptions, 'log' | 'warmup'>> & Pick<FuzzOptions, 'log' | 'warmup'>;
  readonly #findings = new Map<string, Finding>();
  readonly #byClass: Record<string, number> = {};
  readonly #byStatus: Record<string, number> = {};
  readonly #byLabel: Record<string, Record<string, number>> = {};
  readonly #latencies: number[] = [];
  #sent = 0;
  #serverErrors = 0;
  #nonProblem = 0;
  #scenarioCounter = 0;
  #stopping = false;
  #fatal: string | undefined;

  private constructor(server: ServerUnderFuzz, contract: Contract, options: FuzzOptions) {
    this.#server = server;
    this.#contract = contract;
    this.#byId = new Map(contract.operations.map((op) => [op.id, op]));
    this.#arbitrary = fuzzCase(contract);
    this.#options = {
      concurrency: 8,
      slowMs: 3000,
      heapSlackBytes: 24 * 1024 * 1024,
      heapSlackRatio: 0.25,
      shrinkMs: 20_000,
      shrinkFindings: 12,
      progressEveryMs: 10_000,
      ...options,
    };
    this.#wire = new Wire(server.url, this.#options.concurrency + 4);
  }

  /** Reads the contract from the server. */
  static async create(server: ServerUnderFuzz, options: FuzzOptions): Promise<Fuzzer> {
    const response = await fetch(`${server.url}/openapi.json`);
    if (!response.ok) throw new Error(`GET /openapi.json answered ${response.status}`);
    return new Fuzzer(server, readContract(await response.json()), options);
  }

  get operations(): readonly Operation[] {
    return this.#contract.operations;
  }

  /** The `index`-th case of the run (what `--replay` sends). */
  caseAt(index: number): FuzzCase {
    const chunk = Math.floor(index / chunkSize);
    return fc
      .sample(this.#arbitrary, {
        seed: chunkSeed(this.#options.seed, chunk),
        numRuns: (index % chunkSize) + 1,
      })
      .at(-1)!;
  }

  async run(): Promise<FuzzReport> {
    const started = Date.now();
    const options = this.#options;
    const warmup = options.warmup ?? Math.min(20_000, Math.ceil(options.requests / 10));
    await this.#setup();
    let next = 0;
    let chunk = -1;
    let cases: FuzzCase[] = [];
    let memoryStart: Memory | undefined;
    let warming: Promise<void> | undefined;
    let lastProgress = Date.now();
    let lastHealth = 0;
    /** The next case; 'chunk' when its chunk of cases is still to be generated. */
    const take = (): { index: number; item: FuzzCase } | 'chunk' | undefined => {
      if (this.#sent >= options.requests || this.#fatal !== undefined || this.#stopping) return undefined;
      if (Math.floor(next / chunkSize) !== chunk) return 'chunk';
      const index = next++;
      return { index, item: cases[index % chunkSize]! };
    };
    // The warm-up ends with every worker idle, so the start-of-run memory sees no request in flight.
    let gate: Promise<void> = Promise.resolve();
    let warmedUp = warmup === 0;
    let inFlight = 0;
    const drainWaiters: (() => void)[] = [];
    const whenDrained = () =>
      new Promise<void>((done) => {
        if (inFlight === 0) done();
        else drainWaiters.push(done);
      });
    // Generating a chunk blocks this process for seconds: requests in flight meanwhile would be
    // timed as slow answers of the server. So the next chunk is generated with none in flight.
    let generating: Promise<void> | undefined;
    const nextChunk = () =>
      (generating ??= (async () => {
        await whenDrained();
        chunk = Math.floor(next / chunkSize);
        cases = fc.sample(this.#arbitrary, { seed: chunkSeed(options.seed, chunk), numRuns: chunkSize });
      })().finally(() => (generating = undefined)));
    const worker = async () => {
      for (;;) {
        await gate;
        const taken = take();
        if (taken === 'chunk') {
          try {
            await nextChunk();
          } catch (error) {
            this.#fatal ??= `the fuzzer could not generate cases: ${(error as Error).stack ?? String(error)}`;
            return;
          }
          continue;
        }
        if (!taken) return;
        inFlight++;
        try {
          await this.#runCase(taken.index, taken.item);
        } catch (error) {
          this.#fatal ??= `the fuzzer itself failed on case ${taken.index}: ${(error as Error).stack ?? String(error)}`;
        } finally {
          inFlight--;
          if (inFlight === 0) for (const done of drainWaiters.splice(0)) done();
        }
        if (!warmedUp && this.#sent >= warmup) {
          warmedUp = true;
          warming = (async () => {
            await whenDrained();
            await this.#settle();
            memoryStart = await this.#server.memory();
          })();
          gate = warming;
        }
        if (this.#sent - lastHealth >= 2000) {
          lastHealth = this.#sent;
          await this.#checkHealth(false);
          if (this.#sent % 10_000 < 2000) await this.#refill();
        }
        if (options.log && Date.now() - lastProgress >= options.progressEveryMs) {
          lastProgress = Date.now();
          options.log(this.#progressLine(started));
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    if (warmup === 0) memoryStart = undefined;
    await warming;
    await this.#settle();
    const memoryEnd = await this.#server.memory();
    const healthy = await this.#checkHealth(true);
    if (memoryStart && memoryEnd) {
      const allowed = memoryStart.heapUsed * (1 + options.heapSlackRatio) + options.heapSlackBytes;
      if (memoryEnd.heapUsed > allowed) {
        this.#record(
          -1,
          {
            kind: 'memory',
            key: 'heap',
            detail: `heap after GC grew from ${mib(memoryStart.heapUsed)} to ${mib(memoryEnd.heapUsed)} MiB over the run (allowed ${mib(allowed)} MiB)`,
          },
          'run',
          undefined,
          undefined,
          '',
        );
      }
    }
    if (this.#fatal)
      this.#record(-1, { kind: 'fatal', key: 'fatal', detail: this.#fatal }, 'run', undefined, undefined, '');
    await this.#shrinkAll();
    this.#wire.close();
    const sorted = Float64Array.from(this.#latencies).sort();
    const quantile = (q: number) =>
      sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    const durationMs = Date.now() - started;
    return {
      seed: options.seed,
      sent: this.#sent,
      byClass: this.#byClass,
      byStatus: this.#byStatus,
      byLabel: this.#byLabel,
      serverErrors: this.#serverErrors,
      nonProblemErrors: this.#nonProblem,
      latencyMs: {
        p50: round(quantile(0.5)),
        p99: round(quantile(0.99)),
        max: round(sorted.at(-1) ?? 0),
        count: sorted.length,
      },
      memory: {
        ...(memoryStart ? { start: memoryStart } : {}),
        ...(memoryEnd ? { end: memoryEnd } : {}),
        ...(memoryStart && memoryEnd ? { heapGrowth: memoryEnd.heapUsed - memoryStart.heapUsed } : {}),
      },
      healthy,
      findings: [...this.#findings.values()],
      durationMs,
      rate: Math.round((this.#sent / durationMs) * 1000),
    };
  }

  /** Ends the run early: no new case starts, the report covers what was sent. */
  stop(): void {
    this.#stopping = true;
  }

  /** Sends one case as `--replay` does, printing what went and came back. */
  async replay(index: number): Promise<{ item: FuzzCase; lines: string[] }> {
    await this.#setup();
    const item = this.caseAt(index);
    const lines: string[] = [];
    await this.#runCase(index, item, (request, answer, violations) => {
      lines.push(
        describeRequest(this.#server.url, request),
        `-> ${answer.status} ${answer.error ?? ''} ${answer.text.slice(0, 2000)}`,
      );
      for (const violation of violations) lines.push(`   VIOLATION ${violation.kind}: ${violation.detail}`);
    });
    this.#wire.close();
    return { item, lines };
  }

  #progressLine(started: number): string {
    const seconds = (Date.now() - started) / 1000;
    return `fuzz: ${this.#sent} requests in ${seconds.toFixed(0)} s (${Math.round(this.#sent / seconds)}/s), ${JSON.stringify(this.#byClass)}, ${this.#findings.size} distinct findings`;
  }

  /** Lets timers and streams the run started wind down before memory is read. */
  async #settle(): Promise<void> {
    await new Promise((done) => setTimeout(done, 1000));
  }

  async #checkHealth(final: boolean): Promise<boolean> {
    const exited = this.#server.exited();
    if (exited) {
      this.#fatal ??= `${exited}; last log lines:\n${this.#server.tail().slice(-20).join('\n')}`;
      return false;
    }
    const answer = await this.#wire.send({
      method: 'GET',
      target: '/healthz',
      headers: [],
      body: undefined,
      transport: 'http',
      holdMs: 0,
      deadlineMs: 10_000,
      giveUpMs: undefined,
    });
    const ok = answer.status === 200;
    if (!ok) {
      this.#record(
        -1,
        {
          kind: 'unhealthy',
          key: final ? 'end' : 'during',
          detail: `GET /healthz answered ${answer.status} ${answer.error ?? ''} ${answer.text.slice(0, 300)}`,
        },
        'healthz',
        undefined,
        answer,
        '',
      );
    }
    return ok;
  }

  /** Creates the pooled resources valid requests refer to. */
  async #setup(): Promise<void> {
    const admin = async (method: string, path: string, body?: unknown) => {
      const answer = await this.#wire.send(this.#plain(method, path, body));
      if (answer.status >= 300)
        throw new Error(`setup ${method} ${path} answered ${answer.status}: ${answer.text.slice(0, 500)}`);
      this.#live.learn('setup', parse(answer.text));
    };
    for (const queue of pools.queues) {
      await admin(
        'PUT',
        `/v1/queues/${queue}`,
        queue === 'fz.small' ? { maxDepth: 5, maxAttempts: 2 } : { maxAttempts: 3 },
      );
    }
    for (const topic of pools.topics) await admin('PUT', `/v1/topics/${topic}`, { partitions: 4 });
    for (const schedule of pools.schedules) {
      await admin('PUT', `/v1/schedules/${schedule}`, { everyMs: 3_600_000, type: pools.jobTypes[0] });
    }
    await this.#refill();
  }

  /** Puts messages, events and jobs back in the pools (fuzzed requests drain and purge them). */
  async #refill(): Promise<void> {
    const send = async (method: string, path: string, body: unknown) => {
      const answer = await this.#wire.send(this.#plain(method, path, body));
      this.#live.learn('refill', parse(answer.text));
    };
    for (const queue of pools.queues.slice(0, 3)) {
      await send('PUT', `/v1/queues/${queue}`, { maxAttempts: 3 });
      await send('POST', `/v1/queues/${queue}/messages`, {
        messages: Array.from({ length: 5 }, (_, i) => ({ body: { refill: i } })),
      });
      await send('POST', `/v1/queues/${queue}/receive`, { max: 2, waitMs: 0 });
    }
    for (const topic of pools.topics) {
      await send('POST', `/v1/topics/${topic}/events`, {
        events: Array.from({ length: 4 }, (_, i) => ({ body: { refill: i }, key: `k${i}` })),
      });
    }
    for (const type of pools.jobTypes) {
      await send('POST', '/v1/jobs', { type, payload: { refill: true } });
      await send('POST', '/v1/jobs', { type, payload: { refill: true } });
    }
    await send('POST', '/v1/jobs/claim', { types: [...pools.jobTypes], max: 3, waitMs: 0, leaseMs: 600_000 });
  }

  #plain(method: string, path: string, body?: unknown, extraHeaders: [string, string][] = []): WireRequest {
    return {
      method,
      target: path,
      headers: [
        ['authorization', `Bearer ${tokens.all}`],
        ...(body === undefined ? [] : [['content-type', 'application/json'] as [string, string]]),
        ...extraHeaders,
      ],
      body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      transport: 'http',
      holdMs: 200,
      deadlineMs: 20_000,
      giveUpMs: undefined,
    };
  }

  /** Runs one case: a request, or a scenario's steps. `observe` sees every exchange (replay). */
  async #runCase(index: number, item: FuzzCase, observe?: Observer, only?: string): Promise<string[]> {
    const signatures: string[] = [];
    if (item.kind === 'scenario') {
      // Names come back every 100 scenarios: created and deleted resources stay a bounded set, so
      // a long run measures the server, not an ever larger store (a deleted queue's metric series
      // outliving it is reported on its own).
      const id = String(++this.#scenarioCounter % 100);
      const step: Step = async (label, method, path, options: StepOptions = {}) => {
        const request = this.#plain(method, path, options.body, options.headers ?? []);
        const wire: WireRequest =
          options.holdMs === undefined ? request : { ...request, holdMs: options.holdMs };
        const answer = await this.#exchange(index, `${item.label}:${label}`, this.#byId.get(label), wire, {
          mutation: `scenario ${item.name} step ${label}`,
          expect: options.expect ?? '2xx',
          refusedByContract: false,
          allowMs: options.allowMs ?? 0,
          observe,
          signatures,
          only,
        });
        return { status: answer.status, body: parse(answer.text), text: answer.text };
      };
      const complain = (operationId: string, message: string) => {
        const violation: Violation = { kind: 'scenario', key: message.slice(0, 40), detail: message };
        const label = `${item.label}:${operationId}`;
        signatures.push(signatureOf(violation, label, 0));
        if (only === undefined)
          this.#record(index, violation, label, undefined, undefined, `scenario ${item.name}`);
      };
      await runScenario(item, id, step, complain);
      return signatures;
    }
    const op = this.#byId.get(item.label);
    const { request, allowMs } = this.#build(item, op);
    await this.#exchange(
      index,
      item.label,
      item.mode === 'junk' || hasRawTemplateSegment(item, op) ? undefined : op,
      request,
      {
        mutation: item.mutation,
        expect: undefined,
        refusedByContract: /extra field|missing /.test(item.mutation) && !item.mutation.includes('path '),
        allowMs,
        observe,
        signatures,
        only,
      },
    );
    return signatures;
  }

  /** Turns a case into bytes to send, resolving references against what earlier answers returned. */
  #build(item: RequestCase, op: Operation | undefined): { request: WireRequest; allowMs: number } {
    const occurrences = new Map<RefKind, number>();
    const resolve = (text: string): string => {
      const kind = refKindOf(text);
      if (!kind) return text;
      const occurrence = occurrences.get(kind) ?? 0;
      occurrences.set(kind, occurrence + 1);
      return this.#live.pick(kind, item.refSeed, occurrence);
    };
    // References sit near the top of a body; deeper nesting (on purpose) is left as it is.
    const resolveDeep = (value: unknown, depth = 0): unknown => {
      if (typeof value === 'string') return resolve(value);
      if (depth > 8) return value;
      if (Array.isArray(value)) return value.map((item) => resolveDeep(item, depth + 1));
      if (isObject(value)) {
        const out: Record<string, unknown> = {};
        for (const [key, item] of Object.entries(value)) {
          // defineProperty: a "__proto__" member stays a member, as JSON.parse made it.
          Object.defineProperty(out, key, {
            value: resolveDeep(item, depth + 1),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        return out;
      }
      return value;
    };
    const path =
      '/' +
      item.segments
        .map((segment) => (segment.raw ? segment.text : percentEncode(resolve(segment.text))))
        .join('/');
    const query = item.query
      .map(([name, value, raw]) =>
        raw ? `${name}=${value}` : `${percentEncode(name)}=${percentEncode(resolve(value))}`,
      )
      .join('&');
    const headers: [string, string][] = [];
    switch (item.auth) {
      case 'none':
        break;
      case 'invalid':
        headers.push(['authorization', 'Bearer not-a-configured-token']);
        break;
      case 'malformed':
        headers.push(['authorization', malformedAuth[item.refSeed % malformedAuth.length]!]);
        break;
      default:
        headers.push(['authorization', `Bearer ${tokens[item.auth]}`]);
    }
    for (const [name, value] of item.headers) headers.push([name, resolve(value)]);
    const { bytes, contentType, waitMs } = bodyBytes(item.body, resolveDeep);
    if (contentType !== null && contentType !== undefined) headers.push(['content-type', contentType]);
    // A long poll the fuzzer will not wait out is hung up on (and not judged for time).
    const allowMs = typeof waitMs === 'number' && Number.isFinite(waitMs) && waitMs > 0 ? waitMs : 0;
    const longWait = allowMs > 2500;
    const needsRaw =
      /[^\x21-\x7e]/.test(path + query) ||
      headers.some(([, value]) => /[^\t\x20-\x7e]/.test(value)) ||
      // Raw reads the 413 even when the server closes before taking the whole body.
      (bytes?.length ?? 0) > bodyLimit;
    return {
      request: {
        method: item.method,
        target: query === '' ? path : `${path}?${query}`,
        headers,
        body: bytes,
        transport: needsRaw ? 'raw' : item.transport,
        holdMs: op?.streaming ? item.holdMs : Math.max(item.holdMs, 1000),
        deadlineMs: Math.max(10_000, allowMs + 10_000),
        giveUpMs: longWait ? 1000 + (item.refSeed % 1000) : undefined,
      },
      allowMs: longWait ? 0 : allowMs,
    };
  }

  async #exchange(
    index: number,
    label: string,
    op: Operation | undefined,
    request: WireRequest,
    context: {
      mutation: string;
      expect: '2xx' | number | readonly number[] | undefined;
      refusedByContract: boolean;
      allowMs: number;
      observe: Observer | undefined;
      signatures: string[];
      only: string | undefined;
    },
  ): Promise<Answer> {
    const answer = await this.#wire.send(request);
    const violations = this.#judge(op, request, answer, context);
    context.observe?.(request, answer, violations, label);
    for (const violation of violations) context.signatures.push(signatureOf(violation, label, answer.status));
    // A scenario's receipts and leases stay its own: fuzzed requests settling them would change
    // what its next steps must answer.
    if (answer.status >= 200 && answer.status < 300 && !label.startsWith('scenario:')) {
      this.#live.learn(label, parse(answer.text));
    }
    // While shrinking, nothing is counted or recorded: the report is about the run.
    if (context.only !== undefined) return answer;
    this.#sent++;
    const statusClass =
      answer.hungUp && answer.status === 0
        ? 'hung up'
        : answer.status === 0
          ? 'no answer'
          : `${String(answer.status)[0]}xx`;
    this.#byClass[statusClass] = (this.#byClass[statusClass] ?? 0) + 1;
    this.#byStatus[answer.status] = (this.#byStatus[answer.status] ?? 0) + 1;
    const perLabel = (this.#byLabel[label] ??= {});
    perLabel[statusClass] = (perLabel[statusClass] ?? 0) + 1;
    perLabel.ms = (perLabel.ms ?? 0) + Math.round(answer.ms);
    if (!answer.hungUp && context.allowMs === 0 && answer.status !== 0) this.#latencies.push(answer.ms);
    if (answer.status >= 500) this.#serverErrors++;
    if (answer.status >= 400 && violations.some((v) => v.kind === 'not-problem')) this.#nonProblem++;
    for (const violation of violations)
      this.#record(index, violation, label, request, answer, context.mutation);
    return answer;
  }

  #judge(
    op: Operation | undefined,
    request: WireRequest,
    answer: Answer,
    context: {
      expect: '2xx' | number | readonly number[] | undefined;
      refusedByContract: boolean;
      allowMs: number;
    },
  ): Violation[] {
    const violations: Violation[] = [];
    if (answer.hungUp && answer.status === 0) return violations;
    if (answer.error !== undefined) {
      // A server may answer 413 and close before reading an oversized body: the client's write then
      // fails, often before it can read the answer. Noted, not failed.
      const oversize = (request.body?.length ?? 0) > bodyLimit && !answer.error.startsWith('hang');
      const kind = oversize ? 'oversize-reset' : answer.error.startsWith('hang') ? 'hang' : 'no-answer';
      violations.push({ kind, key: answer.error.replace(/:.*/, ''), detail: answer.error });
      return violations;
    }
    const { status } = answer;
    if (!answer.hungUp && answer.ms > this.#options.slowMs + context.allowMs) {
      violations.push({
        kind: 'slow',
        key: '',
        detail: `answered after ${Math.round(answer.ms)} ms (allowed ${this.#options.slowMs + context.allowMs} ms)`,
      });
    }
    const requestId = answer.headers['x-request-id'];
    if (requestId === undefined) {
      violations.push({
        kind: 'request-id',
        key: `missing: ${causeOf(answer.text)}`,
        detail: 'no X-Request-Id header',
      });
    }
    const contentType = answer.headers['content-type'] ?? '';
    if (status >= 500) {
      const body = parse(answer.text);
      const code = isObject(body) && typeof body.code === 'string' ? body.code : '';
      violations.push({ kind: 'server-error', key: code, detail: `${status} ${answer.text.slice(0, 300)}` });
    }
    if (status >= 400) {
      const problem = request.method === 'HEAD' ? undefined : parse(answer.text);
      const missing: string[] = [];
      if (!/^application\/problem\+json/.test(contentType))
        missing.push(`content-type is ${JSON.stringify(contentType)}`);
      if (request.method !== 'HEAD') {
        if (!isObject(problem)) missing.push('the body is not a JSON object');
        else {
          for (const field of ['type', 'title', 'detail', 'code'] as const) {
            if (typeof problem[field] !== 'string') missing.push(`no string ${field}`);
          }
          if (problem.status !== status)
            missing.push(`status member ${JSON.stringify(problem.status)} is not ${status}`);
          if (typeof problem.code === 'string' && !/^SPOOL_[A-Z0-9_]+$/.test(problem.code))
            missing.push(`code ${problem.code} is not a SPOOL_ code`);
          if (typeof problem.code === 'string' && problem.type !== problemTypeOf(problem.code))
            missing.push(`type ${String(problem.type)} does not match code ${problem.code}`);
        }
      }
      if (missing.length > 0) {
        violations.push({
          kind: 'not-problem',
          key: missing[0]!.replace(/ (is|of) .*/, ''),
          detail: `${missing.join('; ')}: ${answer.text.slice(0, 300)}`,
        });
      } else if (isObject(problem)) {
        const errors = schemaErrors(this.#contract, { $ref: '#/components/schemas/Problem' }, problem);
        if (errors.length > 0)
          violations.push({
            kind: 'problem-schema',
            key: errors[0]!.replace(/:.*/, ''),
            detail: errors.slice(0, 5).join('; '),
          });
        if (requestId !== undefined && problem.requestId !== requestId) {
          violations.push({
            kind: 'request-id',
            key: 'mismatch',
            detail: `problem requestId ${String(problem.requestId)} but X-Request-Id ${requestId}`,
          });
        }
      }
    }
    if (status >= 200 && status < 300 && context.refusedByContract) {
      violations.push({
        kind: 'accepted-invalid',
        key: '',
        detail: `answered ${status} to a body with an unknown field or without a required one`,
      });
    }
    if (op && status >= 200 && status < 300 && !answer.hungUp) {
      if (!op.responses.has(String(status)) && !op.responses.has('2XX')) {
        violations.push({
          kind: 'undocumented-status',
          key: '',
          detail: `${status} is not documented for ${op.id} (documented: ${[...op.responses.keys()].join(', ')})`,
        });
      }
      const schema = op.responses.get(String(status));
      if (schema && status !== 204 && request.method !== 'HEAD') {
        const body = parse(answer.text);
        const errors = /json/.test(contentType)
          ? schemaErrors(this.#contract, schema, body)
          : [`content-type ${contentType}, not JSON`];
        if (errors.length > 0)
          violations.push({
            kind: 'response-schema',
            key: errors[0]!.replace(/:.*/, '').replace(/\/\d+/g, '/#'),
            detail: errors.slice(0, 5).join('; '),
          });
      }
    }
    if (op?.streaming && status === 200 && !contentType.startsWith('text/event-stream')) {
      violations.push({
        kind: 'response-schema',
        key: 'stream',
        detail: `a stream answered 200 with content-type ${contentType}`,
      });
    }
    if (context.expect !== undefined) {
      const expected = context.expect;
      const ok = expected === '2xx' ? status >= 200 && status < 300 : [expected].flat().includes(status);
      if (!ok)
        violations.push({
          kind: 'scenario',
          key: String(expected),
          detail: `expected ${String(expected)}, got ${status}: ${answer.text.slice(0, 300)}`,
        });
    }
    return violations;
  }

  #record(
    index: number,
    violation: Violation,
    label: string,
    request: WireRequest | undefined,
    answer: Answer | undefined,
    mutation: string,
  ): void {
    const signature = signatureOf(violation, label, answer?.status ?? 0);
    const existing = this.#findings.get(signature);
    if (existing) {
      existing.count++;
      return;
    }
    this.#options.log?.(
      `new finding: [${violation.kind}] ${label} ${answer?.status ?? ''} ${violation.detail.slice(0, 160)}`,
    );
    this.#findings.set(signature, {
      kind: violation.kind,
      label,
      signature,
      detail: violation.detail,
      count: 1,
      first: this.#example(index, mutation, request, answer),
    });
  }

  #example(
    index: number,
    mutation: string,
    request: WireRequest | undefined,
    answer: Answer | undefined,
  ): Example {
    const requestId = answer?.headers['x-request-id'];
    const serverLog = requestId ? this.#server.logFor(requestId) : undefined;
    return {
      index,
      mutation,
      request: request ? describeRequest(this.#server.url, request) : '',
      status: answer?.status ?? 0,
      answer: answer ? `${answer.error ?? ''}${answer.text.slice(0, 600)}` : '',
      ms: Math.round(answer?.ms ?? 0),
      ...(serverLog ? { serverLog } : {}),
    };
  }

  /** Replays the first case of each finding with fast-check and keeps the smallest that still shows it. */
  async #shrinkAll(): Promise<void> {
    const findings = [...this.#findings.values()]
      // Advisory findings fail nothing, and they are the large cases (an oversized body reset):
      // shrinking them only costs time.
      .filter((finding) => finding.first.index >= 0 && !advisoryKinds.has(finding.kind))
      .slice(0, this.#options.shrinkFindings);
    for (const finding of findings) {
      if (this.#server.exited()) return;
      const until = Date.now() + this.#options.shrinkMs / Math.max(1, findings.length);
      const index = finding.first.index;
      let smallest: Example | undefined;
      let calls = 0;
      await fc.check(
        fc.asyncProperty(this.#arbitrary, async (item) => {
          if (Date.now() > until || calls++ > 300) return true;
          let seen: Example | undefined;
          const signatures = await this.#runCase(
            index,
            item,
            (request, answer, violations, label) => {
              for (const violation of violations) {
                if (signatureOf(violation, label, answer.status) === finding.signature) {
                  seen ??= this.#example(
                    index,
                    item.kind === 'request' ? item.mutation : item.label,
                    request,
                    answer,
                  );
                }
              }
            },
            finding.signature,
          );
          if (seen && signatures.includes(finding.signature)) {
            smallest = seen;
            return false;
          }
          return true;
        }),
        {
          seed: chunkSeed(this.#options.seed, Math.floor(index / chunkSize)),
          path: String(index % chunkSize),
          numRuns: 1,
          // Returning early once the time is up is not enough: fast-check still walks every shrink
          // candidate of a large case (seen: minutes of CPU on a loaded machine), so it is stopped.
          plugins: [fc.interruptAfterTimeLimit(Math.max(1, until - Date.now()))],
        },
      );
      if (smallest) finding.minimal = smallest;
    }
  }
}

/**
 * What makes two violations the same finding. Answers the framework shapes the same way for every
 * route (a missing request id, a problem document gone wrong) group by their cause, not by route;
 * the rest by route, since each handler has its own code.
 */
function signatureOf(violation: Violation, label: string, status: number): string {
  const byCause =
    violation.kind === 'request-id' ||
    violation.kind === 'not-problem' ||
    violation.kind === 'problem-schema';
  return `${violation.kind}|${byCause ? '*' : label}|${status}|${violation.key}`;
}

function hasRawTemplateSegment(item: RequestCase, op: Operation | undefined): boolean {
  if (!op) return true;
  const parts = op.path.split('/').slice(1);
  return (
    item.segments.some((segment, i) => segment.raw && /^\{.+\}$/.test(parts[i] ?? '')) ||
    item.mutation.startsWith('path ')
  );
}

function bodyBytes(
  body: Body,
  resolveDeep: (value: unknown) => unknown,
): { bytes: Buffer | undefined; contentType: string | null | undefined; waitMs?: unknown } {
  switch (body.kind) {
    case 'none':
      return { bytes: undefined, contentType: body.contentType };
    case 'json': {
      const value = resolveDeep(body.value);
      return {
        bytes: Buffer.from(JSON.stringify(value) ?? 'null'),
        contentType: body.contentType,
        waitMs: isObject(value) ? value.waitMs : undefined,
      };
    }
    case 'text':
      return { bytes: Buffer.from(body.text), contentType: body.contentType };
    case 'deep': {
      const open = body.open === '[' ? '[' : '{"a":';
      const close = body.open === '[' ? ']' : '}';
      const nested = `${open.repeat(body.depth)}1${close.repeat(body.depth)}`;
      if (body.at.length === 0) return { bytes: Buffer.from(nested), contentType: 'application/json' };
      const mark = '\u0000deep\u0000';
      const base = (JSON.parse(JSON.stringify(resolveDeep(body.base)) ?? 'null') as unknown) ?? {};
      const text = JSON.stringify(placeAt(isObject(base) ? base : {}, body.at, mark)).replace(
        JSON.stringify(mark),
        nested,
      );
      return { bytes: Buffer.from(text), contentType: 'application/json' };
    }
    case 'huge': {
      const filler = 'x'.repeat(Math.max(0, body.bytes - 20));
      const text =
        body.field === null
          ? JSON.stringify(filler)
          : `{${JSON.stringify(body.field)}:${JSON.stringify(filler)}}`;
      return { bytes: Buffer.from(text), contentType: 'application/json' };
    }
  }
}

/** The gist of a problem's detail (quoted and numeric parts removed), to group answers by cause. */
function causeOf(text: string): string {
  const body = parse(text);
  const detail = isObject(body) && typeof body.detail === 'string' ? body.detail : text.slice(0, 60);
  return detail
    .replace(/'[^']*'|"[^"]*"|\d+/g, '…')
    .replace(/\(HPE_\w+\)/, (code) => code)
    .slice(0, 70);
}

/** Puts `value` at `path` in `root`, making the objects and arrays on the way. */
function placeAt(
  root: Record<string, unknown>,
  path: readonly (string | number)[],
  value: unknown,
): Record<string, unknown> {
  let node: Record<string | number, unknown> = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value;
      return;
    }
    const wantArray = typeof path[i + 1] === 'number';
    const existing = node[key];
    if (wantArray ? !Array.isArray(existing) || existing.length === 0 : !isObject(existing))
      node[key] = wantArray ? [{}] : {};
    node = node[key] as Record<string | number, unknown>;
  });
  return root;
}

function parse(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function mib(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** A request as a reader can replay it: curl when an HTTP client can send it, else the raw bytes. */
export function describeRequest(base: string, request: WireRequest): string {
  const body =
    request.body === undefined
      ? undefined
      : request.body.length > 1500
        ? `<${request.body.length} bytes: ${request.body.subarray(0, 120).toString()}…>`
        : request.body.toString();
  if (request.transport === 'raw') {
    const head = [
      `${request.method} ${request.target} HTTP/1.1`,
      ...request.headers.map(([name, value]) => `${name}: ${value}`),
    ].join('\r\n');
    return `raw bytes to ${base}: ${JSON.stringify(`${head}\r\n\r\n${body ?? ''}`)}`;
  }
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  const parts = ['curl -sS -i -X', request.method, quote(base + request.target)];
  for (const [name, value] of request.headers)
    parts.push(
      '-H',
      quote(`${name}: ${value.length > 300 ? `${value.slice(0, 60)}…(${value.length} chars)` : value}`),
    );
  if (body !== undefined) parts.push('--data-binary', quote(body));
  return parts.join(' ');
}

/** The report as text: the figures the long mode prints, then each finding with its reproduction. */
export function formatReport(report: FuzzReport): string {
  const lines = [
    `seed ${report.seed}: ${report.sent} requests in ${(report.durationMs / 1000).toFixed(1)} s (${report.rate}/s)`,
    `answers by class: ${JSON.stringify(report.byClass)}`,
    `answers by status: ${JSON.stringify(report.byStatus)}`,
    `5xx: ${report.serverErrors}, error answers that are not problem+json: ${report.nonProblemErrors}`,
    `latency (ms, excluding streams and long polls): p50 ${report.latencyMs.p50}, p99 ${report.latencyMs.p99}, max ${report.latencyMs.max}`,
    `server memory: RSS ${report.memory.start ? mib(report.memory.start.rss) : '?'} -> ${report.memory.end ? mib(report.memory.end.rss) : '?'} MiB, heap after GC ${report.memory.start ? mib(report.memory.start.heapUsed) : '?'} -> ${report.memory.end ? mib(report.memory.end.heapUsed) : '?'} MiB`,
    `healthy at the end: ${report.healthy}`,
    `findings: ${report.findings.length}`,
  ];
  for (const finding of report.findings) {
    lines.push('', `[${finding.kind}] ${finding.label} (x${finding.count}): ${finding.detail}`);
    const show = (name: string, example: Example) => {
      lines.push(
        `  ${name} (case ${example.index}${example.mutation ? `, ${example.mutation}` : ''}):`,
        `    ${example.request}`,
        `    -> ${example.status} in ${example.ms} ms: ${example.answer.slice(0, 400)}`,
      );
      if (example.serverLog) lines.push(`    server log: ${example.serverLog.slice(0, 1200)}`);
    };
    show('first', finding.first);
    if (finding.minimal && finding.minimal.request !== finding.first.request) show('shrunk', finding.minimal);
  }
  return lines.join('\n');
}
