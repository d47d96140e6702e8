/**
 * Preloaded into the `spool serve` process the fuzzer starts (`--expose-gc --import`): on SIGUSR2
 * it collects garbage and writes `process.memoryUsage()` to `SPOOL_FUZZ_PROBE_FILE`, so the
 * fuzzer can compare the server's heap after GC (and its RSS) before and after a run.
 */
import { writeFileSync } from 'node:fs';

const file = process.env.SPOOL_FUZZ_PROBE_FILE;
if (file) {
  let sequence = 0;
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    writeFileSync(file, JSON.stringify({ sequence: ++sequence, ...process.memoryUsage() }));
  });
}
