/**
 * `spool workflows start|list|get|event|cancel|retry` and `spool breakers list|reset`, over HTTP or on a
 * data directory. The runs execute in the processes that define their workflow; these commands
 * start and steer them, and show each run's steps — what an operator needs to see why a run is
 * stuck (the step it is at, its last error, when it wakes) and to unblock it (send the event it
 * waits for, cancel it so it compensates, reset the breaker it waits on).
 */
import { type Command, Option } from 'commander';
import type { WorkflowRun } from '../../client/index.js';
import { workflowRunStatuses } from '../../workflows/workflows.js';
import { withBackend } from './support/backend.js';
import { type ClientFlags, withClientOptions } from './support/client-options.js';
import { parseJson, wholeNumber } from './support/input.js';
import { note, out, printJson, table } from './support/output.js';

interface StartFlags extends ClientFlags {
  key?: string;
  delayMs?: number;
  timeoutMs?: number;
}

function printRun(run: WorkflowRun): void {
  out(`run ${run.id} (${run.workflow}): ${run.status}${run.currentStep ? ` at ${run.currentStep}` : ''}`);
  if (run.error) out(`error: ${run.error.name}: ${run.error.message}`);
  if (run.compensationError) {
    out(`compensation of ${run.compensationError.stepId} failed: ${run.compensationError.error.message}`);
  }
  if (run.status === 'completed') out(`output: ${JSON.stringify(run.output)}`);
  if (run.steps.length === 0) return;
  out(
    table(
      ['step', 'kind', 'status', 'attempts', 'finished', 'wakes', 'error'],
      run.steps.map((step) => [
        step.id,
        step.kind,
        step.status,
        step.attempts,
        step.finishedAt,
        step.wakeAt,
        step.error ? `${step.error.name}: ${step.error.message}` : null,
      ]),
    ),
  );
}

/** Adds `spool workflows …` and `spool breakers …` to the program. */
export function registerWorkflows(program: Command): void {
  const workflows = program
    .command('workflows')
    .description('start workflow runs, list them, show a run with its steps, send events, cancel');

  withClientOptions(
    workflows
      .command('start')
      .description('start a run (answered at once with its id); a process that defines the workflow runs it')
      .argument('<workflow>', 'the workflow name')
      .argument('[input]', 'the input, JSON')
      .option('--key <key>', 'start at most one run for this key (a repeat answers the first run)')
      .option('--delay-ms <ms>', 'start no earlier than this many ms from now', wholeNumber(0, 2 ** 31 - 1))
      .option(
        '--timeout-ms <ms>',
        'the run times out this long after the start (it compensates)',
        wholeNumber(1, 2 ** 31 - 1),
      ),
  ).action((workflow: string, input: string | undefined, flags: StartFlags) =>
    withBackend(flags, async (spool) => {
      const accepted = await spool.workflows.start(
        workflow,
        input === undefined ? null : parseJson(input, 'input'),
        {
          ...(flags.key === undefined ? {} : { key: flags.key }),
          ...(flags.delayMs === undefined ? {} : { delayMs: flags.delayMs }),
          ...(flags.timeoutMs === undefined ? {} : { timeoutMs: flags.timeoutMs }),
        },
      );
      if (flags.json) printJson(accepted);
      else out(`started run ${accepted.id} (${accepted.status})`);
    }),
  );

  withClientOptions(
    workflows
      .command('list')
      .description("runs, newest first: a workflow's, or every workflow's")
      .argument('[workflow]', 'the workflow name (default: every workflow)')
      .addOption(new Option('--status <status>', 'only runs in this status').choices(workflowRunStatuses))
      .option('--limit <n>', 'runs per page', wholeNumber(1, 1000), 50),
  ).action(
    (
      workflow: string | undefined,
      flags: ClientFlags & { limit: number; status?: (typeof workflowRunStatuses)[number] },
    ) =>
      withBackend(flags, async (spool) => {
        const page = await spool.workflows.list(
          {
            ...(workflow === undefined ? {} : { workflow }),
            ...(flags.status ? { status: flags.status } : {}),
          },
          { limit: flags.limit },
        );
        if (flags.json) {
          printJson(page);
          return;
        }
        if (page.items.length === 0) {
          const which = `${flags.status ? `${flags.status} ` : ''}runs${workflow ? ` of ${workflow}` : ''}`;
          note(`no ${which}: start one with \`spool workflows start ${workflow ?? '<workflow>'} '<input>'\``);
          return;
        }
        out(
          table(
            ['id', 'workflow', 'status', 'key', 'created', 'finished', 'error'],
            page.items.map((run) => [
              run.id,
              run.workflow,
              run.status,
              run.key,
              run.createdAt,
              run.finishedAt,
              run.error ? `${run.error.name}: ${run.error.message}` : null,
            ]),
          ),
        );
      }),
  );

  withClientOptions(
    workflows
      .command('get')
      .description('a run: its status, current step and every step')
      .argument('<run-id>'),
  ).action((id: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const run = await spool.workflows.get(id);
      if (flags.json) printJson(run);
      else printRun(run);
    }),
  );

  withClientOptions(
    workflows
      .command('event')
      .description('send an event to a run: the first matching waitForEvent takes it')
      .argument('<run-id>')
      .argument('<name>', 'the event name')
      .argument('[payload]', 'the payload, JSON'),
  ).action((id: string, name: string, payload: string | undefined, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const sent = await spool.workflows.sendEvent(
        id,
        name,
        payload === undefined ? null : parseJson(payload, 'payload'),
      );
      if (flags.json) printJson(sent);
      else out(`sent ${name} to run ${id}`);
    }),
  );

  withClientOptions(
    workflows
      .command('cancel')
      .description('cancel a run: its completed steps are compensated, newest first')
      .argument('<run-id>'),
  ).action((id: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const run = await spool.workflows.cancel(id);
      if (flags.json) printJson(run);
      else out(`cancelling run ${id}: it compensates, then ends cancelled`);
    }),
  );

  withClientOptions(
    workflows
      .command('retry')
      .description('retry a failed run from its failed step (completed steps keep their results)')
      .argument('<run-id>'),
  ).action((id: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const run = await spool.workflows.retry(id);
      if (flags.json) printJson(run);
      else out(`retrying run ${id} from ${run.currentStep ?? 'its failed step'} (${run.status})`);
    }),
  );

  const breakers = program.command('breakers').description('list circuit breakers and reset one');
  withClientOptions(
    breakers.command('list').description('every circuit breaker and its shared state'),
  ).action((flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const items = await spool.workflows.breakers();
      if (flags.json) {
        printJson({ items });
        return;
      }
      if (items.length === 0) {
        note('no circuit breakers have been used on this store');
        return;
      }
      out(
        table(
          ['name', 'state', 'open until', 'opened', 'failures', 'last failure'],
          items.map((breaker) => [
            breaker.name,
            breaker.state.toUpperCase(),
            breaker.openUntil,
            breaker.opened,
            breaker.consecutiveFailures,
            breaker.lastFailure ? `${breaker.lastFailure.name}: ${breaker.lastFailure.message}` : null,
          ]),
        ),
      );
    }),
  );
  withClientOptions(
    breakers.command('reset').description('close a breaker now, in every process').argument('<name>'),
  ).action((name: string, flags: ClientFlags) =>
    withBackend(flags, async (spool) => {
      const breaker = await spool.workflows.resetBreaker(name);
      if (flags.json) printJson(breaker);
      else out(`breaker ${name} is ${breaker.state}`);
    }),
  );
}
