import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { describeError } from '../lib/errors';

/** One message in the toast stack. */
export interface Toast {
  id: number;
  kind: 'success' | 'error';
  message: string;
  traceId?: string;
  /** What makes two toasts the same: a repeat raises count instead of adding a toast. */
  key: string;
  /** How many times it was shown; a repeat also starts its time on screen over. */
  count: number;
}

/** Shows toasts; they fade by themselves, errors after a longer time. */
export interface Toaster {
  success(message: string): void;
  /** Shows what went wrong with a request, with its trace ID when the server sent one. */
  error(context: string, error: unknown): void;
}

const ToastContext = createContext<Toaster | null>(null);

/** How long a success toast stays on screen. */
export const SUCCESS_TOAST_MS = 4_000;

/** How long an error toast stays on screen: long enough to read it and note its trace ID. */
export const ERROR_TOAST_MS = 12_000;

/** At most this many toasts show at once; the oldest makes way for a new one. */
export const MAX_TOASTS = 3;

/**
 * Provides useToast() to its children and shows the toasts in a dock below them. The dock is a
 * row of its own at the bottom of the window: the page above scrolls in what is left, so a toast
 * never covers the page on any screen width.
 */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((t) => t.id !== id)), []);

  const toaster = useMemo<Toaster>(() => {
    const show = (toast: Omit<Toast, 'id' | 'count'>) =>
      setToasts((all) => {
        const same = all.find((t) => t.key === toast.key);
        // A repeat: one toast, counted, with the newest words (a new wait, a new trace ID), and
        // a new id so that its time on screen starts over.
        if (same) return all.map((t) => (t === same ? { ...toast, id: nextId.current++, count: same.count + 1 } : t));
        return [...all, { ...toast, id: nextId.current++, count: 1 }].slice(-MAX_TOASTS);
      });
    return {
      success(message) {
        show({ kind: 'success', message, key: `success ${message}` });
      },
      error(context, error) {
        const report = describeError(error);
        // Rate limits repeat with a different wait each time; they are still the same news.
        const what = report.code === 'RATE_LIMITED' ? report.code : report.message;
        const toast: Omit<Toast, 'id' | 'count'> = { kind: 'error', message: `${context}: ${report.message}`, key: `error ${context} ${what}` };
        if (report.traceId) toast.traceId = report.traceId;
        show(toast);
      },
    };
  }, []);

  return (
    <ToastContext.Provider value={toaster}>
      <div className="frame">
        <div className="frame-content">{children}</div>
        <ToastStack toasts={toasts} onDismiss={dismiss} />
      </div>
    </ToastContext.Provider>
  );
}

/** The nearest ToastProvider's toaster. */
export function useToast(): Toaster {
  const toaster = useContext(ToastContext);
  if (!toaster) throw new Error('useToast needs a ToastProvider above it');
  return toaster;
}

function ToastStack({ toasts, onDismiss }: { toasts: Toast[]; onDismiss(id: number): void }) {
  // Two live regions that exist before any toast does, so screen readers announce new ones:
  // polite for successes, assertive for errors.
  return (
    <div className={toasts.length ? 'toasts has-toasts' : 'toasts'} data-testid="toasts">
      <div role="status" aria-live="polite" className="toast-region">
        {toasts.filter((t) => t.kind === 'success').map((t) => (
          <ToastItem key={t.id} toast={t} onDismiss={onDismiss} />
        ))}
      </div>
      <div role="alert" aria-live="assertive" className="toast-region">
        {toasts.filter((t) => t.kind === 'error').map((t) => (
          <ToastItem key={t.id} toast={t} onDismiss={onDismiss} />
        ))}
      </div>
    </div>
  );
}

function ToastItem({ toast, onDismiss }: { toast: Toast; onDismiss(id: number): void }) {
  // The time on screen stops while the pointer or the keyboard focus is on the toast (someone
  // is reading it, or copying its trace ID) and starts over when they leave.
  const [held, setHeld] = useState(false);
  useEffect(() => {
    if (held) return;
    const timer = setTimeout(() => onDismiss(toast.id), toast.kind === 'error' ? ERROR_TOAST_MS : SUCCESS_TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast, onDismiss, held]);

  return (
    <div
      className={`toast toast-${toast.kind}`}
      data-testid="toast"
      data-count={toast.count}
      onPointerEnter={() => setHeld(true)}
      onPointerLeave={() => setHeld(false)}
      onFocus={() => setHeld(true)}
      onBlur={(event) => {
        if (!event.currentTarget.contains(event.relatedTarget as Node | null)) setHeld(false);
      }}
    >
      <div className="toast-body">
        <p className="toast-message">
          {toast.message}
          {toast.count > 1 && (
            <span className="toast-count">
              <span aria-hidden="true">×{toast.count}</span>
              <span className="sr-only">({toast.count} times)</span>
            </span>
          )}
        </p>
        {toast.traceId && !toast.message.includes(toast.traceId) && (
          <p className="toast-trace">
            Trace ID: <code>{toast.traceId}</code>
          </p>
        )}
      </div>
      <button type="button" className="toast-close" onClick={() => onDismiss(toast.id)} aria-label="Dismiss message">
        ×
      </button>
    </div>
  );
}
