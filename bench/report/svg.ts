/**
 * Hand-written SVG bar charts, one per scenario: a horizontal bar per system at its median, a
 * whisker from min to max, the value printed at the bar's end, Spool in one colour and the
 * anchors in another. No dependencies; the files are small and diff well.
 */
import type { BenchResults, ScenarioId } from '../results.js';
import { scenarioById } from '../scenarios/index.js';
import { formatNumber } from './format.js';
import { spread } from './stats.js';

const width = 820;
const labelWidth = 250;
const valueWidth = 110;
const barHeight = 20;
const rowGap = 8;
const top = 56;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Row {
  readonly label: string;
  readonly spool: boolean;
  readonly median?: number;
  readonly min?: number;
  readonly max?: number;
  readonly missing?: string;
}

/** The chart of one scenario, or undefined when no system has a figure for it. */
export function scenarioChart(results: BenchResults, scenarioId: ScenarioId): string | undefined {
  const scenario = scenarioById(scenarioId)!;
  const rows: Row[] = [];
  for (const system of results.systems) {
    const outcome = system.scenarios.find((s) => s.scenario === scenarioId);
    if (system.skipped !== undefined) continue;
    if (!outcome) continue;
    if (outcome.runs.length === 0) {
      rows.push({
        label: system.label,
        spool: system.spool,
        missing: outcome.unsupported ? 'n/a' : 'failed',
      });
      continue;
    }
    const s = spread(outcome.runs.map((run) => run.value));
    rows.push({ label: system.label, spool: system.spool, median: s.median, min: s.min, max: s.max });
  }
  if (!rows.some((row) => row.median !== undefined)) return undefined;
  const plotWidth = width - labelWidth - valueWidth - 20;
  const scale = chooseScale(rows, plotWidth);
  const x = (value: number) => labelWidth + scale.position(value);
  const height = top + rows.length * (barHeight + rowGap) + 30;
  const direction = scenario.better === 'higher' ? 'higher is better' : 'lower is better';
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#111">${escape(scenario.title)}</text>`,
    `<text x="12" y="42" fill="#555">${escape(`${scenario.unit}, ${direction}${scale.log ? ', logarithmic scale' : ''}; median of ${results.counts.repetitions} run(s), whisker min–max; ${results.mode} mode`)}</text>`,
  ];
  rows.forEach((row, i) => {
    const y = top + i * (barHeight + rowGap);
    const middle = y + barHeight / 2 + 4;
    parts.push(
      `<text x="${labelWidth - 8}" y="${middle}" text-anchor="end" fill="#111">${escape(row.label)}</text>`,
    );
    if (row.median === undefined) {
      parts.push(`<text x="${labelWidth + 4}" y="${middle}" fill="#888">${row.missing}</text>`);
      return;
    }
    const colour = row.spool ? '#2f6fdf' : '#9aa3ad';
    parts.push(
      `<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(row.median) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${colour}" rx="2"/>`,
    );
    if (row.min !== undefined && row.max !== undefined && row.max > row.min) {
      const wy = y + barHeight / 2;
      parts.push(
        `<line x1="${x(row.min).toFixed(1)}" y1="${wy}" x2="${x(row.max).toFixed(1)}" y2="${wy}" stroke="#222" stroke-width="1.2"/>`,
        `<line x1="${x(row.min).toFixed(1)}" y1="${wy - 5}" x2="${x(row.min).toFixed(1)}" y2="${wy + 5}" stroke="#222" stroke-width="1.2"/>`,
        `<line x1="${x(row.max).toFixed(1)}" y1="${wy - 5}" x2="${x(row.max).toFixed(1)}" y2="${wy + 5}" stroke="#222" stroke-width="1.2"/>`,
      );
    }
    const labelX = Math.max(x(row.median), x(row.max ?? row.median)) + 6;
    parts.push(
      `<text x="${labelX.toFixed(1)}" y="${middle}" fill="#111">${escape(formatNumber(row.median, scenario.unit))}</text>`,
    );
  });
  const axisY = top + rows.length * (barHeight + rowGap) + 4;
  parts.push(`<line x1="${labelWidth}" y1="${top - 4}" x2="${labelWidth}" y2="${axisY}" stroke="#333"/>`);
  for (const tick of scale.ticks) {
    const tx = x(tick);
    parts.push(
      `<line x1="${tx.toFixed(1)}" y1="${axisY}" x2="${tx.toFixed(1)}" y2="${axisY + 4}" stroke="#333"/>`,
      `<text x="${tx.toFixed(1)}" y="${axisY + 16}" text-anchor="middle" fill="#555">${escape(formatNumber(tick, scenario.unit))}</text>`,
    );
  }
  parts.push(
    `<rect x="${width - 200}" y="12" width="10" height="10" fill="#2f6fdf"/><text x="${width - 185}" y="21" fill="#333">Spool</text>`,
    `<rect x="${width - 135}" y="12" width="10" height="10" fill="#9aa3ad"/><text x="${width - 120}" y="21" fill="#333">other systems</text>`,
    '</svg>',
  );
  return parts.join('\n') + '\n';
}

interface Scale {
  readonly log: boolean;
  /** Pixels from the axis for a value. */
  position(value: number): number;
  readonly ticks: readonly number[];
}

/**
 * Linear from 0 normally; logarithmic when the medians span more than two decades (latencies
 * from 1 ms to 10 s), where a linear axis would squash every fast system into one pixel.
 */
function chooseScale(rows: readonly Row[], plotWidth: number): Scale {
  const values = rows.flatMap((row) => (row.median === undefined ? [] : [row.min!, row.max!, row.median]));
  const high = Math.max(...values) * 1.05 || 1;
  const positive = values.filter((v) => v > 0);
  const low = positive.length > 0 ? Math.min(...positive) : high;
  if (high / low <= 100) {
    const step = niceStep(high / 4);
    const ticks = Array.from({ length: Math.floor(high / step) + 1 }, (_, i) => i * step);
    return { log: false, position: (value) => (value / high) * plotWidth, ticks };
  }
  const from = Math.floor(Math.log10(low));
  const to = Math.log10(high);
  const ticks = Array.from({ length: Math.floor(to) - from + 1 }, (_, i) => 10 ** (from + i));
  return {
    log: true,
    position: (value) =>
      (Math.max(0, Math.log10(Math.max(value, 10 ** from)) - from) / (to - from)) * plotWidth,
    ticks,
  };
}

/** 1, 2 or 5 times a power of ten, at least `raw`. */
function niceStep(raw: number): number {
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const factor of [1, 2, 5, 10]) if (factor * power >= raw) return factor * power;
  return 10 * power;
}
