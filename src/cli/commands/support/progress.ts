/**
 * A progress bar on stderr, drawn only when stderr is a terminal (so logs and pipes stay clean),
 * redrawn at most ten times a second.
 */

/** A running progress bar. */
export interface Progress {
  /** Adds `count` done items. */
  advance(count: number): void;
  /** Erases the bar. */
  done(): void;
}

/** Starts a bar for `total` items labelled `label`; a no-op when stderr is not a TTY or `enabled` is false. */
export function progressBar(label: string, total: number, enabled = true): Progress {
  const stream = process.stderr;
  if (!enabled || !stream.isTTY || total <= 0) return { advance() {}, done() {} };
  const started = Date.now();
  let current = 0;
  let lastDraw = 0;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - lastDraw < 100) return;
    lastDraw = now;
    const ratio = Math.min(1, current / total);
    const width = Math.max(10, Math.min(40, (stream.columns || 80) - label.length - 40));
    const filled = Math.round(ratio * width);
    const rate = current / Math.max(0.001, (now - started) / 1000);
    const line = `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.floor(ratio * 100)}% ${current}/${total} ${Math.round(rate)}/s`;
    stream.write(`\r${line}\x1b[K`);
  };
  draw(true);
  return {
    advance(count) {
      current += count;
      draw(current >= total);
    },
    done() {
      stream.write('\r\x1b[K');
    },
  };
}
