/**
 * Sending fuzz requests. Two transports: Node's HTTP client on keep-alive connections (most
 * requests), and raw bytes on a socket for what no client would send — bytes above 0x7F in the
 * path or a header, control characters, a method with a space. Either way the answer is read
 * with a deadline: a stream (text/event-stream) is read for the case's hold time and hung up on;
 * a request that asked for a long poll past what the fuzzer waits for is hung up on too, and
 * counts as given up, not as a hang.
 */
import http from 'node:http';
import net from 'node:net';

export interface WireRequest {
  readonly method: string;
  /** Path and query as sent on the request line. */
  readonly target: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer | undefined;
  readonly transport: 'http' | 'raw';
  /** Read a stream this long, then hang up. */
  readonly holdMs: number;
  /** An answer later than this is a hang (ms). */
  readonly deadlineMs: number;
  /** Hang up after this long without counting a hang (a long poll longer than the fuzzer waits). */
  readonly giveUpMs: number | undefined;
}

export interface Answer {
  /** 0 when no answer came (see `error`). */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly text: string;
  readonly ms: number;
  /** A socket error or reset before an answer, or `hang` past the deadline. */
  readonly error?: string;
  /** The fuzzer hung up on purpose: a stream it read long enough, a long poll it gave up on. */
  readonly hungUp?: boolean;
  readonly via: 'http' | 'raw';
}

/** Answers are kept whole up to this size (a stats document or a page of messages can be large). */
const maxText = 8 * 1024 * 1024;

export class Wire {
  readonly #agent: http.Agent;
  readonly #host: string;
  readonly #port: number;

  constructor(base: string, sockets: number) {
    const url = new URL(base);
    this.#host = url.hostname;
    this.#port = Number(url.port);
    this.#agent = new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
  }

  close(): void {
    this.#agent.destroy();
  }

  async send(request: WireRequest): Promise<Answer> {
    if (request.transport === 'http') {
      try {
        return await this.#http(request);
      } catch (error) {
        // The client refuses what it cannot send (a bad header value or path): send it raw.
        if (!(error instanceof ClientRefused)) throw error;
      }
    }
    return this.#raw(request);
  }

  #http(request: WireRequest): Promise<Answer> {
    const started = performance.now();
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of request.headers) {
      const existing = headers[name];
      headers[name] = existing === undefined ? value : [existing, value].flat();
    }
    if (request.body !== undefined) headers['content-length'] = String(request.body.length);
    let req: http.ClientRequest;
    try {
      req = http.request({
        host: this.#host,
        port: this.#port,
        method: request.method,
        path: request.target,
        headers,
        agent: this.#agent,
        setHost: true,
      });
    } catch (error) {
      return Promise.reject(new ClientRefused(String(error)));
    }
    return new Promise<Answer>((resolve) => {
      let settled = false;
      let status = 0;
      let answerHeaders: Record<string, string> = {};
      const chunks: Buffer[] = [];
      let size = 0;
      const finish = (extra: Partial<Answer>) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearTimeout(hold);
        resolve({
          status,
          headers: answerHeaders,
          text: Buffer.concat(chunks).toString('utf8'),
          ms: performance.now() - started,
          via: 'http',
          ...extra,
        });
      };
      const limit = Math.min(request.deadlineMs, request.giveUpMs ?? Infinity);
      const deadline = setTimeout(() => {
        const gaveUp = request.giveUpMs !== undefined && request.giveUpMs <= request.deadlineMs;
        finish(
          gaveUp ? { hungUp: true } : { error: status === 0 ? 'hang: no answer' : 'hang: body never ended' },
        );
        req.destroy();
      }, limit);
      let hold: NodeJS.Timeout | undefined;
      req.on('response', (res) => {
        status = res.statusCode ?? 0;
        answerHeaders = flatten(res.headers);
        if ((answerHeaders['content-type'] ?? '').startsWith('text/event-stream')) {
          hold = setTimeout(() => {
            finish({ hungUp: true });
            req.destroy();
          }, request.holdMs);
        }
        res.on('data', (chunk: Buffer) => {
          if (size < maxText) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => finish({}));
        res.on('error', (error) => finish({ error: `answer broke off: ${error.message}` }));
      });
      req.on('error', (error: Error & { code?: string }) => {
        if (settled) return;
        finish({ error: `${error.code ?? 'error'}: ${error.message}` });
      });
      if (request.body !== undefined) req.end(request.body);
      else req.end();
    });
  }

  /** Writes the request bytes with `Connection: close` and reads until the server ends. */
  #raw(request: WireRequest): Promise<Answer> {
    const started = performance.now();
    const lines = [
      `${request.method} ${request.target} HTTP/1.1`,
      `Host: ${this.#host}:${this.#port}`,
      'Connection: close',
    ];
    for (const [name, value] of request.headers) lines.push(`${name}: ${value}`);
    if (request.body !== undefined) lines.push(`Content-Length: ${request.body.length}`);
    const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
    const bytes = request.body === undefined ? head : Buffer.concat([head, request.body]);
    return new Promise<Answer>((resolve) => {
      const socket = net.connect({ host: this.#host, port: this.#port });
      const chunks: Buffer[] = [];
      let settled = false;
      let streaming = false;
      const finish = (extra: Partial<Answer>) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        socket.destroy();
        const parsed = parseRaw(Buffer.concat(chunks));
        resolve({ ...parsed, ms: performance.now() - started, via: 'raw', ...extra });
      };
      const limit = Math.min(request.deadlineMs, request.giveUpMs ?? Infinity);
      const deadline = setTimeout(() => {
        const gaveUp = request.giveUpMs !== undefined && request.giveUpMs <= request.deadlineMs;
        finish(
          gaveUp
            ? { hungUp: true }
            : { error: chunks.length === 0 ? 'hang: no answer' : 'hang: body never ended' },
        );
      }, limit);
      socket.on('connect', () => socket.write(bytes));
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (
          !streaming &&
          /content-type:\s*text\/event-stream/i.test(Buffer.concat(chunks).toString('latin1'))
        ) {
          streaming = true;
          setTimeout(() => finish({ hungUp: true }), request.holdMs);
        }
      });
      socket.on('end', () => finish({}));
      socket.on('close', () => finish({}));
      socket.on('error', (error: Error & { code?: string }) => {
        // A reset after a complete answer is how some servers end; judge what was read.
        if (chunks.length > 0) finish({});
        else finish({ error: `${error.code ?? 'error'}: ${error.message}` });
      });
    });
  }
}

class ClientRefused extends Error {}

function flatten(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** Status, headers and body of a raw HTTP/1.1 answer (content-length, chunked, or until close). */
function parseRaw(all: Buffer): Pick<Answer, 'status' | 'headers' | 'text'> & { error?: string } {
  let bytes = all;
  // Interim answers (100 Continue) come before the real one.
  while (/^HTTP\/1\.[01] 1\d\d /.test(bytes.subarray(0, 16).toString('latin1'))) {
    const interimEnd = bytes.indexOf('\r\n\r\n');
    if (interimEnd < 0) break;
    bytes = bytes.subarray(interimEnd + 4);
  }
  const end = bytes.indexOf('\r\n\r\n');
  if (end < 0)
    return bytes.length === 0
      ? { status: 0, headers: {}, text: '', error: 'closed without an answer' }
      : { status: 0, headers: {}, text: bytes.toString('latin1').slice(0, 500), error: 'not an HTTP answer' };
  const [statusLine = '', ...headerLines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
    }
  }
  let body = bytes.subarray(end + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) body = dechunk(body);
  else if (headers['content-length'] !== undefined)
    body = body.subarray(0, Number(headers['content-length']));
  return { status: match ? Number(match[1]) : 0, headers, text: body.subarray(0, maxText).toString('utf8') };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < body.length) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
