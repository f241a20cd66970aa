import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { ErrorLink } from '@apollo/client/link/error';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { isSubscriptionOperation, relayStylePagination } from '@apollo/client/utilities';
import { createClient, type Client } from 'graphql-ws';
import type { Endpoints } from '../lib/config';
import { describeError } from '../lib/errors';
import { endOnDrop } from './drops';
import { PUBLIC_OPERATIONS, isTerminal, type StoryStatus } from './operations';
import type { Session } from './session';
import { createTraceLog, type TraceLog } from './trace';

/** State of the websocket that carries story streams. */
export type LiveState = 'idle' | 'connecting' | 'connected' | 'reconnecting';

/** A tiny external store (for useSyncExternalStore) of the websocket's state. */
export interface LiveStatus {
  get(): LiveState;
  subscribe(listener: () => void): () => void;
}

// The types behind the Node interface; IDs are unique across them.
const nodeTypes = ['Prompt', 'Story', 'User', 'ApiToken'];

/** The cache every storybot client uses: Relay connections merged page by page. */
export function createCache(): InMemoryCache {
  return new InMemoryCache({
    possibleTypes: { Node: nodeTypes },
    typePolicies: {
      Query: {
        fields: {
          // node(id) of an object the cache already holds is read from the cache, not fetched.
          node: {
            read(existing, { args, toReference, canRead }) {
              if (existing || typeof args?.id !== 'string') return existing;
              for (const __typename of nodeTypes) {
                const ref = toReference({ __typename, id: args.id });
                if (ref && canRead(ref)) return ref;
              }
              return undefined;
            },
          },
          prompts: relayStylePagination(['where', 'orderBy']),
          stories: relayStylePagination(['where', 'orderBy']),
        },
      },
      Prompt: {
        fields: {
          stories: relayStylePagination(['where', 'orderBy']),
        },
      },
      // A story only moves forward: its text grows, its token count rises, and a finished story
      // stays finished. A query answer that left the server before the latest stream event
      // cannot take the cached story back in time.
      Story: {
        fields: {
          status: {
            merge: (existing: StoryStatus | undefined, incoming: StoryStatus) =>
              existing && isTerminal(existing) && !isTerminal(incoming) ? existing : incoming,
          },
          text: {
            merge: (existing: string | undefined, incoming: string) =>
              existing && existing.length > incoming.length && existing.startsWith(incoming) ? existing : incoming,
          },
          tokenCount: {
            merge: (existing: number | undefined, incoming: number) => Math.max(existing ?? 0, incoming),
          },
        },
      },
    },
  });
}

/** Waits before the next reconnect attempt: exponential back-off with jitter, capped at 10 s. */
export function reconnectDelay(retries: number): number {
  const base = Math.min(10_000, 500 * 2 ** retries);
  return base / 2 + Math.random() * (base / 2);
}

function createLiveStatus(): LiveStatus & { set(state: LiveState): void } {
  let state: LiveState = 'idle';
  const listeners = new Set<() => void>();
  return {
    get: () => state,
    set(next) {
      if (next === state) return;
      state = next;
      listeners.forEach((listener) => listener());
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}

/**
 * Creates the graphql-ws client for subscriptions; it reconnects by itself and re-subscribes
 * (story streams excepted: they resume themselves after a cursor, see endOnDrop in drops.ts).
 */
export function createWsClient(url: string, status?: { set(state: LiveState): void }): Client {
  // Set when the socket went away on its own (not a normal close by the lazy client, nor one
  // that the app asked for after a sign-in or sign-out).
  let dropped = false;
  return createClient({
    url,
    lazy: true,
    // Keep an idle socket for a moment so that quickly switching stories does not reconnect.
    lazyCloseTimeout: 3_000,
    keepAlive: 15_000,
    retryAttempts: Number.POSITIVE_INFINITY,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, reconnectDelay(retries))),
    on: {
      connecting: () => status?.set(dropped ? 'reconnecting' : 'connecting'),
      connected: () => {
        dropped = false;
        status?.set('connected');
      },
      closed: (event) => {
        const code = (event as { code?: number } | undefined)?.code;
        dropped = code !== 1000 && code !== TERMINATED;
        status?.set(dropped ? 'reconnecting' : 'idle');
      },
    },
  });
}

// The close code of graphql-ws's terminate(): its subscriptions go on over a new socket.
const TERMINATED = 4499;

/** Everything the app needs to talk to storybot. */
export interface Api {
  client: ApolloClient;
  live: LiveStatus;
  session: Session;
  /** The trace ID of the latest HTTP answer. */
  traces: TraceLog;
}

/**
 * Creates the Apollo client: queries and mutations over HTTP, subscriptions over graphql-ws.
 * The browser sends the session cookie with both (same origin), so the app never holds a token.
 */
export function createApi(endpoints: Endpoints): Api {
  const live = createLiveStatus();
  const ws = createWsClient(endpoints.ws, live);
  const expired = new Set<() => void>();
  const session: Session = {
    // A websocket is signed in as whoever its handshake's cookie named: after a sign-in or a
    // sign-out, running subscriptions go on over a new socket, which carries the new cookie.
    changed: () => ws.terminate(),
    onExpired(listener) {
      expired.add(listener);
      return () => expired.delete(listener);
    },
  };
  // A story stream resumes after the last event it applied when its socket drops (src/stream).
  const wsLink = endOnDrop(ws).concat(new GraphQLWsLink(ws));
  const httpLink = new HttpLink({ uri: endpoints.http });
  // Only HTTP answers are remembered: every event of a stream carries a trace ID of its own.
  const traces = createTraceLog();
  const transport = ApolloLink.split(({ query }) => isSubscriptionOperation(query), wsLink, traces.link.concat(httpLink));
  const errorLink = new ErrorLink(({ error, operation }) => {
    // A public operation, or a stream followed with a share token, says nothing of the session.
    if (PUBLIC_OPERATIONS.has(operation.operationName ?? '') || operation.variables.shareToken) return;
    if (describeError(error).code === 'UNAUTHENTICATED') expired.forEach((listener) => listener());
  });
  const client = new ApolloClient({ link: ApolloLink.from([errorLink, transport]), cache: createCache() });
  return { client, live, session, traces: { last: traces.last } };
}
