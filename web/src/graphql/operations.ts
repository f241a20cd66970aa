import { gql, type TypedDocumentNode } from '@apollo/client';

/** Lifecycle of a story, as the API reports it. */
export type StoryStatus = 'PENDING' | 'GENERATING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

const terminalStatuses: ReadonlySet<StoryStatus> = new Set<StoryStatus>(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Reports whether a story has stopped changing. */
export function isTerminal(status: StoryStatus): boolean {
  return terminalStatuses.has(status);
}

export interface PageInfo {
  hasNextPage: boolean;
  endCursor: string | null;
}

export interface Connection<T> {
  edges: ReadonlyArray<{ cursor: string; node: T | null } | null> | null;
  pageInfo: PageInfo;
  totalCount: number;
}

/** The nodes of a connection, without the nulls a Relay connection may hold. */
export function nodesOf<T>(connection: Connection<T> | null | undefined): T[] {
  const nodes: T[] = [];
  for (const edge of connection?.edges ?? []) {
    if (edge?.node) nodes.push(edge.node);
  }
  return nodes;
}

export interface Prompt {
  __typename: 'Prompt';
  id: string;
  content: string;
  createdAt: string;
}

export interface StorySummary {
  __typename: 'Story';
  id: string;
  status: StoryStatus;
  tokenCount: number;
  model: string;
  createdAt: string;
  finishedAt: string | null;
}

export interface Story extends StorySummary {
  text: string;
  error: string | null;
  startedAt: string | null;
  prompt: { __typename: 'Prompt'; id: string };
}

export interface StoryEvent {
  storyID: string;
  seq: number;
  delta: string;
  status: StoryStatus;
  tokenCount: number;
  error: string | null;
}

export const PROMPT_FIELDS = gql`
  fragment PromptFields on Prompt {
    id
    content
    createdAt
  }
`;

export const STORY_SUMMARY_FIELDS = gql`
  fragment StorySummaryFields on Story {
    id
    status
    tokenCount
    model
    createdAt
    finishedAt
  }
`;

export const STORY_FIELDS = gql`
  fragment StoryFields on Story {
    ...StorySummaryFields
    text
    error
    startedAt
    prompt {
      id
    }
  }
  ${STORY_SUMMARY_FIELDS}
`;

/** Page size of the prompt list and of each prompt's stories. */
export const PAGE_SIZE = 20;

export const PROMPTS: TypedDocumentNode<
  { prompts: Connection<Prompt> },
  { first: number; after?: string | null }
> = gql`
  query Prompts($first: Int!, $after: Cursor) {
    prompts(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...PromptFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
      totalCount
    }
  }
  ${PROMPT_FIELDS}
`;

export const PROMPT_WITH_STORIES: TypedDocumentNode<
  { node: (Prompt & { stories: Connection<StorySummary> }) | null },
  { id: string; first: number; after?: string | null }
> = gql`
  query PromptWithStories($id: ID!, $first: Int!, $after: Cursor) {
    node(id: $id) {
      id
      ... on Prompt {
        ...PromptFields
        stories(first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {
          edges {
            cursor
            node {
              ...StorySummaryFields
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
          totalCount
        }
      }
    }
  }
  ${PROMPT_FIELDS}
  ${STORY_SUMMARY_FIELDS}
`;

export const STORY: TypedDocumentNode<{ node: Story | null }, { id: string }> = gql`
  query Story($id: ID!) {
    node(id: $id) {
      id
      ... on Story {
        ...StoryFields
      }
    }
  }
  ${STORY_FIELDS}
`;

export const CREATE_PROMPT: TypedDocumentNode<{ createPrompt: Prompt }, { content: string }> = gql`
  mutation CreatePrompt($content: String!) {
    createPrompt(input: { content: $content }) {
      ...PromptFields
    }
  }
  ${PROMPT_FIELDS}
`;

export const DELETE_PROMPT: TypedDocumentNode<{ deletePrompt: string }, { id: string }> = gql`
  mutation DeletePrompt($id: ID!) {
    deletePrompt(id: $id)
  }
`;

export const GENERATE_STORY: TypedDocumentNode<{ generateStory: Story }, { promptID: string }> = gql`
  mutation GenerateStory($promptID: ID!) {
    generateStory(input: { promptID: $promptID }) {
      ...StoryFields
    }
  }
  ${STORY_FIELDS}
`;

export const CANCEL_STORY: TypedDocumentNode<{ cancelStory: Story }, { id: string }> = gql`
  mutation CancelStory($id: ID!) {
    cancelStory(id: $id) {
      ...StoryFields
    }
  }
  ${STORY_FIELDS}
`;

export const STORY_STREAM: TypedDocumentNode<{ storyStream: StoryEvent }, { storyID: string }> = gql`
  subscription StoryStream($storyID: ID!) {
    storyStream(storyID: $storyID) {
      storyID
      seq
      delta
      status
      tokenCount
      error
    }
  }
`;
