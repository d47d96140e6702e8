import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from '../../src/core/errors.js';
import { SampleWindow } from '../../src/observability/alerts-window.js';
import {
  loadAlertsFile,
  matchesPattern,
  parseAlertRules,
  parseAlertsConfig,
  parseDuration,
} from '../../src/observability/alerts-rules.js';
import { tempDir } from '../helpers.js';

/** Asserts `work` throws an InvalidArgumentError whose message matches and names `field`. */
function assertRefused(work: () => unknown, message: RegExp, field?: string): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(error instanceof InvalidArgumentError, String(error));
    assert.equal(error.code, 'SPOOL_INVALID_ARGUMENT');
    assert.match(error.message, message);
    if (field !== undefined) assert.equal(error.details.field, field);
    return true;
  });
}

describe('alerts: rules', () => {
  it('normalizes valid rules: durations in seconds, defaults made explicit', () => {
    const rules = parseAlertRules([
      { name: 'orders-depth', kind: 'depth', queue: 'orders', threshold: 100, for: '1m' },
      { name: 'ready-only', kind: 'depth', queue: 'orders*', threshold: 5, states: ['ready'] },
      { name: 'stale', kind: 'oldest-age', queue: '*', threshold: 300 },
      { name: 'dlq', kind: 'dlq-growth', queue: 'orders', threshold: 0, window: '15m' },
      {
        name: 'failing',
        kind: 'failure-rate',
        queue: 'orders',
        threshold: 0.05,
        window: 300,
        minSettled: 20,
      },
      { name: 'lag', kind: 'consumer-lag', topic: 'orders.events', threshold: 1000, for: '30s' },
    ]);
    assert.deepEqual(rules, [
      {
        name: 'orders-depth',
        kind: 'depth',
        queue: 'orders',
        threshold: 100,
        forSeconds: 60,
        states: ['ready', 'delayed', 'inFlight'],
      },
      { name: 'ready-only', kind: 'depth', queue: 'orders*', threshold: 5, forSeconds: 0, states: ['ready'] },
      { name: 'stale', kind: 'oldest-age', queue: '*', threshold: 300, forSeconds: 0 },
      { name: 'dlq', kind: 'dlq-growth', queue: 'orders', threshold: 0, windowSeconds: 900, forSeconds: 0 },
      {
        name: 'failing',
        kind: 'failure-rate',
        queue: 'orders',
        threshold: 0.05,
        windowSeconds: 300,
        forSeconds: 0,
        minSettled: 20,
      },
      {
        name: 'lag',
        kind: 'consumer-lag',
        topic: 'orders.events',
        group: '*',
        threshold: 1000,
        forSeconds: 30,
      },
    ]);
  });

  it('refuses invalid rules, naming the rule, the field and what to write', () => {
    const depth = { name: 'd', kind: 'depth', queue: 'orders', threshold: 1 };
    assertRefused(
      () => parseAlertRules([{ ...depth, queue: undefined }]),
      /rule 0 \("d"\).*needs "queue"/,
      'rules.0.queue',
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, kind: 'size' }]),
      /"kind" must be one of depth, oldest-age/,
      'rules.0.kind',
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, treshold: 1 }]),
      /"treshold" is not a rule field/,
      'rules.0.treshold',
    );
    assertRefused(() => parseAlertRules([{ ...depth, threshold: -1 }]), /"threshold"/, 'rules.0.threshold');
    assertRefused(
      () => parseAlertRules([{ name: 'b', kind: 'breaker-open', queue: 'orders', threshold: 60 }]),
      /a breaker-open rule watches circuit breakers: drop "queue", use "breaker"/,
      'rules.0.queue',
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, breaker: 'sms' }]),
      /only breaker-open rules take "breaker"/,
      'rules.0.breaker',
    );
    assert.deepEqual(
      parseAlertRules([{ name: 'b', kind: 'breaker-open', threshold: 60 }])[0],
      { name: 'b', kind: 'breaker-open', breaker: '*', threshold: 60, forSeconds: 0 },
      'every breaker unless one is named',
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, for: '5 minutes' }]),
      /"for" must be a duration such as "30s"/,
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, queue: 'bad name' }]),
      /"queue" must be a name, "\*" or "prefix\*"/,
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, window: '5m' }]),
      /a depth rule has no window/,
      'rules.0.window',
    );
    assertRefused(() => parseAlertRules([{ ...depth, topic: 'x' }]), /watches a queue/, 'rules.0.topic');
    assertRefused(
      () => parseAlertRules([{ name: 'g', kind: 'dlq-growth', queue: 'q', threshold: 1 }]),
      /needs "window", e\.g\. "5m"/,
      'rules.0.window',
    );
    assertRefused(
      () => parseAlertRules([{ name: 'f', kind: 'failure-rate', queue: 'q', threshold: 5, window: '5m' }]),
      /ratio from 0 to 1/,
      'rules.0.threshold',
    );
    assertRefused(
      () => parseAlertRules([{ name: 'l', kind: 'consumer-lag', queue: 'q', threshold: 5 }]),
      /needs "topic"/,
      'rules.0.topic',
    );
    assertRefused(
      () => parseAlertRules([{ ...depth, minSettled: 3 }]),
      /only failure-rate rules take "minSettled"/,
    );
    assertRefused(() => parseAlertRules([depth, depth]), /rule 1 \("d"\): another rule has the same name/);
    assertRefused(() => parseAlertRules({ rules: [] }), /must be a JSON array/);
    assertRefused(
      () =>
        parseAlertsConfig({
          interval: '10s',
          rules: [{ name: 'g', kind: 'dlq-growth', queue: 'q', threshold: 1, window: '5s' }],
        }),
      /must be at least the evaluation interval/,
    );
    assertRefused(() => parseAlertsConfig({ interval: '10ms', rules: [] }), /interval must be from 100ms/);
    assertRefused(() => parseAlertsConfig({ rules: [], extra: 1 }), /"extra"/);
  });

  it('reads an alerts file: an object with an interval, or a bare array; errors name the file', () => {
    const { dir, cleanup } = tempDir();
    try {
      const file = join(dir, 'alerts.json');
      writeFileSync(
        file,
        JSON.stringify({ interval: '2s', rules: [{ name: 'd', kind: 'depth', queue: 'q', threshold: 1 }] }),
      );
      assert.deepEqual(loadAlertsFile(file), {
        interval: '2s',
        rules: [{ name: 'd', kind: 'depth', queue: 'q', threshold: 1 }],
      });
      writeFileSync(file, JSON.stringify([{ name: 'd', kind: 'depth', queue: 'q', threshold: 1 }]));
      assert.equal(loadAlertsFile(file).rules.length, 1);
      writeFileSync(file, '{ "rules": [ }');
      assertRefused(() => loadAlertsFile(file), /alerts\.json is not JSON/, 'alerts');
      writeFileSync(file, JSON.stringify([{ name: 'd', kind: 'depth', threshold: 1 }]));
      assertRefused(
        () => loadAlertsFile(file),
        /alerts\.json: alert rule 0 \("d"\): a depth rule needs "queue"/,
        'rules.0.queue',
      );
      assertRefused(() => loadAlertsFile(join(dir, 'missing.json')), /cannot read the alerts file/, 'alerts');
    } finally {
      cleanup();
    }
  });

  it('accepts the example alerts file of docs/operating.md', () => {
    const doc = readFileSync(new URL('../../docs/operating.md', import.meta.url), 'utf8');
    const example = /Give `spool serve` a JSON file[\s\S]*?```json\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'the example is in the doc');
    const config = parseAlertsConfig(JSON.parse(example));
    assert.equal(config.intervalMs, 5000);
    assert.deepEqual(
      config.rules.map((rule) => rule.kind),
      ['oldest-age', 'dlq-growth', 'failure-rate', 'consumer-lag', 'depth', 'dlq-growth'],
    );
  });

  it('parses durations and matches name patterns', () => {
    assert.equal(parseDuration('250ms', 'x'), 250);
    assert.equal(parseDuration('1.5s', 'x'), 1500);
    assert.equal(parseDuration('5m', 'x'), 300_000);
    assert.equal(parseDuration('2h', 'x'), 7_200_000);
    assert.equal(parseDuration('1d', 'x'), 86_400_000);
    assert.equal(parseDuration(30, 'x'), 30_000);
    assertRefused(() => parseDuration('5 m', 'for'), /for must be a duration/, 'for');
    assert.ok(matchesPattern('*', 'anything'));
    assert.ok(matchesPattern('orders*', 'orders.eu'));
    assert.ok(!matchesPattern('orders*', 'order'));
    assert.ok(matchesPattern('orders', 'orders'));
    assert.ok(!matchesPattern('orders', 'orders.eu'));
  });

  it('measures growth over a window as the sum of rises, keeping a bounded history', () => {
    const window = new SampleWindow(60_000);
    window.add(0, 10);
    assert.equal(window.increase(), 0, 'one sample: no growth yet');
    window.add(10_000, 13);
    window.add(20_000, 1); // a redrive emptied the DLQ: the 3 that arrived still count
    window.add(30_000, 2);
    assert.equal(window.increase(), 4);
    // 70 s: the sample at 10 s is the baseline (at or before the window start), 0 s is dropped.
    window.add(70_000, 2);
    assert.equal(window.size, 4);
    assert.equal(window.increase(), 1);
    window.add(200_000, 2);
    assert.equal(window.increase(), 0);
    assert.equal(window.size, 2);
  });
});
