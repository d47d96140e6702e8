// Queue basics: send (with dedup and delay), process with retries, dead letters and redrive.
// Run: npx tsx examples/queue-basics.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NonRetryableError, openSpool, type Message } from '../src/index.js'; // in your app: 'spool'

interface Email {
  to: string;
  subject: string;
}

const dir = mkdtempSync(join(tmpdir(), 'spool-queue-basics-'));
const spool = await openSpool({ path: join(dir, 'spool.db') });

// Up to 3 deliveries per message; retries wait 100 ms, 200 ms, … (no jitter, to keep the demo short).
const emails = await spool.queue<Email>('emails', {
  maxAttempts: 3,
  backoff: { baseMs: 100, capMs: 5_000, jitter: 'none' },
});

// A dedup id makes a retried send harmless: the second one stores nothing.
const first = await emails.send({ to: 'ada@example.com', subject: 'Welcome' }, { dedupId: 'welcome/ada' });
const again = await emails.send({ to: 'ada@example.com', subject: 'Welcome' }, { dedupId: 'welcome/ada' });
console.log(`dedup: duplicate=${again.duplicate}, same id=${again.id === first.id}`);

await emails.send({ to: 'bob@example.com', subject: 'Your trial ends soon' }, { delayMs: 300 }); // later
await emails.send({ to: 'flaky@example.com', subject: 'Receipt' }); // fails once, then succeeds
await emails.send({ to: 'nobody@invalid', subject: 'Receipt' }); // can never succeed

// The handler: resolve = done (acked), throw = retried with backoff, NonRetryableError = dead letter.
let settled = 0;
let allSettled!: () => void;
const finished = new Promise<void>((resolve) => (allSettled = resolve));
const settle = () => {
  if (++settled === 4) allSettled(); // 3 sent + 1 dead-lettered (the duplicate was never stored)
};

const consumer = emails.process(
  (message: Message<Email>) => {
    const { to, subject } = message.body;
    if (to.endsWith('@invalid')) throw new NonRetryableError(`no such domain: ${to}`);
    if (to.startsWith('flaky') && message.attempt === 1) throw new Error('SMTP timeout');
    console.log(`sent "${subject}" to ${to} (attempt ${message.attempt})`);
    settle();
  },
  {
    concurrency: 4,
    onError: (error, message) => console.log(`  attempt ${message?.attempt} failed: ${String(error)}`),
    onDeadLetter: (message) => {
      console.log(`  dead-lettered message to ${message.body.to}`);
      settle();
    },
  },
);
await finished; // a running consumer keeps the process alive until it is closed
await consumer.close(); // finishes in-flight handlers, then stops

// Inspect the dead-letter queue, then move its messages back once the cause is fixed.
const { items } = await emails.listDeadLetters();
for (const letter of items) {
  const last = letter.errors.at(-1);
  console.log(`DLQ: ${letter.body.to} after ${letter.attempts} attempt(s): ${last?.name}: ${last?.message}`);
}
console.log(`redriven: ${await emails.redrive()}`);
console.log('stats:', await emails.stats());

await spool.close();
rmSync(dir, { recursive: true, force: true });
