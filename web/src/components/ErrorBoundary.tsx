import { Component, createRef, type ReactNode } from 'react';
import { TraceContext, type TraceLog } from '../graphql/trace';
import { describeError } from '../lib/errors';
import { UnknownStatusError } from './StatusBadge';

/** Props of ErrorBoundary. */
export interface ErrorBoundaryProps {
  children: ReactNode;
  /**
   * 'app' stands in for the whole page (at the root, with nothing around it: "Back to the
   * prompts" loads the app afresh); 'page' stands in for one page inside the app's frame.
   */
  scope: 'app' | 'page';
  /** "Back to the prompts" on a page: go there; the boundary then shows its children again. */
  onBack?(): void;
}

interface ErrorBoundaryState {
  error: unknown;
  /** The trace ID to quote: the error's own, or else the latest answer's. */
  traceId: string | null;
  ownTrace: boolean;
}

/**
 * What a render error leaves instead of a blank page: "Something went wrong", a way back to the
 * prompts and a reload, and the trace ID to report when one is known. The app has one at its
 * root and one around each page.
 */
export class ErrorBoundary extends Component<ErrorBoundaryProps, ErrorBoundaryState> {
  static contextType = TraceContext;
  declare context: TraceLog | null;

  state: ErrorBoundaryState = { error: null, traceId: null, ownTrace: false };
  private heading = createRef<HTMLHeadingElement>();

  static getDerivedStateFromError(error: unknown): Partial<ErrorBoundaryState> {
    const own = describeError(error).traceId;
    return { error, traceId: own ?? null, ownTrace: own !== undefined };
  }

  componentDidCatch(): void {
    // React reports the error itself (console.error); here it only gains a trace ID to quote.
    if (!this.state.ownTrace) this.setState({ traceId: this.context?.last() ?? null });
    this.heading.current?.focus();
  }

  private back = () => {
    if (this.props.scope === 'app' || !this.props.onBack) {
      window.location.assign('/');
      return;
    }
    this.props.onBack();
    this.setState({ error: null, traceId: null, ownTrace: false });
  };

  render() {
    const { error, traceId, ownTrace } = this.state;
    if (error === null) return this.props.children;
    const outdated = error instanceof UnknownStatusError;
    const card = (
      <section className="card boundary" role="alert" aria-labelledby="boundary-heading" data-testid="error-boundary">
        <h2 id="boundary-heading" ref={this.heading} tabIndex={-1}>
          Something went wrong
        </h2>
        <p>
          {outdated
            ? 'This page is older than the server it talks to (storybot was just updated). Reload it to get the current version.'
            : 'This page could not be shown. Nothing you wrote is lost: go back to your prompts, or reload the page.'}
        </p>
        {traceId && (
          <p className="muted" data-testid="boundary-trace">
            To report the problem, quote trace ID <code>{traceId}</code>
            {ownTrace ? '.' : ' (of the latest answer from the server).'}
          </p>
        )}
        <div className="boundary-actions">
          <button type="button" className="button primary" onClick={() => window.location.reload()}>
            Reload the page
          </button>
          <button type="button" className="button" onClick={this.back}>
            Back to the prompts
          </button>
        </div>
      </section>
    );
    if (this.props.scope === 'page') {
      return (
        <main id="main" className="page">
          {card}
        </main>
      );
    }
    return (
      <div className="auth">
        <main id="main" className="auth-main">
          <h1 className="brand">
            <img src="/favicon.svg" alt="" width="28" height="28" />
            storybot
          </h1>
          {card}
        </main>
      </div>
    );
  }
}
