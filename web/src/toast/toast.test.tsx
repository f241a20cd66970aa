import { act, fireEvent, render, screen } from '@testing-library/react';
import { CombinedGraphQLErrors } from '@apollo/client';
import { useEffect } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ERROR_TOAST_MS, MAX_TOASTS, SUCCESS_TOAST_MS, ToastProvider, useToast, type Toaster } from './toast';

function Fire({ error }: { error?: unknown }) {
  const toast = useToast();
  useEffect(() => {
    if (error) toast.error('Could not start a story', error);
    else toast.success('Prompt added.');
  }, [toast, error]);
  return null;
}

// Renders a provider and hands out its toaster.
function setup(): Toaster {
  let toaster: Toaster | null = null;
  function Grab() {
    toaster = useToast();
    return null;
  }
  render(
    <ToastProvider>
      <Grab />
    </ToastProvider>,
  );
  return toaster!;
}

const rateLimited = (seconds: number) =>
  new CombinedGraphQLErrors({ errors: [{ message: 'rate limited', extensions: { code: 'RATE_LIMITED', retryAfter: seconds } }], extensions: { traceId: `t-${seconds}` } });

const toasts = () => screen.queryAllByTestId('toast');

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

  it('keep an error, with its trace ID, longer than a success, then let it fade too', () => {
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
    expect(ERROR_TOAST_MS).toBeGreaterThan(SUCCESS_TOAST_MS);

    act(() => vi.advanceTimersByTime(SUCCESS_TOAST_MS + 10));
    expect(screen.getByText('0af7651916cd43dd8448eb211c80319c')).toBeInTheDocument();
    act(() => vi.advanceTimersByTime(ERROR_TOAST_MS - SUCCESS_TOAST_MS));
    expect(screen.queryByText(/Too many requests/)).not.toBeInTheDocument();
  });

  it('can be dismissed at once', () => {
    const toaster = setup();
    act(() => toaster.error('Could not delete the prompt', new Error('boom')));
    act(() => screen.getByRole('button', { name: 'Dismiss message' }).click());
    expect(toasts()).toHaveLength(0);
  });

  it('stay while the pointer or the focus is on them', () => {
    vi.useFakeTimers();
    const toaster = setup();
    act(() => toaster.error('Could not delete the prompt', new Error('boom')));
    const toast = screen.getByTestId('toast');
    fireEvent.pointerEnter(toast);
    act(() => vi.advanceTimersByTime(ERROR_TOAST_MS * 3));
    expect(toasts()).toHaveLength(1);
    fireEvent.pointerLeave(toast);
    act(() => vi.advanceTimersByTime(ERROR_TOAST_MS + 10));
    expect(toasts()).toHaveLength(0);
  });

  it('name the trace ID of an INTERNAL error once, in its sentence', () => {
    const toaster = setup();
    act(() => toaster.error('Could not add the prompt', new CombinedGraphQLErrors({ errors: [{ message: 'internal error', extensions: { code: 'INTERNAL', traceId: 'abc' } }] })));
    expect(screen.getByRole('alert')).toHaveTextContent('Could not add the prompt: The server ran into a problem. If it keeps happening, report it with trace ID abc.');
    expect(screen.queryByText(/^Trace ID:/)).not.toBeInTheDocument();
  });
});

describe('the toast stack', () => {
  it('shows at most three toasts, dropping the oldest, errors and successes alike', () => {
    const toaster = setup();
    act(() => {
      toaster.success('Saved 1.');
      toaster.error('Could not share the story', new Error('one'));
      toaster.success('Saved 2.');
      toaster.error('Could not cancel the story', new Error('two'));
      toaster.success('Saved 3.');
    });
    expect(MAX_TOASTS).toBe(3);
    expect(toasts().map((t) => t.querySelector('.toast-message')?.textContent)).toEqual([
      'Saved 2.',
      'Saved 3.',
      'Could not cancel the story: two',
    ]);
  });

  it('merges a repeat into one toast with a count, and starts its time over', () => {
    vi.useFakeTimers();
    const toaster = setup();
    act(() => toaster.error('Could not delete the prompt', new Error('boom')));
    act(() => vi.advanceTimersByTime(ERROR_TOAST_MS - 1000));
    act(() => {
      toaster.error('Could not delete the prompt', new Error('boom'));
      toaster.error('Could not delete the prompt', new Error('boom'));
    });
    expect(toasts()).toHaveLength(1);
    expect(toasts()[0]).toHaveAttribute('data-count', '3');
    expect(toasts()[0]).toHaveTextContent('×3');
    expect(toasts()[0]).toHaveTextContent('(3 times)');
    act(() => vi.advanceTimersByTime(2000));
    expect(toasts()).toHaveLength(1);
    act(() => vi.advanceTimersByTime(ERROR_TOAST_MS));
    expect(toasts()).toHaveLength(0);
  });

  it('merges rate limits whatever their wait, keeping the newest words and trace ID', () => {
    const toaster = setup();
    act(() => {
      toaster.error('Could not start a story', rateLimited(30));
      toaster.error('Could not start a story', rateLimited(28));
      toaster.error('Could not start a story', rateLimited(27));
      toaster.success('Prompt added.');
    });
    expect(toasts()).toHaveLength(2);
    const merged = screen.getByRole('alert');
    expect(merged).toHaveTextContent('Could not start a story: Too many requests just now. Try again in 27 seconds.×3');
    expect(merged).toHaveTextContent('Trace ID: t-27');
  });

  it('keeps different failures apart', () => {
    const toaster = setup();
    act(() => {
      toaster.error('Could not start a story', rateLimited(30));
      toaster.error('Could not add the prompt', rateLimited(30));
    });
    expect(toasts()).toHaveLength(2);
  });
});

describe('the toast dock', () => {
  it('is a row of its own after the page, not laid over it', () => {
    const toaster = setup();
    act(() => toaster.success('Saved.'));
    const dock = screen.getByTestId('toasts');
    expect(dock).toHaveClass('has-toasts');
    expect(dock.previousElementSibling).toHaveClass('frame-content');
    expect(dock.parentElement).toHaveClass('frame');
  });
});
