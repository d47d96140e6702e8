/**
 * The fenced code blocks of a markdown page, with the `doc-test` directives written right before
 * them as HTML comments (invisible on the rendered page):
 *
 * - `<!-- doc-test: skip — reason -->` — not run (a TypeScript block is still type-checked).
 * - `<!-- doc-test: serve -->` — the block starts a server and runs until stopped: it must print
 *   "listening on <url>", answer `/healthz`, and stop cleanly on SIGTERM.
 * - `<!-- doc-test: before` … `-->` and `<!-- doc-test: after` … `-->` — code run before and after
 *   the block, in the same program or shell (definitions the page leaves to the reader, such as
 *   `sendMail`; closing what the block opened; checking the state the text promises).
 * - `<!-- doc-test: stdout /regex/flags -->`, `<!-- doc-test: stderr /regex/flags -->` — the
 *   block's output must match (the output its comments show).
 *
 * Directives are separated from their block by blank lines at most, and from each other likewise.
 */
import { readFileSync } from 'node:fs';

export type DirectiveKind = 'skip' | 'serve' | 'before' | 'after' | 'stdout' | 'stderr';

export interface Directive {
  readonly kind: DirectiveKind;
  /** The text after the kind on the first line (the reason of a skip, the regex of stdout). */
  readonly argument: string;
  /** The lines after the first, de-indented (the code of before and after). */
  readonly body: string;
  /** 1-based line of the comment's start. */
  readonly line: number;
}

export interface CodeBlock {
  /** The page, as given. */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** The info string's first word: `sh`, `ts`, `yaml`, … */
  readonly lang: string;
  /** The block's text, de-indented by the fence's indentation. */
  readonly code: string;
  readonly directives: readonly Directive[];
}

export interface Page {
  readonly blocks: readonly CodeBlock[];
  /** Directives that belong to no block, or that could not be read: each is a mistake. */
  readonly problems: readonly string[];
}

const kinds: readonly DirectiveKind[] = ['skip', 'serve', 'before', 'after', 'stdout', 'stderr'];
const fenceOpen = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/;

/** Reads `file` (path relative to the working directory, used as is in names). */
export function readPage(file: string): Page {
  return parsePage(file, readFileSync(file, 'utf8'));
}

export function parsePage(file: string, text: string): Page {
  const lines = text.split('\n');
  const problems: string[] = [];
  const comments = new Map<number, { directive: Directive; start: number }>(); // by end line
  const blocks: CodeBlock[] = [];
  const used = new Set<Directive>();

  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const comment = /^(\s*)<!--\s*doc-test:\s*(.*)$/.exec(line);
    if (comment) {
      const indent = comment[1]!.length;
      let first = comment[2]!;
      let end = i;
      const body: string[] = [];
      if (first.includes('-->')) first = first.slice(0, first.indexOf('-->'));
      else {
        for (end = i + 1; end < lines.length && !lines[end]!.includes('-->'); end++)
          body.push(dedent(lines[end]!, indent));
        const last = lines[end] ?? '';
        const before = last.slice(0, last.indexOf('-->'));
        if (before.trim() !== '') body.push(dedent(before, indent));
      }
      const kind = /^\S*/.exec(first.trim())![0];
      const argument = first.trim().slice(kind.length).trim(); // inner spaces kept: regexes need them
      if (!(kinds as readonly string[]).includes(kind)) {
        problems.push(`${file}:${i + 1}: unknown doc-test directive "${kind}" (known: ${kinds.join(', ')})`);
      } else {
        const directive: Directive = {
          kind: kind as DirectiveKind,
          argument,
          body: body.join('\n'),
          line: i + 1,
        };
        comments.set(end, { directive, start: i });
      }
      i = end;
      continue;
    }
    const fence = fenceOpen.exec(line);
    if (!fence) continue;
    const [, indentText, marker, lang] = fence;
    const indent = indentText!.length;
    const content: string[] = [];
    let close = i + 1;
    const closing = new RegExp(`^\\s*${marker![0] === '`' ? '`' : '~'}{${marker!.length},}\\s*$`);
    for (; close < lines.length && !closing.test(lines[close]!); close++)
      content.push(dedent(lines[close]!, indent));
    // The directives right above: blank lines and other directives may come between.
    const directives: Directive[] = [];
    for (let above = i - 1; above >= 0; above--) {
      if (lines[above]!.trim() === '') continue;
      const found = comments.get(above);
      if (!found) break;
      directives.unshift(found.directive);
      used.add(found.directive);
      above = found.start;
    }
    blocks.push({ file, line: i + 1, lang: lang!.toLowerCase(), code: content.join('\n'), directives });
    i = close;
  }
  for (const { directive } of comments.values()) {
    if (!used.has(directive))
      problems.push(
        `${file}:${directive.line}: doc-test "${directive.kind}" is not right above a code block`,
      );
  }
  return { blocks, problems };
}

/** `/source/flags` as a RegExp. */
export function parseRegex(text: string): RegExp {
  const match = /^\/(.*)\/([a-z]*)$/.exec(text.trim());
  if (!match) throw new Error(`not a /regex/: ${text}`);
  return new RegExp(match[1]!, match[2]);
}

function dedent(line: string, indent: number): string {
  let cut = 0;
  while (cut < indent && (line[cut] === ' ' || line[cut] === '\t')) cut++;
  return line.slice(cut);
}
