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

/** Who a story is written for. */
export type Audience = 'CHILDREN' | 'TEENS' | 'ADULTS';

/** About how long a story should be (SHORT 300, MEDIUM 600, LONG 1,200 tokens). */
export type StoryLength = 'SHORT' | 'MEDIUM' | 'LONG';

/** How a story is personalised; null fields ask for nothing in particular. */
export interface StoryOptions {
  __typename?: 'StoryOptions';
  audience: Audience | null;
  genre: string | null;
  tone: string | null;
  length: StoryLength | null;
  /** BCP 47 language tag, e.g. en, zh-TW. */
  language: string | null;
}

/** Changes to story options: a field given replaces one, null clears it, one omitted keeps it. */
export type StoryOptionsInput = Partial<Omit<StoryOptions, '__typename'>>;

export interface Prompt {
  __typename: 'Prompt';
  id: string;
  content: string;
  createdAt: string;
  /** Defaults for the prompt's stories. */
  options: StoryOptions;
  /** How many stories the prompt has (its stories connection's totalCount alone). */
  storyCount: { __typename?: 'StoryConnection'; totalCount: number };
}

export interface StorySummary {
  __typename: 'Story';
  id: string;
  status: StoryStatus;
  tokenCount: number;
  model: string;
  createdAt: string;
  finishedAt: string | null;
  /** The text so far: a list row shows its first words, to tell stories apart. */
  text: string;
  /** A short title, given soon after the story ends (or by its owner); a row shows it instead of the first words. */
  title: string | null;
}

export interface Story extends StorySummary {
  error: string | null;
  startedAt: string | null;
  /** Set while the story is shared: the link /s/<shareToken> shows it to anyone. */
  shareToken: string | null;
  prompt: { __typename: 'Prompt'; id: string };
  /** The options the story was written with. */
  options: StoryOptions;
  maxTokens: number;
}

/** A story as a share link shows it: with its prompt's text. */
export interface SharedStory extends Omit<Story, 'prompt'> {
  prompt: { __typename: 'Prompt'; id: string; content: string };
}

export interface StoryEvent {
  storyID: string;
  seq: number;
  delta: string;
  status: StoryStatus;
  tokenCount: number;
  error: string | null;
  /** The position after this event's delta, opaque: storyStream(after:) resumes from it. */
  cursor: string;
}

// storyCount is an alias: PROMPT_WITH_STORIES also selects stories, with other arguments.
// first: 0 asks for the count alone, which the server's complexity limit costs as one field
// (without first, each prompt of a page would cost a full page of stories).
export const STORY_OPTIONS_FIELDS = gql`
  fragment StoryOptionsFields on StoryOptions {
    audience
    genre
    tone
    length
    language
  }
`;

export const PROMPT_FIELDS = gql`
  fragment PromptFields on Prompt {
    id
    content
    createdAt
    options {
      ...StoryOptionsFields
    }
    storyCount: stories(first: 0) {
      totalCount
    }
  }
  ${STORY_OPTIONS_FIELDS}
`;

export const STORY_SUMMARY_FIELDS = gql`
  fragment StorySummaryFields on Story {
    id
    status
    tokenCount
    model
    createdAt
    finishedAt
    text
    title
  }
`;

export const STORY_FIELDS = gql`
  fragment StoryFields on Story {
    ...StorySummaryFields
    text
    error
    startedAt
    shareToken
    maxTokens
    options {
      ...StoryOptionsFields
    }
    prompt {
      id
    }
  }
  ${STORY_SUMMARY_FIELDS}
  ${STORY_OPTIONS_FIELDS}
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

export const CREATE_PROMPT: TypedDocumentNode<{ createPrompt: Prompt }, { content: string; options?: StoryOptionsInput | null }> = gql`
  mutation CreatePrompt($content: String!, $options: StoryOptionsInput) {
    createPrompt(input: { content: $content, options: $options }) {
      ...PromptFields
    }
  }
  ${PROMPT_FIELDS}
`;

export const UPDATE_PROMPT: TypedDocumentNode<{ updatePrompt: Prompt }, { id: string; content: string; options?: StoryOptionsInput | null }> = gql`
  mutation UpdatePrompt($id: ID!, $content: String!, $options: StoryOptionsInput) {
    updatePrompt(id: $id, input: { content: $content, options: $options }) {
      ...PromptFields
    }
  }
  ${PROMPT_FIELDS}
`;

/** A prompt's number of stories, read again before asking whether to delete them all. */
export const PROMPT_STORY_COUNT: TypedDocumentNode<
  { node: Pick<Prompt, '__typename' | 'id' | 'storyCount'> | null },
  { id: string }
> = gql`
  query PromptStoryCount($id: ID!) {
    node(id: $id) {
      id
      ... on Prompt {
        storyCount: stories(first: 0) {
          totalCount
        }
      }
    }
  }
`;

export const DELETE_PROMPT: TypedDocumentNode<{ deletePrompt: string }, { id: string }> = gql`
  mutation DeletePrompt($id: ID!) {
    deletePrompt(id: $id)
  }
`;

export const GENERATE_STORY: TypedDocumentNode<
  { generateStory: Story },
  { promptID: string; model?: string | null; options?: StoryOptionsInput | null }
> = gql`
  mutation GenerateStory($promptID: ID!, $model: String, $options: StoryOptionsInput) {
    generateStory(input: { promptID: $promptID, model: $model, options: $options }) {
      ...StoryFields
    }
  }
  ${STORY_FIELDS}
`;

/** Writes more of a finished story: it goes back to PENDING, then GENERATING, its text kept. */
export const CONTINUE_STORY: TypedDocumentNode<
  { continueStory: Story },
  { id: string; input?: { maxTokens?: number | null; instruction?: string | null } | null }
> = gql`
  mutation ContinueStory($id: ID!, $input: ContinueStoryInput) {
    continueStory(id: $id, input: $input) {
      ...StoryFields
    }
  }
  ${STORY_FIELDS}
`;

/** A new story (a version) from the same prompt and options; the old one is kept. */
export const REGENERATE_STORY: TypedDocumentNode<{ regenerateStory: Story }, { id: string }> = gql`
  mutation RegenerateStory($id: ID!) {
    regenerateStory(id: $id) {
      ...StoryFields
    }
  }
  ${STORY_FIELDS}
`;

/** Changes a story's title; null removes it. */
export const UPDATE_STORY: TypedDocumentNode<{ updateStory: Pick<Story, '__typename' | 'id' | 'title'> }, { id: string; title: string | null }> = gql`
  mutation UpdateStory($id: ID!, $title: String) {
    updateStory(id: $id, input: { title: $title }) {
      id
      title
    }
  }
`;

export const CANCEL_STORY: TypedDocumentNode<{ cancelStory: Story }, { id: string }> = gql`
  mutation CancelStory($id: ID!) {
    cancelStory(id: $id) {
      ...StoryFields
    }
  }
  ${STORY_FIELDS}
`;

/**
 * A story's events as it is written. Without after, the first event holds all the text so far;
 * after an event's cursor, only what followed it.
 */
export const STORY_STREAM: TypedDocumentNode<{ storyStream: StoryEvent }, { storyID: string; after?: string; shareToken?: string }> = gql`
  subscription StoryStream($storyID: ID!, $after: String, $shareToken: String) {
    storyStream(storyID: $storyID, after: $after, shareToken: $shareToken) {
      storyID
      seq
      delta
      status
      tokenCount
      error
      cursor
    }
  }
`;

/** The models generateStory accepts; the first is the server's default. */
export const MODELS: TypedDocumentNode<{ models: string[] }, Record<string, never>> = gql`
  query Models {
    models
  }
`;

export const SHARE_STORY: TypedDocumentNode<{ shareStory: Pick<Story, '__typename' | 'id' | 'shareToken'> }, { id: string }> = gql`
  mutation ShareStory($id: ID!) {
    shareStory(id: $id) {
      id
      shareToken
    }
  }
`;

export const UNSHARE_STORY: TypedDocumentNode<{ unshareStory: Pick<Story, '__typename' | 'id' | 'shareToken'> }, { id: string }> = gql`
  mutation UnshareStory($id: ID!) {
    unshareStory(id: $id) {
      id
      shareToken
    }
  }
`;

/** The story a share link shows; null when the token shares nothing (any more). */
export const SHARED_STORY: TypedDocumentNode<{ sharedStory: SharedStory | null }, { token: string }> = gql`
  query SharedStory($token: String!) {
    sharedStory(token: $token) {
      ...StoryFields
      prompt {
        id
        content
      }
    }
  }
  ${STORY_FIELDS}
`;

// ---------------------------------------------------------------------------------------------
// Accounts

export type Role = 'USER' | 'ADMIN';

/** A user's model usage today (UTC) and its limits; a null limit is no limit. */
export interface Usage {
  __typename: 'Usage';
  tokensToday: number;
  dailyTokenLimit: number | null;
  storiesRunning: number;
  maxRunning: number | null;
}

/** The signed-in user. */
export interface Viewer {
  __typename: 'User';
  id: string;
  email: string;
  name: string | null;
  role: Role;
  usage: Usage;
}

export const USAGE_FIELDS = gql`
  fragment UsageFields on Usage {
    tokensToday
    dailyTokenLimit
    storiesRunning
    maxRunning
  }
`;

/** Who is signed in: null without valid credentials. The app asks it first. */
export const VIEWER: TypedDocumentNode<{ viewer: Viewer | null }, Record<string, never>> = gql`
  query Viewer {
    viewer {
      id
      email
      name
      role
      usage {
        ...UsageFields
      }
    }
  }
  ${USAGE_FIELDS}
`;

/** The signed-in user's usage alone, to refresh it. */
export const USAGE: TypedDocumentNode<{ viewer: Pick<Viewer, '__typename' | 'id' | 'usage'> | null }, Record<string, never>> = gql`
  query Usage {
    viewer {
      id
      usage {
        ...UsageFields
      }
    }
  }
  ${USAGE_FIELDS}
`;

/** What signUp and signIn answer; the app then asks VIEWER again, with the new cookie. */
type SignedIn = Pick<Viewer, '__typename' | 'id' | 'email'>;

export const SIGN_UP: TypedDocumentNode<{ signUp: SignedIn }, { input: { email: string; password: string; name?: string | null } }> = gql`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      id
      email
    }
  }
`;

export const SIGN_IN: TypedDocumentNode<{ signIn: SignedIn }, { input: { email: string; password: string } }> = gql`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) {
      id
      email
    }
  }
`;

export const SIGN_OUT: TypedDocumentNode<{ signOut: boolean }, Record<string, never>> = gql`
  mutation SignOut {
    signOut
  }
`;

/** Operations that work without credentials, whose UNAUTHENTICATED answer says nothing about the session. */
export const PUBLIC_OPERATIONS: ReadonlySet<string> = new Set(['Viewer', 'Usage', 'Models', 'SignUp', 'SignIn', 'SignOut', 'SharedStory']);

/** A personal API token (never its secret, which only createApiToken's answer holds). */
export interface ApiToken {
  __typename: 'ApiToken';
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
}

export const API_TOKEN_FIELDS = gql`
  fragment ApiTokenFields on ApiToken {
    id
    name
    createdAt
    lastUsedAt
    expiresAt
    revokedAt
  }
`;

export const API_TOKENS: TypedDocumentNode<{ apiTokens: ApiToken[] }, Record<string, never>> = gql`
  query ApiTokens {
    apiTokens {
      ...ApiTokenFields
    }
  }
  ${API_TOKEN_FIELDS}
`;

export const CREATE_API_TOKEN: TypedDocumentNode<
  { createApiToken: { token: string; apiToken: ApiToken } },
  { input: { name: string; expiresAt?: string | null } }
> = gql`
  mutation CreateApiToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) {
      token
      apiToken {
        ...ApiTokenFields
      }
    }
  }
  ${API_TOKEN_FIELDS}
`;

export const REVOKE_API_TOKEN: TypedDocumentNode<{ revokeApiToken: ApiToken }, { id: string }> = gql`
  mutation RevokeApiToken($id: ID!) {
    revokeApiToken(id: $id) {
      ...ApiTokenFields
    }
  }
  ${API_TOKEN_FIELDS}
`;
