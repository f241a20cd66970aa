import { useId, useLayoutEffect, useRef, type MouseEvent, type ReactNode } from 'react';

/** Props of ConfirmDialog. */
export interface ConfirmDialogProps {
  /** The question, e.g. "Delete this prompt and its 3 stories?". */
  title: string;
  /** What the question is about, and what cannot be undone. */
  children?: ReactNode;
  confirmLabel: string;
  cancelLabel?: string;
  /** Called with the click (its position, or detail 0 from the keyboard). */
  onConfirm(event: MouseEvent<HTMLButtonElement>): void;
  onCancel(): void;
}

/**
 * A modal question before something that cannot be undone. It opens with the safe answer
 * focused (Enter keeps things as they are, Escape too), and its confirm button ignores the
 * second click of a double-click: the click that opened the dialog may be followed by another,
 * which lands wherever the dialog now is and must not answer it.
 */
export function ConfirmDialog({ title, children, confirmLabel, cancelLabel = 'Cancel', onConfirm, onCancel }: ConfirmDialogProps) {
  const dialog = useRef<HTMLDialogElement>(null);
  const cancel = useRef<HTMLButtonElement>(null);
  const ids = { title: useId(), body: useId() };

  // A layout effect, so that close() runs before React removes the dialog: the browser then
  // gives the focus back to what had it before the dialog opened.
  useLayoutEffect(() => {
    const el = dialog.current;
    if (!el) return;
    if (typeof el.showModal === 'function') {
      if (!el.open) el.showModal();
    } else {
      el.setAttribute('open', ''); // jsdom has no showModal
    }
    cancel.current?.focus();
    return () => {
      if (typeof el.close === 'function' && el.open) el.close();
    };
  }, []);

  return (
    <dialog
      ref={dialog}
      className="dialog"
      aria-labelledby={ids.title}
      aria-describedby={children ? ids.body : undefined}
      onCancel={(event) => {
        // Escape closes a modal dialog: the parent unmounts it instead.
        event.preventDefault();
        onCancel();
      }}
      onKeyDown={(event) => {
        if (event.key !== 'Escape') return;
        event.preventDefault();
        onCancel();
      }}
    >
      <h2 id={ids.title}>{title}</h2>
      {children && (
        <div id={ids.body} className="dialog-body">
          {children}
        </div>
      )}
      <div className="dialog-actions">
        <button ref={cancel} type="button" className="button" onClick={onCancel}>
          {cancelLabel}
        </button>
        <button
          type="button"
          className="button danger solid"
          onClick={(event) => {
            if (event.detail > 1) return;
            onConfirm(event);
          }}
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
