import { act, render, screen } from '@testing-library/react';
import { CombinedGraphQLErrors } from '@apollo/client';
import { useEffect } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SUCCESS_TOAST_MS, ToastProvider, useToast } from './toast';

function Fire({ error }: { error?: unknown }) {
  const toast = useToast();
  useEffect(() => {
    if (error) toast.error('Could not start a story', error);
    else toast.success('Prompt added.');
  }, [toast, error]);
  return null;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('toasts', () => {
  it('announce a success politely and let it fade', () => {
    vi.useFakeTimers();
    render(
      <ToastProvider>
        <Fire />
      </ToastProvider>,
    );
    expect(screen.getByRole('status')).toHaveTextContent('Prompt added.');
    act(() => vi.advanceTimersByTime(SUCCESS_TOAST_MS + 10));
    expect(screen.queryByText('Prompt added.')).not.toBeInTheDocument();
  });

  it('keep an error, with its trace ID, until it is dismissed', () => {
    vi.useFakeTimers();
    const error = new CombinedGraphQLErrors({
      errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED' } }],
      extensions: { traceId: '0af7651916cd43dd8448eb211c80319c' },
    });
    render(
      <ToastProvider>
        <Fire error={error} />
      </ToastProvider>,
    );
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('Could not start a story: Too many requests just now.');
    expect(alert).toHaveTextContent('Trace ID: 0af7651916cd43dd8448eb211c80319c');

    act(() => vi.advanceTimersByTime(60_000));
    expect(screen.getByText('0af7651916cd43dd8448eb211c80319c')).toBeInTheDocument();

    act(() => screen.getByRole('button', { name: 'Dismiss message' }).click());
    expect(screen.queryByText(/Too many requests/)).not.toBeInTheDocument();
  });
});

describe('the toast stack', () => {
  it('shows at most three successes, dropping the oldest', () => {
    function Many() {
      const toast = useToast();
      useEffect(() => {
        for (let i = 1; i <= 5; i++) toast.success(`Saved ${i}.`);
      }, [toast]);
      return null;
    }
    render(
      <ToastProvider>
        <Many />
      </ToastProvider>,
    );
    expect(screen.getByRole('status').textContent).toBe('Saved 3.×Saved 4.×Saved 5.×');
  });
});
