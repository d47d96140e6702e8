/**
 * A raw client of the streaming protocol (docs/streaming.md), as a client in another language
 * would write one: frames in arrival order, and a way to wait for the next of a type.
 */
import WebSocket from 'ws';

export interface Frame {
  type: string;
  [field: string]: unknown;
}
export interface WireMessage {
  id: string;
  receipt: string;
  body: unknown;
  attempt: number;
}

/** A raw protocol client: frames in arrival order, and a way to wait for the next of a type. */
export class RawStream {
  readonly frames: Frame[] = [];
  #waiters: { type: string; resolve: (frame: Frame) => void }[] = [];
  closed: Promise<{ code: number; reason: string }>;

  constructor(readonly socket: WebSocket) {
    socket.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Frame;
      const waiter = this.#waiters.find((w) => w.type === frame.type);
      if (waiter) {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        waiter.resolve(frame);
      } else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  static open(url: string, path: string, headers: Record<string, string> = {}): Promise<RawStream> {
    const socket = new WebSocket(url.replace(/^http/, 'ws') + path, { headers });
    const stream = new RawStream(socket);
    return new Promise((resolve, reject) => {
      socket.once('open', () => resolve(stream));
      socket.once('unexpected-response', (request, response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          request.destroy();
          reject(
            Object.assign(new Error(`upgrade refused: ${response.statusCode}`), {
              status: response.statusCode,
              body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
            }),
          );
        });
      });
    });
  }

  /** The next frame of `type` (one already received, or the next to arrive). */
  next(type: string, timeoutMs = 5000): Promise<Frame> {
    const index = this.frames.findIndex((frame) => frame.type === type);
    if (index >= 0) return Promise.resolve(this.frames.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${type} frame within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({
        type,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      });
    });
  }

  /** Messages until `count` have arrived. */
  async messages(count: number): Promise<WireMessage[]> {
    const all: WireMessage[] = [];
    while (all.length < count) all.push(...((await this.next('messages')).messages as WireMessage[]));
    return all;
  }

  send(frame: object): void {
    this.socket.send(JSON.stringify(frame));
  }
}
