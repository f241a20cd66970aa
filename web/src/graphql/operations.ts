// The operations the app sends, each written once with graphql() and typed by GraphQL Code
// Generator from the server's schema (graph/*.graphqls): `npm run codegen` writes ./generated/
// from the documents in this file, and `make check-generated` fails when it is stale. The names
// below are the generated types under the names the components use.
import { graphql } from './generated';
import type {
  ApiTokenFieldsFragment,
  PromptFieldsFragment,
  SharedStoryQuery,
  StoryFieldsFragment,
  StoryOptionsFieldsFragment,
  StoryStreamSubscription,
  StorySummaryFieldsFragment,
  UsageFieldsFragment,
  ViewerQuery,
} from './generated/graphql';

export type { Audience, Role, StoryLength, StoryOptionsInput, StoryStatus } from './generated/graphql';
import type { StoryStatus } from './generated/graphql';

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

/** How a story is personalised; null fields ask for nothing in particular. */
export type StoryOptions = StoryOptionsFieldsFragment;

/** A prompt as the lists show it, with its number of stories (storyCount, the count alone). */
export type Prompt = PromptFieldsFragment;

/** A story as a list row shows it: its first words (text) or its title tell stories apart. */
export type StorySummary = StorySummaryFieldsFragment;

/** A story as it is opened: its options, error, share token and prompt besides. */
export type Story = StoryFieldsFragment;

/** A story as a share link shows it: with its prompt's text. */
export type SharedStory = NonNullable<SharedStoryQuery['sharedStory']>;

/** One event of a story as it is written; cursor (opaque) is where storyStream(after:) resumes. */
export type StoryEvent = StoryStreamSubscription['storyStream'];

// storyCount is an alias: PROMPT_WITH_STORIES also selects stories, with other arguments.
// first: 0 asks for the count alone, which the server's complexity limit costs as one field
// (without first, each prompt of a page would cost a full page of stories).
export const STORY_OPTIONS_FIELDS = graphql(`
  fragment StoryOptionsFields on StoryOptions {
    audience
    genre
    tone
    length
    language
  }
`);

export const PROMPT_FIELDS = graphql(`
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
`);

export const STORY_SUMMARY_FIELDS = graphql(`
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
`);

export const STORY_FIELDS = graphql(`
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
`);

/** Page size of the prompt list and of each prompt's stories. */
export const PAGE_SIZE = 20;

export const PROMPTS = graphql(`
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
`);

export const PROMPT_WITH_STORIES = graphql(`
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
`);

export const STORY = graphql(`
  query Story($id: ID!) {
    node(id: $id) {
      id
      ... on Story {
        ...StoryFields
      }
    }
  }
`);

export const CREATE_PROMPT = graphql(`
  mutation CreatePrompt($content: String!, $options: StoryOptionsInput) {
    createPrompt(input: { content: $content, options: $options }) {
      ...PromptFields
    }
  }
`);

export const UPDATE_PROMPT = graphql(`
  mutation UpdatePrompt($id: ID!, $content: String!, $options: StoryOptionsInput) {
    updatePrompt(id: $id, input: { content: $content, options: $options }) {
      ...PromptFields
    }
  }
`);

/** A prompt's number of stories, read again before asking whether to delete them all. */
export const PROMPT_STORY_COUNT = graphql(`
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
`);

export const DELETE_PROMPT = graphql(`
  mutation DeletePrompt($id: ID!) {
    deletePrompt(id: $id)
  }
`);

export const GENERATE_STORY = graphql(`
  mutation GenerateStory($promptID: ID!, $model: String, $options: StoryOptionsInput) {
    generateStory(input: { promptID: $promptID, model: $model, options: $options }) {
      ...StoryFields
    }
  }
`);

/** Writes more of a finished story: it goes back to PENDING, then GENERATING, its text kept. */
export const CONTINUE_STORY = graphql(`
  mutation ContinueStory($id: ID!, $input: ContinueStoryInput) {
    continueStory(id: $id, input: $input) {
      ...StoryFields
    }
  }
`);

/** A new story (a version) from the same prompt and options; the old one is kept. */
export const REGENERATE_STORY = graphql(`
  mutation RegenerateStory($id: ID!) {
    regenerateStory(id: $id) {
      ...StoryFields
    }
  }
`);

/** Changes a story's title; null removes it. */
export const UPDATE_STORY = graphql(`
  mutation UpdateStory($id: ID!, $title: String) {
    updateStory(id: $id, input: { title: $title }) {
      id
      title
    }
  }
`);

export const CANCEL_STORY = graphql(`
  mutation CancelStory($id: ID!) {
    cancelStory(id: $id) {
      ...StoryFields
    }
  }
`);

/**
 * A story's events as it is written. Without after, the first event holds all the text so far;
 * after an event's cursor, only what followed it.
 */
export const STORY_STREAM = graphql(`
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
`);

/** The models generateStory accepts; the first is the server's default. */
export const MODELS = graphql(`
  query Models {
    models
  }
`);

export const SHARE_STORY = graphql(`
  mutation ShareStory($id: ID!) {
    shareStory(id: $id) {
      id
      shareToken
    }
  }
`);

export const UNSHARE_STORY = graphql(`
  mutation UnshareStory($id: ID!) {
    unshareStory(id: $id) {
      id
      shareToken
    }
  }
`);

/** The story a share link shows; null when the token shares nothing (any more). */
export const SHARED_STORY = graphql(`
  query SharedStory($token: String!) {
    sharedStory(token: $token) {
      ...StoryFields
      prompt {
        id
        content
      }
    }
  }
`);

// ---------------------------------------------------------------------------------------------
// Accounts

/** A user's model usage today (UTC) and its limits; a null limit is no limit. */
export type Usage = UsageFieldsFragment;

/** The signed-in user. */
export type Viewer = NonNullable<ViewerQuery['viewer']>;

export const USAGE_FIELDS = graphql(`
  fragment UsageFields on Usage {
    tokensToday
    dailyTokenLimit
    storiesRunning
    maxRunning
  }
`);

/** Who is signed in: null without valid credentials. The app asks it first. */
export const VIEWER = graphql(`
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
`);

/** The signed-in user's usage alone, to refresh it. */
export const USAGE = graphql(`
  query Usage {
    viewer {
      id
      usage {
        ...UsageFields
      }
    }
  }
`);

export const SIGN_UP = graphql(`
  mutation SignUp($input: SignUpInput!) {
    signUp(input: $input) {
      id
      email
    }
  }
`);

export const SIGN_IN = graphql(`
  mutation SignIn($input: SignInInput!) {
    signIn(input: $input) {
      id
      email
    }
  }
`);

export const SIGN_OUT = graphql(`
  mutation SignOut {
    signOut
  }
`);

/** Operations that work without credentials, whose UNAUTHENTICATED answer says nothing about the session. */
export const PUBLIC_OPERATIONS: ReadonlySet<string> = new Set(['Viewer', 'Usage', 'Models', 'SignUp', 'SignIn', 'SignOut', 'SharedStory']);

/** A personal API token (never its secret, which only createApiToken's answer holds). */
export type ApiToken = ApiTokenFieldsFragment;

export const API_TOKEN_FIELDS = graphql(`
  fragment ApiTokenFields on ApiToken {
    id
    name
    createdAt
    lastUsedAt
    expiresAt
    revokedAt
  }
`);

export const API_TOKENS = graphql(`
  query ApiTokens {
    apiTokens {
      ...ApiTokenFields
    }
  }
`);

export const CREATE_API_TOKEN = graphql(`
  mutation CreateApiToken($input: CreateApiTokenInput!) {
    createApiToken(input: $input) {
      token
      apiToken {
        ...ApiTokenFields
      }
    }
  }
`);

export const REVOKE_API_TOKEN = graphql(`
  mutation RevokeApiToken($id: ID!) {
    revokeApiToken(id: $id) {
      ...ApiTokenFields
    }
  }
`);
