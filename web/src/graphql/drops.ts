import { ApolloLink } from '@apollo/client';
import type { Client } from 'graphql-ws';
import { Observable } from 'rxjs';

/** The context of a subscription whose owner resumes it itself after a dropped connection. */
export const RESUMABLE = { resumable: true } as const;

/**
 * What a resumable subscription ends with when its websocket drops after it received something:
 * its owner subscribes again, after the last event it applied.
 */
export class ConnectionDroppedError extends Error {
  /** The close code of the socket that went away (1012 when a storybot replica restarts). */
  readonly closeCode: number | undefined;

  constructor(closeCode?: number, reason?: string) {
    super(`The connection to storybot dropped${closeCode ? ` (${closeCode}${reason ? ` ${reason}` : ''})` : ''}.`);
    this.name = 'ConnectionDroppedError';
    this.closeCode = closeCode;
  }
}

/**
 * After a reconnect graphql-ws subscribes again by itself, with the variables the subscription
 * started with: a stream would start over from where it started. For an operation whose context
 * is RESUMABLE, this link ends the subscription with a ConnectionDroppedError instead, as soon as
 * its socket closes, so that its owner subscribes again from where it got to; graphql-ws, having
 * been told to stop, sends nothing stale on the new socket. Until the first result, starting
 * again with the same variables is still right, and is left to graphql-ws (which also paces the
 * attempts of a server that is down). Goes before the GraphQLWsLink of ws.
 */
export function endOnDrop(ws: Pick<Client, 'on'>): ApolloLink {
  return new ApolloLink((operation, forward) => {
    if (operation.getContext().resumable !== true) return forward(operation);
    return new Observable<ApolloLink.Result>((observer) => {
      let received = false;
      const inner = forward(operation).subscribe({
        next(result) {
          received = true;
          observer.next(result);
        },
        error: (error: unknown) => observer.error(error),
        complete: () => observer.complete(),
      });
      const unlisten = ws.on('closed', (event) => {
        if (!received) return;
        unlisten();
        inner.unsubscribe();
        const { code, reason } = (event ?? {}) as { code?: number; reason?: string };
        observer.error(new ConnectionDroppedError(code, reason));
      });
      return () => {
        unlisten();
        inner.unsubscribe();
      };
    });
  });
}
