import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from 'react';
import { describeError } from '../lib/errors';

/** One message in the toast stack. */
export interface Toast {
  id: number;
  kind: 'success' | 'error';
  message: string;
  traceId?: string;
}

/** Shows toasts: successes fade after a few seconds, errors stay until dismissed. */
export interface Toaster {
  success(message: string): void;
  /** Shows what went wrong with a request, with its trace ID when the server sent one. */
  error(context: string, error: unknown): void;
}

const ToastContext = createContext<Toaster | null>(null);

/** How long a success toast stays on screen. */
export const SUCCESS_TOAST_MS = 4_000;

// At most this many success toasts show at once; older ones make way.
const MAX_SUCCESS_TOASTS = 3;

/** Provides useToast() to its children and renders the toast stack. */
export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const nextId = useRef(1);

  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((t) => t.id !== id)), []);

  const toaster = useMemo<Toaster>(
    () => ({
      success(message) {
        const id = nextId.current++;
        setToasts((all) => {
          const successes = all.filter((t) => t.kind === 'success');
          const dropped = new Set(successes.slice(0, Math.max(0, successes.length - MAX_SUCCESS_TOASTS + 1)).map((t) => t.id));
          return [...all.filter((t) => !dropped.has(t.id)), { id, kind: 'success', message }];
        });
      },
      error(context, error) {
        const id = nextId.current++;
        const report = describeError(error);
        setToasts((all) => [...all, { id, kind: 'error', message: `${context}: ${report.message}`, traceId: report.traceId }]);
      },
    }),
    [],
  );

  return (
    <ToastContext.Provider value={toaster}>
      {children}
      <ToastStack toasts={toasts} onDismiss={dismiss} />
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
    <div className="toasts">
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
  useEffect(() => {
    if (toast.kind !== 'success') return;
    const timer = setTimeout(() => onDismiss(toast.id), SUCCESS_TOAST_MS);
    return () => clearTimeout(timer);
  }, [toast, onDismiss]);

  return (
    <div className={`toast toast-${toast.kind}`} data-testid="toast">
      <div className="toast-body">
        <p className="toast-message">{toast.message}</p>
        {toast.traceId && (
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
