import type { ComponentChildren } from 'preact';
import { useEffect } from 'preact/hooks';

/**
 * The screen's heading (focused when the screen opens) and the document title, so tabs and
 * history entries say which screen they are.
 */
export function PageTitle({
  children,
  title,
  extra,
}: {
  children: ComponentChildren;
  title?: string;
  extra?: ComponentChildren;
}) {
  const text = title ?? (typeof children === 'string' ? children : '');
  useEffect(() => {
    document.title = text === '' ? 'Spool' : `${text} · Spool`;
  }, [text]);
  return (
    <div class="page-head">
      <h1 id="page-title" tabIndex={-1}>
        {children}
      </h1>
      {extra}
    </div>
  );
}
