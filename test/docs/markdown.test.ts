/** The markdown reader of the documentation test: blocks, directives and their mistakes. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePage, parseRegex } from './markdown.js';

const page = [
  '# Title',
  '',
  '<!-- doc-test: skip — needs a database -->',
  '',
  '```sh',
  'psql -c "select 1"',
  '```',
  '',
  '- a list item:',
  '',
  '  <!-- doc-test: before',
  '  const sendMail = async () => 1;',
  '  -->',
  '  <!-- doc-test: stdout /^a  b$/m -->',
  '',
  '  ```ts',
  '  await sendMail();',
  '  ```',
  '',
  '```yaml',
  'a: 1',
  '```',
  '',
  'Text between.',
  '',
  '<!-- doc-test: after',
  'echo done -->',
  '',
  'Not a block.',
  '',
  '<!-- doc-test: sometimes -->',
  '```sh',
  'true',
  '```',
].join('\n');

describe('doc-test markdown', () => {
  const { blocks, problems } = parsePage('page.md', page);

  it('reads fenced blocks with their language, line and de-indented code', () => {
    assert.deepEqual(
      blocks.map((b) => [b.lang, b.line, b.code]),
      [
        ['sh', 5, 'psql -c "select 1"'],
        ['ts', 16, 'await sendMail();'],
        ['yaml', 20, 'a: 1'],
        ['sh', 32, 'true'],
      ],
    );
  });

  it('attaches the directives right above a block, keeping their text', () => {
    assert.deepEqual(
      blocks[0]!.directives.map((d) => [d.kind, d.argument]),
      [['skip', '— needs a database']],
    );
    assert.deepEqual(
      blocks[1]!.directives.map((d) => [d.kind, d.argument, d.body]),
      [
        ['before', '', 'const sendMail = async () => 1;'],
        ['stdout', '/^a  b$/m', ''],
      ],
    );
    assert.equal(parseRegex(blocks[1]!.directives[1]!.argument).test('x\na  b\n'), true);
    assert.deepEqual(blocks[2]!.directives, []);
  });

  it('reports unknown directives and directives that belong to no block', () => {
    assert.deepEqual(problems, [
      'page.md:31: unknown doc-test directive "sometimes" (known: skip, serve, before, after, stdout, stderr)',
      'page.md:26: doc-test "after" is not right above a code block',
    ]);
  });
});
