/** Types of `build-dashboard.mjs`, so TypeScript tests can call the build. */

/** Where the bundle goes unless told otherwise: `dist/dashboard/` of the checkout. */
export declare const defaultDashboardDir: string;

export interface BuildDashboardOptions {
  /** @defaultValue {@link defaultDashboardDir} */
  outDir?: string;
  /** No minification, inline source maps. @defaultValue false */
  dev?: boolean;
}

/** Bundles the dashboard (web/) into `outDir`: hashed JS and CSS, then index.html. */
export declare function buildDashboard(
  options?: BuildDashboardOptions,
): Promise<{ outDir: string; files: string[] }>;
