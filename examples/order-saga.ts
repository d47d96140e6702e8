// Order processing as a saga: reserve inventory → charge the payment → create the shipment.
// A declined payment releases the reservation (a compensation); a worker that crashes mid-way
// is replaced and the order goes on from its last completed step, without charging twice.
// Run: npx tsx examples/order-saga.ts
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Jobs, NonRetryableError, openSpool, Workflows } from '../src/index.js'; // in your app: 'spool'

interface Order {
  orderId: string;
  sku: string;
  card: string;
}

// The outside world: every call is logged, so we can count what really happened.
const [role = 'main', dir = mkdtempSync(join(tmpdir(), 'spool-order-saga-'))] = process.argv.slice(2);
const world = join(dir, 'world.log');
const call = (what: string): string => {
  appendFileSync(world, `${what}\n`);
  return what;
};

const spool = await openSpool({ path: join(dir, 'spool.db') });
const jobs = new Jobs(spool);
const workflows = new Workflows(jobs);

workflows.define<Order>(
  'order',
  async (ctx, order) => {
    const reservation = await ctx.step('reserve', () => call(`reserve ${order.sku} for ${order.orderId}`), {
      compensate: () => call(`release ${order.sku} for ${order.orderId}`),
    });
    const charge = await ctx.step(
      'charge',
      () => {
        if (order.card === 'declined') throw new NonRetryableError('card declined');
        return call(`charge ${order.card} for ${order.orderId}`);
      },
      { compensate: () => call(`refund ${order.card} for ${order.orderId}`) },
    );
    const shipment = await ctx.step('ship', () => {
      // The first worker dies here, after the charge was recorded: the SIGKILL of a real crash.
      if (role === 'crashing-worker') process.kill(process.pid, 'SIGKILL');
      return call(`ship ${order.sku} for ${order.orderId}`);
    });
    return { reservation, charge, shipment };
  },
  { leaseMs: 1_000 }, // a crashed worker's run resumes elsewhere after at most a second
);

if (role === 'crashing-worker') {
  await jobs.start(); // runs order o-1 until it kills itself in `ship`
  await new Promise(() => undefined);
}

// 1. A worker in another process takes order o-1 and crashes after charging it.
const first = await workflows.start(
  'order',
  { orderId: 'o-1', sku: 'lamp', card: 'visa-4242' },
  { key: 'o-1' },
);
const worker = spawn(
  process.execPath,
  ['--import', 'tsx', fileURLToPath(import.meta.url), 'crashing-worker', dir],
  {
    stdio: 'inherit',
  },
);
const [, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
  worker.on('exit', (code, sig) => resolve([code, sig])),
);
console.log(`worker process ended by ${signal}; order o-1 is ${(await workflows.get(first.id)).status}`);

// 2. This process takes over: o-1 resumes at `ship`; o-2's card is declined.
await jobs.start();
const second = await workflows.start(
  'order',
  { orderId: 'o-2', sku: 'desk', card: 'declined' },
  { key: 'o-2' },
);
for (const id of [first.id, second.id]) {
  const run = await workflows.wait(id, { timeoutMs: 15_000 });
  console.log(`order ${(run.input as unknown as Order).orderId}: ${run.status}`);
  for (const step of run.steps) console.log(`  ${step.id}: ${step.status} after ${step.attempts} attempt(s)`);
}

const calls = readFileSync(world, 'utf8').trim().split('\n');
console.log('what happened in the world:');
for (const line of calls) console.log(`  ${line}`);
console.log(
  `o-1 charged ${calls.filter((line) => line.startsWith('charge') && line.endsWith('o-1')).length} time(s)`,
);

await jobs.close();
await spool.close();
if (process.argv[3] === undefined) rmSync(dir, { recursive: true, force: true });
