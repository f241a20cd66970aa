import { CombinedGraphQLErrors } from '@apollo/client';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TraceContext } from '../graphql/trace';
import { ErrorBoundary } from './ErrorBoundary';
import { StatusBadge } from './StatusBadge';
import type { StoryStatus } from '../graphql/operations';

let broken = true;

function Fragile({ error }: { error?: unknown }) {
  if (broken) throw error ?? new Error('render failed');
  return <p>All is well</p>;
}

beforeEach(() => {
  broken = true;
  // React reports each caught render error on the console; the boundary is what is tested here.
  vi.spyOn(console, 'error').mockImplementation(() => {});
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ErrorBoundary', () => {
  it('shows "Something went wrong" with a way back, and the trace ID of the latest answer', async () => {
    const user = userEvent.setup();
    const onBack = vi.fn(() => {
      broken = false;
    });
    render(
      <TraceContext.Provider value={{ last: () => 'trace-latest' }}>
        <ErrorBoundary scope="page" onBack={onBack}>
          <Fragile />
        </ErrorBoundary>
      </TraceContext.Provider>,
    );
    const boundary = screen.getByTestId('error-boundary');
    expect(boundary).toHaveAttribute('role', 'alert');
    expect(screen.getByRole('heading', { name: 'Something went wrong' })).toHaveFocus();
    expect(boundary).toHaveTextContent('This page could not be shown.');
    expect(screen.getByTestId('boundary-trace')).toHaveTextContent('quote trace ID trace-latest (of the latest answer from the server)');
    expect(screen.getByRole('button', { name: 'Reload the page' })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Back to the prompts' }));
    expect(onBack).toHaveBeenCalled();
    expect(screen.getByText('All is well')).toBeInTheDocument();
    expect(screen.queryByTestId('error-boundary')).not.toBeInTheDocument();
  });

  it("quotes a failed request's own trace ID, and needs no trace log", () => {
    const error = new CombinedGraphQLErrors({ errors: [{ message: 'internal error', extensions: { code: 'INTERNAL' } }], extensions: { traceId: 'trace-own' } });
    render(
      <ErrorBoundary scope="app">
        <Fragile error={error} />
      </ErrorBoundary>,
    );
    expect(screen.getByTestId('boundary-trace')).toHaveTextContent('quote trace ID trace-own.');
    // At the root it stands in for the whole page.
    expect(screen.getByRole('heading', { name: 'storybot' })).toBeInTheDocument();
  });

  it('shows no trace ID when none is known', () => {
    render(
      <ErrorBoundary scope="page">
        <Fragile />
      </ErrorBoundary>,
    );
    expect(screen.getByRole('heading', { name: 'Something went wrong' })).toBeInTheDocument();
    expect(screen.queryByTestId('boundary-trace')).not.toBeInTheDocument();
  });

  it('asks for a reload when a story has a status this app does not know (a page older than its server)', () => {
    render(
      <ErrorBoundary scope="page">
        <StatusBadge status={'FROM_THE_FUTURE' as StoryStatus} />
      </ErrorBoundary>,
    );
    expect(screen.getByTestId('error-boundary')).toHaveTextContent('This page is older than the server it talks to');
  });
});
