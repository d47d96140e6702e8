/**
 * "Send a test message" (a queue) or "Publish a test event" (a topic): what an operator does to
 * check that consumers pick work up. The body is read as JSON when it parses, else sent as text;
 * a topic event may have a key (it picks the partition). Hidden for Spool's own queues and
 * topics, which the API refuses to write to (`SPOOL_RESERVED_NAME`).
 */
import { useState } from 'preact/hooks';
import { api, type ApiError, seg } from '../api/http.js';
import { notify } from '../state/notices.js';
import { useCan } from '../state/scopes.js';

export function TestMessageForm({
  kind,
  name,
  onSent,
}: {
  kind: 'queue' | 'topic';
  name: string;
  onSent?: () => void;
}) {
  const [body, setBody] = useState('{"test": true}');
  const [key, setKey] = useState('');
  const [busy, setBusy] = useState(false);
  const canProduce = useCan('produce');
  if (!canProduce || name.startsWith('spool.') || name.startsWith('jobs.')) return null;
  const what = kind === 'queue' ? 'Send a test message' : 'Publish a test event';

  const send = async (event: Event) => {
    event.preventDefault();
    let parsed: unknown = body;
    try {
      parsed = JSON.parse(body);
    } catch {
      // Not JSON: sent as a string.
    }
    setBusy(true);
    try {
      const path = kind === 'queue' ? `/v1/queues/${seg(name)}/messages` : `/v1/topics/${seg(name)}/events`;
      await api('POST', path, { body: { body: parsed, ...(key.trim() === '' ? {} : { key: key.trim() }) } });
      notify(kind === 'queue' ? `Sent a message to ${name}.` : `Published an event to ${name}.`);
      onSent?.();
    } catch (error) {
      notify(
        `Could not ${kind === 'queue' ? 'send to' : 'publish to'} ${name}: ${(error as ApiError).message}`,
        'error',
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <details class="panel test-message">
      <summary>{what}</summary>
      <form onSubmit={(event) => void send(event)}>
        <label>
          Body (JSON, or text)
          <textarea
            class="mono"
            rows={4}
            value={body}
            onInput={(event) => setBody(event.currentTarget.value)}
          />
        </label>
        <label>
          Key (optional{kind === 'topic' ? ': picks the partition' : ': for per-key order'})
          <input type="text" value={key} onInput={(event) => setKey(event.currentTarget.value)} />
        </label>
        <button type="submit" class="primary" disabled={busy}>
          {kind === 'queue' ? 'Send' : 'Publish'}
        </button>
      </form>
    </details>
  );
}
