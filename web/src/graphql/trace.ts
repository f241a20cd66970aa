import { ApolloLink } from '@apollo/client';
import { createContext } from 'react';
import { tap } from 'rxjs';
import { describeError } from '../lib/errors';

/**
 * The trace ID of the latest answer from the server, for the error boundary: a page that broke
 * on what an answer held can name that answer when it is reported.
 */
export interface TraceLog {
  last(): string | undefined;
}

/** A TraceLog, and the link that fills it from the answers that pass through. */
export function createTraceLog(): TraceLog & { link: ApolloLink } {
  let last: string | undefined;
  const remember = (id: string | undefined) => {
    if (id) last = id;
  };
  const link = new ApolloLink((operation, forward) =>
    forward(operation).pipe(
      tap({
        next: (result) => {
          const id = (result.extensions as { traceId?: unknown } | undefined)?.traceId;
          remember(typeof id === 'string' ? id : undefined);
        },
        error: (error) => remember(describeError(error).traceId),
      }),
    ),
  );
  return { last: () => last, link };
}

/** Carries the app's TraceLog to the error boundaries. */
export const TraceContext = createContext<TraceLog | null>(null);
