/**
 * The error tables of README.md and src/server/README.md are generated from the error catalogue
 * (`npm run docs:errors`): this fails while a README says something else, and checks the
 * catalogue itself — one entry per code, each with everything the doors derive from it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  ConflictHttpError,
  httpErrorClassFor,
  InvalidArgumentHttpError,
  NotFoundHttpError,
  SpoolHttpError,
  StaleReceiptHttpError,
  UnavailableHttpError,
} from '../../src/client/errors.js';
import { errorCatalogue, type ErrorSpec, exitCodeMeanings, problemType } from '../../src/core/errors.js';
import { errorTables, extractTable } from '../../scripts/error-table-markdown.js';

const specs: readonly ErrorSpec[] = Object.values(errorCatalogue);

describe('the error catalogue', () => {
  it('has one entry per code, named after it, each complete', () => {
    const codes = specs.map((spec) => spec.code);
    assert.equal(new Set(codes).size, codes.length);
    for (const [key, spec] of Object.entries(errorCatalogue) as Array<[string, ErrorSpec]>) {
      assert.equal(spec.code, `SPOOL_${key}`);
      assert.equal(spec.type, problemType(spec.code));
      assert.ok(spec.httpStatus >= 400 && spec.httpStatus < 600, spec.code);
      assert.ok(spec.title.length > 0 && spec.description.length > 0, spec.code);
      assert.ok(spec.exitCode in exitCodeMeanings && spec.exitCode !== 0, spec.code);
    }
  });

  it('gives spool/client the class of each code by its HTTP status', () => {
    assert.equal(httpErrorClassFor('SPOOL_STALE_RECEIPT'), StaleReceiptHttpError);
    assert.equal(httpErrorClassFor('SPOOL_GROUP_NOT_EMPTY'), ConflictHttpError);
    assert.equal(httpErrorClassFor('SPOOL_INTERNAL'), SpoolHttpError);
    const byStatus = new Map<number, typeof SpoolHttpError>([
      [400, InvalidArgumentHttpError],
      [404, NotFoundHttpError],
      [409, ConflictHttpError],
      [503, UnavailableHttpError],
    ]);
    for (const spec of specs.filter((entry) => entry.answeredByServer)) {
      const expected = byStatus.get(spec.httpStatus);
      if (!expected) continue;
      const actual = httpErrorClassFor(spec.code);
      assert.ok(actual === expected || actual.prototype instanceof expected, `${spec.code} → ${actual.name}`);
    }
  });
});

describe('the error tables of the READMEs', () => {
  for (const { file, name, render } of errorTables) {
    it(`${file}: the ${name} is the one the catalogue generates (run \`npm run docs:errors\`)`, () => {
      assert.equal(extractTable(readFileSync(file, 'utf8'), name), render());
    });
  }
});
