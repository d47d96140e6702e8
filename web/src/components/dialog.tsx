/**
 * Modal dialogs on the native `<dialog>` element: it traps focus, closes on Escape and restores
 * focus to what opened it, with the right role for assistive technology — nothing to re-implement.
 */
import type { ComponentChildren } from 'preact';
import { useEffect, useId, useRef, useState } from 'preact/hooks';

export interface ModalProps {
  readonly title: string;
  /** Escape, the close button, or the caller's own buttons. */
  readonly onClose: () => void;
  readonly children: ComponentChildren;
  readonly class?: string;
}

export function Modal({ title, onClose, children, class: className }: ModalProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      class={`modal${className ? ` ${className}` : ''}`}
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      {children}
    </dialog>
  );
}

export interface ConfirmRequest {
  readonly title: string;
  readonly body: ComponentChildren;
  /** The confirm button says what will happen: "Purge 3 dead letters", not "OK". */
  readonly confirmLabel: string;
  /** Destructive: the confirm button is red. Cancel has the focus either way. */
  readonly danger?: boolean;
}

/**
 * Asks for confirmation: `const [dialog, confirm] = useConfirm()`, render `dialog`, and
 * `if (await confirm({...}))` before a destructive call.
 */
export function useConfirm(): [ComponentChildren, (request: ConfirmRequest) => Promise<boolean>] {
  const [pending, setPending] = useState<{ request: ConfirmRequest; resolve: (ok: boolean) => void } | null>(
    null,
  );
  const answer = (ok: boolean) => {
    pending?.resolve(ok);
    setPending(null);
  };
  const dialog = pending ? (
    <Modal title={pending.request.title} onClose={() => answer(false)} class="confirm">
      <div class="modal-body">{pending.request.body}</div>
      <div class="modal-actions">
        <button type="button" autoFocus onClick={() => answer(false)}>
          Cancel
        </button>
        <button
          type="button"
          class={pending.request.danger ? 'danger' : 'primary'}
          onClick={() => answer(true)}
        >
          {pending.request.confirmLabel}
        </button>
      </div>
    </Modal>
  ) : null;
  const confirm = (request: ConfirmRequest) =>
    new Promise<boolean>((resolve) => setPending({ request, resolve }));
  return [dialog, confirm];
}
