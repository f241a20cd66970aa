import { ApolloClient, ApolloLink } from '@apollo/client';
import { ApolloProvider } from '@apollo/client/react';
import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { Observable, Subject } from 'rxjs';
import { createCache } from '../graphql/client';
import { CooldownProvider } from '../lib/cooldown';
import { StoryFollowers } from '../stream/follow';
import { ToastProvider } from '../toast/toast';

/** One operation that reached the fake server. */
export interface SentOperation {
  operationName: string;
  variables: Record<string, unknown>;
}

/** Answers an operation: a result, or a Subject to push subscription events through. */
export type Responder = (op: SentOperation) => ApolloLink.Result | Subject<ApolloLink.Result> | Error;

/** A fake GraphQL server behind an ApolloLink, with the operations it was sent. */
export function fakeServer(respond: Responder) {
  const sent: SentOperation[] = [];
  const link = new ApolloLink(
    (operation) =>
      new Observable<ApolloLink.Result>((observer) => {
        const op = { operationName: operation.operationName ?? '', variables: { ...operation.variables } };
        sent.push(op);
        const answer = respond(op);
        if (answer instanceof Subject) {
          const sub = answer.subscribe(observer);
          return () => sub.unsubscribe();
        }
        // Answer on a later tick, as a network would.
        const timer = setTimeout(() => {
          if (answer instanceof Error) {
            observer.error(answer);
            return;
          }
          observer.next(answer);
          observer.complete();
        }, 0);
        return () => clearTimeout(timer);
      }),
  );
  const client = new ApolloClient({ link, cache: createCache() });
  const named = (name: string) => sent.filter((op) => op.operationName === name);
  return { client, sent, named };
}

/** Renders ui inside an Apollo provider for client and a toast provider. */
export function renderWithApi(ui: ReactElement, client: ApolloClient): RenderResult {
  return render(
    <ApolloProvider client={client}>
      <ToastProvider>
        <CooldownProvider>
          <StoryFollowers>{ui}</StoryFollowers>
        </CooldownProvider>
      </ToastProvider>
    </ApolloProvider>,
  );
}

/** A prompt as the API returns it. */
export function prompt(id: string, content: string, createdAt = '2025-01-02T10:00:00Z', stories = 0, options: Record<string, unknown> = {}) {
  return {
    __typename: 'Prompt' as const,
    id,
    content,
    createdAt,
    options: storyOptions(options),
    storyCount: { __typename: 'StoryConnection' as const, totalCount: stories },
  };
}

/** Story options as the API returns them: every field null unless given. */
export function storyOptions(options: Record<string, unknown> = {}) {
  return { __typename: 'StoryOptions' as const, audience: null, genre: null, tone: null, length: null, language: null, ...options };
}

/** A page of a connection as the API returns it; each cursor names its node. */
export function connection<T extends { id: string }>(typename: string, nodes: T[], hasNextPage = false, totalCount = nodes.length) {
  return {
    __typename: `${typename}Connection`,
    edges: nodes.map((node) => ({ __typename: `${typename}Edge`, cursor: `cursor-${node.id}`, node })),
    pageInfo: {
      __typename: 'PageInfo',
      hasNextPage,
      endCursor: nodes.length ? `cursor-${nodes[nodes.length - 1]!.id}` : null,
    },
    totalCount,
  };
}

/** A story as the API returns it. */
export function story(id: string, promptId: string, overrides: Record<string, unknown> = {}) {
  return {
    __typename: 'Story' as const,
    id,
    status: 'GENERATING',
    tokenCount: 0,
    model: 'storyteller',
    createdAt: '2025-01-02T10:05:00Z',
    finishedAt: null,
    text: '',
    title: null,
    error: null,
    startedAt: '2025-01-02T10:05:01Z',
    shareToken: null,
    maxTokens: 600,
    options: storyOptions(),
    prompt: { __typename: 'Prompt' as const, id: promptId },
    ...overrides,
  };
}

/** A storyStream event as the API sends it; its cursor names the story and seq unless given. */
export function streamEvent(
  storyID: string,
  seq: number,
  delta: string,
  status = 'GENERATING',
  tokenCount = seq,
  error: string | null = null,
  cursor = `${storyID}@${seq}`,
) {
  return { data: { storyStream: { __typename: 'StoryEvent', storyID, seq, delta, status, tokenCount, error, cursor } } };
}

/** A signed-in user as the API returns it. */
export function viewer(overrides: Record<string, unknown> = {}) {
  return {
    __typename: 'User' as const,
    id: 'u-1',
    email: 'ada@example.com',
    name: 'Ada',
    role: 'ADMIN',
    usage: { __typename: 'Usage' as const, tokensToday: 1234, dailyTokenLimit: null, storiesRunning: 0, maxRunning: 3 },
    ...overrides,
  };
}

/** A GraphQL error answer with an extensions.code (and more extensions). */
export function graphqlError(code: string, message = code.toLowerCase(), extensions: Record<string, unknown> = {}) {
  return { data: null, errors: [{ message, extensions: { code, ...extensions } }] };
}

/** The node of a node(id) answer, of the type named: the test fails when it is another or none. */
export function nodeAs<N extends { __typename: string }, T extends N['__typename']>(node: N | null | undefined, typename: T): Extract<N, { __typename: T }> {
  if (node?.__typename !== typename) throw new Error(`node is ${node?.__typename ?? String(node)}, want ${typename}`);
  return node as Extract<N, { __typename: T }>;
}
