/** Types of `ensure-built.mjs`, so TypeScript tests can call it. */

/**
 * Runs `npm run build` if dist/ is missing or older than its sources; false if the build failed.
 * Progress goes to stderr, prefixed with `label` (default `spool`).
 */
export declare function ensureBuilt(label?: string): boolean;
