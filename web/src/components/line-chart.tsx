/**
 * A small SVG line chart for live series. The drawing is `role="img"` with a sentence that says
 * what it shows (current, lowest and highest values); a table with the same numbers follows for
 * screen readers. Gaps (null) break the line rather than pretending a value.
 */
export interface Series {
  readonly label: string;
  /** One value per time; null where unknown. */
  readonly values: readonly (number | null)[];
  /** CSS class giving the line its colour: series-1, series-2, … */
  readonly tone: string;
}

export interface LineChartProps {
  readonly title: string;
  /** Epoch ms of each value. */
  readonly times: readonly number[];
  readonly series: readonly Series[];
  readonly format: (value: number) => string;
  /**
   * The longest time span the x axis covers, ending at the last time. A shorter history is
   * shown over at least a minute, so a fresh page does not squeeze its points to one edge.
   */
  readonly windowMs: number;
}

const width = 600;
const height = 140;

interface Summary {
  readonly label: string;
  readonly now: number | null;
  readonly min: number | null;
  readonly max: number | null;
}

function summarize(series: Series): Summary {
  const known = series.values.filter((value): value is number => value !== null && Number.isFinite(value));
  return {
    label: series.label,
    // The latest known value: one missing sample should not blank the legend.
    now: series.values.findLast((value) => value !== null) ?? null,
    min: known.length === 0 ? null : Math.min(...known),
    max: known.length === 0 ? null : Math.max(...known),
  };
}

/** A round upper bound for the y axis: 1, 2, 2.5 or 5 times a power of ten. */
function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

function path(
  times: readonly number[],
  values: readonly (number | null)[],
  start: number,
  top: number,
): string {
  let d = '';
  let drawing = false;
  values.forEach((value, index) => {
    const t = times[index];
    if (value === null || t === undefined || !Number.isFinite(value)) {
      drawing = false;
      return;
    }
    const x = ((t - start) / (times.at(-1)! - start || 1)) * width;
    const y = height - (value / top) * height;
    d += `${drawing ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`;
    drawing = true;
  });
  return d;
}

export function LineChart({ title, times, series, format, windowMs }: LineChartProps) {
  const summaries = series.map(summarize);
  const top = niceCeiling(Math.max(0, ...summaries.map((summary) => summary.max ?? 0)));
  const end = times.at(-1) ?? Date.now();
  const span = Math.min(windowMs, Math.max(60_000, end - (times[0] ?? end)));
  const start = end - span;
  const show = (value: number | null) => (value === null ? 'unknown' : format(value));
  const description =
    times.length < 2
      ? `${title}: waiting for data`
      : `${title} over the last ${span < 90_000 ? 'minute' : `${Math.round(span / 60_000)} minutes`}. ` +
        summaries
          .map(
            (summary) =>
              `${summary.label}: now ${show(summary.now)}, low ${show(summary.min)}, high ${show(summary.max)}`,
          )
          .join('; ');
  return (
    <figure class="chart">
      <figcaption>
        <span class="chart-title">{title}</span>
        <span class="chart-legend" aria-hidden="true">
          {summaries.map((summary, index) => (
            <span key={summary.label} class={`legend ${series[index]!.tone}`}>
              {summary.label} <b>{summary.now === null ? '–' : format(summary.now)}</b>
            </span>
          ))}
        </span>
      </figcaption>
      <div class="chart-plot">
        <span class="chart-axis top" aria-hidden="true">
          {format(top)}
        </span>
        <span class="chart-axis bottom" aria-hidden="true">
          0
        </span>
        <svg
          viewBox={`0 0 ${width} ${height}`}
          preserveAspectRatio="none"
          role="img"
          aria-label={description}
        >
          <line class="grid" x1="0" x2={width} y1={height / 2} y2={height / 2} />
          <line class="grid" x1="0" x2={width} y1={height} y2={height} />
          {series.map((line) => (
            <path
              key={line.label}
              class={`line ${line.tone}`}
              d={path([start, ...times], [null, ...line.values], start, top)}
              vector-effect="non-scaling-stroke"
            />
          ))}
        </svg>
      </div>
      <table class="visually-hidden">
        <caption>{title}</caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col">Now</th>
            <th scope="col">Lowest</th>
            <th scope="col">Highest</th>
          </tr>
        </thead>
        <tbody>
          {summaries.map((summary) => (
            <tr key={summary.label}>
              <th scope="row">{summary.label}</th>
              <td>{show(summary.now)}</td>
              <td>{show(summary.min)}</td>
              <td>{show(summary.max)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
