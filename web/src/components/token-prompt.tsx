/**
 * Asks for an API token when the server answered 401. The token is checked with a read call
 * before it is kept, so a typo gets "not valid" here rather than errors all over the screens.
 */
import { useState } from 'preact/hooks';
import { auth, setToken } from '../api/auth.js';
import { useStore } from '../state/store.js';
import { Modal } from './dialog.js';

export function TokenPrompt() {
  const { prompt } = useStore(auth);
  const [value, setValue] = useState('');
  const [checking, setChecking] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  if (prompt === 'none') return null;

  const submit = async (event: Event) => {
    event.preventDefault();
    const token = value.trim();
    if (token === '') {
      setProblem('Enter a token.');
      return;
    }
    setChecking(true);
    setProblem(null);
    try {
      const response = await fetch('/v1/queues', {
        headers: { accept: 'application/json', authorization: `Bearer ${token}` },
      });
      if (response.status === 401) setProblem('The server does not accept this token.');
      else {
        setValue('');
        setToken(token);
      }
    } catch (error) {
      setProblem(`Could not reach the server: ${String(error)}`);
    } finally {
      setChecking(false);
    }
  };

  const reason =
    prompt === 'invalid'
      ? 'The server no longer accepts the token this tab was using.'
      : 'This server needs an API token.';
  return (
    <Modal title="Sign in" onClose={() => undefined} class="token-prompt">
      <form onSubmit={(event) => void submit(event)}>
        <p>
          {reason} Any token the server knows lets you look around; purging, redriving and seeking need one
          with the <code>admin</code> scope. It is kept for this browser tab only.
        </p>
        <label for="api-token">API token</label>
        <input
          id="api-token"
          name="token"
          type="password"
          autoComplete="current-password"
          autoFocus
          required
          value={value}
          aria-invalid={problem !== null}
          aria-describedby={problem ? 'api-token-problem' : undefined}
          onInput={(event) => setValue(event.currentTarget.value)}
        />
        {problem ? (
          <p id="api-token-problem" class="field-error" role="alert">
            {problem}
          </p>
        ) : null}
        <div class="modal-actions">
          <button type="submit" class="primary" disabled={checking}>
            {checking ? 'Checking…' : 'Sign in'}
          </button>
        </div>
      </form>
    </Modal>
  );
}
