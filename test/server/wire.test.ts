// The consume stream's `messages` frame splices each stored JSON body into the frame's text
// instead of parsing and serialising it again: the text must be the same JSON as serialising
// the wire objects, for every kind of body.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { openSpool } from '../../src/open-spool.js';
import { wireMessagesFrame, wireReceivedMessage } from '../../src/server/wire.js';

describe('wire: the messages frame', () => {
  it('is the JSON of the wire messages, for JSON bodies of every shape and for bytes', async () => {
    const spool = await openSpool({ path: ':memory:' });
    try {
      const queue = await spool.queue('frames');
      const bodies = [
        { to: 'ada@example.com', n: 1.5, nested: { list: [1, 'two', null, true] } },
        'a "quoted" string with \\ backslash, \n newline, 🦄 and \u2028',
        0,
        null,
        [],
        new Uint8Array([0, 1, 254, 255]),
      ];
      await queue.sendBatch(bodies.map((body, i) => ({ body, key: `k${i}`, headers: { trace: 'x' } })));
      const messages = await queue.receive({ max: 10 });
      assert.equal(messages.length, bodies.length);
      const frame = wireMessagesFrame(messages);
      const expected = { type: 'messages', messages: messages.map(wireReceivedMessage) };
      assert.deepEqual(JSON.parse(frame), JSON.parse(JSON.stringify(expected)));
      assert.deepEqual(
        (JSON.parse(frame) as { messages: { body?: unknown }[] }).messages.map((m) => m.body),
        [...bodies.slice(0, 5), undefined],
      );
    } finally {
      await spool.close();
    }
  });
});
