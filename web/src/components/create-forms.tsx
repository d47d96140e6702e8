/**
 * Create a queue or a topic from the overview, with the settings a first one needs (the rest
 * take their defaults, as `PUT` does; the API page lists them all). An existing name is not
 * reconfigured: the form says it exists and links to it.
 */
import { useState } from 'preact/hooks';
import { api, type ApiError, seg } from '../api/http.js';
import { notify } from '../state/notices.js';
import { navigate, paths } from '../state/router.js';
import { useCan } from '../state/scopes.js';

export function CreateForms() {
  const [kind, setKind] = useState<'queue' | 'topic'>('queue');
  const [name, setName] = useState('');
  const [maxAttempts, setMaxAttempts] = useState('5');
  const [partitions, setPartitions] = useState('4');
  const [busy, setBusy] = useState(false);
  const canAdmin = useCan('admin');

  const create = async (event: Event) => {
    event.preventDefault();
    const trimmed = name.trim();
    const path = kind === 'queue' ? `/v1/queues/${seg(trimmed)}` : `/v1/topics/${seg(trimmed)}`;
    const target = kind === 'queue' ? paths.queue(trimmed) : paths.topic(trimmed);
    setBusy(true);
    try {
      // PUT replaces a queue's whole configuration: look first, so an existing one is left alone.
      const exists = await api('GET', path).then(
        () => true,
        (error: ApiError) => (error.status === 404 ? false : Promise.reject(error)),
      );
      if (exists) {
        notify(`The ${kind} ${trimmed} already exists.`, 'error');
        navigate(target);
        return;
      }
      const body =
        kind === 'queue' ? { maxAttempts: Number(maxAttempts) } : { partitions: Number(partitions) };
      await api('PUT', path, { body });
      notify(`Created the ${kind} ${trimmed}.`);
      navigate(target);
    } catch (error) {
      notify(`Could not create the ${kind} ${trimmed}: ${(error as ApiError).message}`, 'error');
    } finally {
      setBusy(false);
    }
  };

  if (!canAdmin) return null;
  return (
    <details class="panel create-forms">
      <summary>Create a queue or topic</summary>
      <form onSubmit={(event) => void create(event)}>
        <label>
          Kind{' '}
          <select value={kind} onChange={(event) => setKind(event.currentTarget.value as 'queue' | 'topic')}>
            <option value="queue">queue</option>
            <option value="topic">topic</option>
          </select>
        </label>
        <label>
          Name
          <input
            type="text"
            required
            pattern="[A-Za-z0-9._:\-]{1,200}"
            title="1-200 letters, digits, '.', '_', '-' or ':'"
            value={name}
            onInput={(event) => setName(event.currentTarget.value)}
          />
        </label>
        {kind === 'queue' ? (
          <label>
            Max attempts
            <input
              type="number"
              min={1}
              value={maxAttempts}
              onInput={(event) => setMaxAttempts(event.currentTarget.value)}
            />
          </label>
        ) : (
          <label>
            Partitions
            <input
              type="number"
              min={1}
              max={256}
              value={partitions}
              onInput={(event) => setPartitions(event.currentTarget.value)}
            />
          </label>
        )}
        <button type="submit" class="primary" disabled={busy}>
          Create
        </button>
      </form>
    </details>
  );
}
