/**
 * The README and the docs pages run as written. Every fenced `sh` and `ts` block of README.md,
 * src/server/README.md and docs/*.md is run the way a reader would run it, against the built
 * package (dist/, built here first if it is missing or older than src/):
 *
 * - `sh` blocks run in bash (`set -euo pipefail`) in a fresh directory, with `spool` (the built
 *   CLI) on the PATH and a fresh `spool serve` (free loopback port, its own data directory) whose
 *   URL is in SPOOL_URL — the variable the CLI reads and the blocks use for the server.
 * - `ts` blocks are written to a file inside the project (so `import … from 'spool'` and
 *   `'spool/client'` resolve to the package through its own `exports`, as they would in a user's
 *   project), run with tsx from a fresh working directory (so `./data/spool.db` is new), with a
 *   fresh server in SPOOL_URL when they import `spool/client`; and they are all type-checked
 *   with the project's strict settings, skipped ones included.
 *
 * A block passes when it exits 0 within its time, prints no CLI or curl error, its output
 * matches its `stdout` / `stderr` directives and its `after` code (the state the text promises)
 * succeeds. Directives are HTML comments right above a block; `markdown.ts` lists them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { type CodeBlock, type Directive, parseRegex, readPage } from './markdown.js';
import {
  blockEnv,
  ensureBuilt,
  projectScratch,
  repoRoot,
  run,
  runServing,
  type Run,
  spoolBin,
  startServe,
  tempDir,
} from './runner.js';

const pages = [
  'README.md',
  'src/server/README.md',
  ...readdirSync(join(repoRoot, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .sort()
    .map((name) => `docs/${name}`),
];
const shell = new Set(['sh', 'bash', 'shell']);
const typescript = new Set(['ts', 'typescript']);
/** Modules a page imports that Spool does not install: type-checked as `any`. */
const notInstalled = ['@opentelemetry/exporter-trace-otlp-http'];
const blockTimeoutMs = 90_000;

const parsed = pages.map((page) => {
  const { blocks, problems } = readPage(join(repoRoot, page));
  return {
    page,
    problems: problems.map((problem) => problem.replace(`${repoRoot}/`, '')),
    blocks: blocks.map((block) => ({ ...block, file: page })),
  };
});
const runnable = parsed.flatMap(({ blocks }) =>
  blocks.filter((block) => shell.has(block.lang) || typescript.has(block.lang)),
);

const directive = (block: CodeBlock, kind: Directive['kind']) =>
  block.directives.find((d) => d.kind === kind);
const code = (block: CodeBlock, kind: 'before' | 'after') =>
  block.directives
    .filter((d) => d.kind === kind)
    .map((d) => d.body)
    .join('\n');
const name = (block: CodeBlock) => `${block.file}:${block.line}`;

let scratch: { dir: string; cleanup: () => void };
let bin: string;
let tsxImport: string;
/** Type errors per block file, from one tsc run over every TypeScript block. */
const typeErrors = new Map<string, string[]>();
const tsFiles = new Map<CodeBlock, { path: string; blockStart: number }>();

describe('documentation blocks run as written', { concurrency: 4 }, () => {
  before(async () => {
    ensureBuilt();
    scratch = projectScratch();
    bin = spoolBin(scratch.dir);
    tsxImport = import.meta.resolve('tsx');
    await typecheckAll();
  });
  after(() => scratch?.cleanup());

  it('every doc-test directive is readable and sits right above a code block', () => {
    const problems = parsed.flatMap((page) => page.problems);
    for (const { blocks } of parsed) {
      for (const block of blocks) {
        if (block.directives.length > 0 && !shell.has(block.lang) && !typescript.has(block.lang))
          problems.push(`${name(block)}: doc-test directives on a ${block.lang || 'plain'} block`);
        for (const d of block.directives) {
          if ((d.kind === 'stdout' || d.kind === 'stderr') && !/^\/.*\/[a-z]*$/.test(d.argument))
            problems.push(`${block.file}:${d.line}: ${d.kind} needs a /regex/`);
          if (d.kind === 'skip' && !/\w/.test(d.argument))
            problems.push(`${block.file}:${d.line}: a skip needs its reason`);
        }
      }
    }
    assert.deepEqual(problems, []);
  });

  for (const block of runnable) {
    const skip = directive(block, 'skip');
    const ts = typescript.has(block.lang);
    const label = `${name(block)} (${block.lang})${skip ? ` — ${ts ? 'type-checked only' : 'skipped'}: ${skip.argument.replace(/^[—-]\s*/, '')}` : ''}`;
    it(label, async (t) => {
      if (ts) assertTypeChecks(block);
      if (skip) {
        if (!ts) t.skip(skip.argument.replace(/^[—-]\s*/, ''));
        return;
      }
      if (directive(block, 'serve')) await runServeBlock(block);
      else if (ts) await runTsBlock(t, block);
      else await runShBlock(block);
    });
  }
});

/** Writes every TypeScript block (with its before and after code) to a file and runs tsc once. */
async function typecheckAll(): Promise<void> {
  const files: string[] = [];
  for (const block of runnable.filter((b) => typescript.has(b.lang))) {
    const slug = block.file.replace(/[^A-Za-z0-9]+/g, '-').replace(/-md$/, '');
    const path = join(scratch.dir, `${slug}-L${block.line}.ts`);
    const prelude = code(block, 'before');
    const header = `// ${name(block)}, run by test/docs/readme.test.ts\n${prelude}\n`;
    writeFileSync(path, `${header}${block.code}\n${code(block, 'after')}\nexport {};\n`);
    tsFiles.set(block, { path, blockStart: header.split('\n').length });
    files.push(path);
  }
  const shims = notInstalled.filter((module) => {
    try {
      createRequire(join(repoRoot, 'package.json')).resolve(module);
      return false;
    } catch {
      return true;
    }
  });
  writeFileSync(
    join(scratch.dir, 'not-installed.d.ts'),
    shims.map((module) => `declare module '${module}';`).join('\n') + '\n',
  );
  writeFileSync(
    join(scratch.dir, 'tsconfig.json'),
    JSON.stringify({
      extends: join(repoRoot, 'tsconfig.json'),
      compilerOptions: { noEmit: true, declaration: false, sourceMap: false, rootDir: repoRoot },
      files: [...files, join(scratch.dir, 'not-installed.d.ts')],
    }),
  );
  const tsc = spawn(
    process.execPath,
    [
      join(repoRoot, 'node_modules/typescript/bin/tsc'),
      '-p',
      join(scratch.dir, 'tsconfig.json'),
      '--pretty',
      'false',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  tsc.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  tsc.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await once(tsc, 'close');
  for (const line of output.split('\n')) {
    const match = /^(.*?)\((\d+),(\d+)\): (error .*)$/.exec(line);
    if (!match) continue;
    const file = basename(match[1]!);
    const list = typeErrors.get(file) ?? [];
    list.push(`line ${match[2]} of ${file}: ${match[4]}`);
    typeErrors.set(file, list);
  }
  const unattributed = output
    .split('\n')
    .filter((line) => /error TS/.test(line) && !/^\S.*\(\d+,\d+\)/.test(line));
  if (unattributed.length > 0) throw new Error(`tsc failed:\n${output}`);
}

function assertTypeChecks(block: CodeBlock): void {
  const file = tsFiles.get(block)!;
  const errors = (typeErrors.get(basename(file.path)) ?? []).map((error) => {
    const fileLine = Number(/^line (\d+)/.exec(error)?.[1]);
    const where = fileLine - file.blockStart;
    const blockLines = block.code.split('\n').length;
    const place =
      where >= 0 && where < blockLines
        ? `${block.file}:${block.line + 1 + where}`
        : `the block's ${where < 0 ? 'before' : 'after'} code`;
    return `${place}: ${error}`;
  });
  assert.deepEqual(errors, [], `${name(block)} does not type-check`);
}

async function runTsBlock(t: TestContext, block: CodeBlock): Promise<void> {
  const needsServer = /from ['"]spool\/client['"]/.test(block.code);
  const cwd = tempDir('spool-docs-ts-');
  const server = needsServer ? await startServe(blockEnv(bin)) : undefined;
  try {
    const result = await run(process.execPath, ['--import', tsxImport, tsFiles.get(block)!.path], {
      cwd: cwd.dir,
      env: blockEnv(bin, server ? { SPOOL_URL: server.url } : {}),
      timeoutMs: blockTimeoutMs,
    });
    t.diagnostic(`ran in ${cwd.dir}${server ? ` against ${server.url}` : ''}`);
    assertRan(block, result);
  } finally {
    await server?.stop();
    cwd.cleanup();
  }
}

async function runShBlock(block: CodeBlock): Promise<void> {
  const cwd = tempDir('spool-docs-sh-');
  const server = await startServe(blockEnv(bin));
  try {
    const script = join(cwd.dir, 'block.sh');
    writeFileSync(script, shellScript(block));
    const result = await run('bash', ['--noprofile', '--norc', script], {
      cwd: cwd.dir,
      env: blockEnv(bin, { SPOOL_URL: server.url }),
      timeoutMs: blockTimeoutMs,
    });
    assertRan(block, result);
    assert.doesNotMatch(
      result.stderr,
      /^spool: /m,
      `${name(block)}: a spool command failed\n${result.stderr}`,
    );
    assert.doesNotMatch(result.stderr, /^curl: \(/m, `${name(block)}: a curl call failed\n${result.stderr}`);
  } finally {
    await server.stop();
    cwd.cleanup();
  }
}

/** A block that serves until stopped: it must listen, answer /healthz and stop on SIGTERM. */
async function runServeBlock(block: CodeBlock): Promise<void> {
  const cwd = tempDir('spool-docs-serve-');
  try {
    const script = join(cwd.dir, 'block.sh');
    writeFileSync(script, shellScript(block));
    const result = await runServing(
      'bash',
      ['--noprofile', '--norc', script],
      // Port 0: the documented default port may be taken on this machine.
      { cwd: cwd.dir, env: blockEnv(bin, { SPOOL_PORT: '0' }), timeoutMs: 90_000 },
      async (url) => {
        const health = await fetch(`${url.replace('0.0.0.0', '127.0.0.1')}/healthz`);
        assert.equal(health.status, 200);
      },
    );
    const output = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    assert.ok(result.url, `${name(block)} never printed "listening on <url>"\n${output}`);
    assert.ifError(result.checkError);
    assert.match(
      result.stderr,
      /"msg":"stopped"/,
      `${name(block)} did not stop cleanly on SIGTERM\n${output}`,
    );
    assertOutput(block, result);
  } finally {
    cwd.cleanup();
  }
}

function shellScript(block: CodeBlock): string {
  return `set -euo pipefail\n${code(block, 'before')}\n${block.code}\n${code(block, 'after')}\n`;
}

function assertRan(block: CodeBlock, result: Run): void {
  const output = `stdout:\n${tail(result.stdout)}\nstderr:\n${tail(result.stderr)}`;
  assert.ok(!result.timedOut, `${name(block)} did not finish within ${blockTimeoutMs / 1000} s\n${output}`);
  assert.equal(result.code, 0, `${name(block)} exited with ${result.code ?? result.signal}\n${output}`);
  assertOutput(block, result);
}

function assertOutput(block: CodeBlock, result: { stdout: string; stderr: string }): void {
  for (const d of block.directives) {
    if (d.kind !== 'stdout' && d.kind !== 'stderr') continue;
    assert.match(
      result[d.kind],
      parseRegex(d.argument),
      `${name(block)}: ${d.kind} (directive at line ${d.line})`,
    );
  }
}

function tail(text: string, max = 4000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}
