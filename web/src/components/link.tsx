import type { ComponentChildren, JSX } from 'preact';
import { navigate } from '../state/router.js';

type AnchorProps = Omit<JSX.HTMLAttributes<HTMLAnchorElement>, 'href' | 'onClick'>;

/**
 * An in-app link: a real `<a href>` (so middle-click, copy link and screen readers work) that
 * changes the screen without reloading the page on a plain click.
 */
export function Link(props: AnchorProps & { href: string; children: ComponentChildren }) {
  const { href, children, ...rest } = props;
  return (
    <a
      {...rest}
      href={href}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0) return;
        if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
