/** Number formatting shared by the markdown tables and the charts. */

export function formatNumber(value: number, unit: string): string {
  if (!Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  if (unit === 'msg/s') return Math.round(value).toLocaleString('en-US');
  if (unit === 's') return value >= 100 ? value.toFixed(0) : value.toFixed(2);
  // Latencies: keep two significant decimals below 10 ms, whole numbers above 1 s.
  if (value >= 1000) return Math.round(value).toLocaleString('en-US');
  return value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

export function withUnit(value: number, unit: string): string {
  return `${formatNumber(value, unit)} ${unit}`;
}
