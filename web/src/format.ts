/** How numbers, durations and times read on screen: short, and the same everywhere. */

const counts = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const decimals = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });
const fine = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 3 });

export function formatCount(value: number | null | undefined): string {
  return value === null || value === undefined ? '–' : counts.format(value);
}

/** A per-second rate: "12.5/s", "0.2/s". */
export function formatRate(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  return `${value >= 100 ? counts.format(value) : value >= 1 ? decimals.format(value) : fine.format(value)}/s`;
}

/** A duration in seconds: "850 µs", "12 ms", "1.5 s", "3 min 20 s", "2 h 5 min", "3 d 4 h". */
export function formatSeconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (value < 0.001) return `${fine.format(value * 1e6)} µs`;
  if (value < 1) return `${fine.format(value * 1000)} ms`;
  if (value < 60) return `${decimals.format(value)} s`;
  const minutes = Math.floor(value / 60);
  if (minutes < 60) return `${minutes} min ${Math.floor(value % 60)} s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });

/** A time as the operator's locale writes it; today's times without the date. */
export function formatTime(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toDateString() === new Date().toDateString() ? timeOnly.format(date) : dateTime.format(date);
}

export function formatFullTime(iso: string | number): string {
  return dateTime.format(new Date(iso));
}

/** "in 4 s", "3 min ago". */
export function formatRelative(iso: string | number, now = Date.now()): string {
  const seconds = (new Date(iso).getTime() - now) / 1000;
  if (Math.abs(seconds) < 1) return 'now';
  const text =
    Math.abs(seconds) < 60
      ? `${Math.round(Math.abs(seconds))} s`
      : formatSeconds(Math.abs(seconds)).replace(/ \d+ (s|min|h)$/, '');
  return seconds > 0 ? `in ${text}` : `${text} ago`;
}

/** A JSON value on one line, cut to `max` characters. */
export function preview(value: unknown, max = 80): string {
  const text = value === undefined ? '' : (JSON.stringify(value) ?? '');
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${counts.format(count)} ${count === 1 ? one : many}`;
}

/** The value of an `<input type="datetime-local">` for an ISO time (local time, to the second). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/** The ISO time of an `<input type="datetime-local">` value; empty when blank or invalid. */
export function fromLocalInput(value: string): string {
  if (value === '') return '';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? '' : date.toISOString();
}
