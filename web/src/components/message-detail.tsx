/** The body, headers and attempt errors of one message, shown when its row is expanded. */
import { Json, Time } from './bits.js';

export interface MessageLike {
  readonly id: string;
  readonly body?: unknown;
  readonly bodyBase64?: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Errors of earlier attempts; absent for topic events, which have no attempts. */
  readonly errors?: readonly { attempt: number; at: string; name: string; message: string }[];
}

export function bodyPreview(message: { body?: unknown; bodyBase64?: string }): string {
  if (message.bodyBase64 !== undefined)
    return `bytes (${Math.floor((message.bodyBase64.length * 3) / 4)} B, base64)`;
  const text = JSON.stringify(message.body) ?? '';
  return text.length > 80 ? `${text.slice(0, 79)}…` : text;
}

export function MessageDetail({ message }: { message: MessageLike }) {
  const headers = Object.entries(message.headers);
  return (
    <div class="detail">
      <div>
        <h3>Body</h3>
        {message.bodyBase64 !== undefined ? (
          <Json label={`Body of ${message.id}, base64`} value={message.bodyBase64} />
        ) : (
          <Json label={`Body of ${message.id}`} value={message.body} />
        )}
      </div>
      <div>
        <h3>Headers</h3>
        {headers.length === 0 ? (
          <p class="muted">none</p>
        ) : (
          <dl class="pairs">
            {headers.map(([name, value]) => (
              <div key={name}>
                <dt>{name}</dt>
                <dd class="mono">{value}</dd>
              </div>
            ))}
          </dl>
        )}
      </div>
      {message.errors === undefined ? null : (
        <div class="wide">
          <h3>Errors</h3>
          {message.errors.length === 0 ? (
            <p class="muted">none</p>
          ) : (
            <ol class="errors">
              {message.errors.map((error) => (
                <li key={`${error.attempt}-${error.at}`}>
                  attempt {error.attempt}, <Time at={error.at} />: <strong>{error.name}</strong>{' '}
                  <span class="mono">{error.message}</span>
                </li>
              ))}
            </ol>
          )}
        </div>
      )}
    </div>
  );
}
