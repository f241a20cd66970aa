import { createGraphiQLFetcher, type Fetcher } from '@graphiql/toolkit';
import { createClient, type Client, type ClientOptions } from 'graphql-ws';
import { reconnectDelay } from '../graphql/client';

/** The connection_init payload that carries a websocket's credentials. */
export type ConnectionParams = { authorization: string };

/** Options of createPlaygroundFetcher. */
export interface PlaygroundFetcherOptions {
  http: string;
  ws: string;
  /** Makes the graphql-ws clients; createClient by default (tests pass a fake). */
  makeWsClient?: (options: ClientOptions) => Client;
  fetch?: typeof fetch;
}

/** The Authorization header among GraphiQL's request headers (any case), if one is set. */
export function authorizationOf(headers: Record<string, unknown> | undefined): string | undefined {
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (name.toLowerCase() === 'authorization' && typeof value === 'string' && value.trim() !== '') return value.trim();
  }
  return undefined;
}

/**
 * GraphiQL's fetcher for storybot. Queries and mutations go over HTTP with the headers of
 * GraphiQL's headers editor (and the session cookie, the page being on the API's origin).
 * Subscriptions go over graphql-ws, whose requests carry no headers: an Authorization header
 * typed in the editor goes into the socket's connection_init payload instead, as
 * {"authorization": "Bearer …"}. Each distinct header gets its own socket, so a changed token
 * never rides on a socket opened with another.
 */
export function createPlaygroundFetcher({ http, ws, makeWsClient = createClient, fetch: fetchImpl }: PlaygroundFetcherOptions): Fetcher {
  const fetchers = new Map<string, Fetcher>();
  return (params, opts) => {
    const authorization = authorizationOf(opts?.headers);
    const key = authorization ?? '';
    let fetcher = fetchers.get(key);
    if (!fetcher) {
      const connectionParams: ConnectionParams | undefined = authorization ? { authorization } : undefined;
      fetcher = createGraphiQLFetcher({
        url: http,
        fetch: fetchImpl,
        wsClient: makeWsClient({
          url: ws,
          lazy: true,
          connectionParams,
          retryAttempts: 5,
          retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, reconnectDelay(retries))),
        }),
      });
      fetchers.set(key, fetcher);
    }
    return fetcher(params, opts);
  };
}
