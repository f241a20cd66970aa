/* eslint-disable */
import * as types from './graphql';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "\n  fragment StoryPromptId on Story {\n    prompt {\n      id\n    }\n  }\n": typeof types.StoryPromptIdFragmentDoc,
    "\n  fragment StoryOptionsFields on StoryOptions {\n    audience\n    genre\n    tone\n    length\n    language\n  }\n": typeof types.StoryOptionsFieldsFragmentDoc,
    "\n  fragment PromptFields on Prompt {\n    id\n    content\n    createdAt\n    options {\n      ...StoryOptionsFields\n    }\n    storyCount: stories(first: 0) {\n      totalCount\n    }\n  }\n": typeof types.PromptFieldsFragmentDoc,
    "\n  fragment StorySummaryFields on Story {\n    id\n    status\n    tokenCount\n    model\n    createdAt\n    finishedAt\n    text\n    title\n  }\n": typeof types.StorySummaryFieldsFragmentDoc,
    "\n  fragment StoryFields on Story {\n    ...StorySummaryFields\n    text\n    error\n    startedAt\n    shareToken\n    maxTokens\n    options {\n      ...StoryOptionsFields\n    }\n    prompt {\n      id\n    }\n  }\n": typeof types.StoryFieldsFragmentDoc,
    "\n  query Prompts($first: Int!, $after: Cursor) {\n    prompts(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...PromptFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      totalCount\n    }\n  }\n": typeof types.PromptsDocument,
    "\n  query PromptWithStories($id: ID!, $first: Int!, $after: Cursor) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        ...PromptFields\n        stories(first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {\n          edges {\n            cursor\n            node {\n              ...StorySummaryFields\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n          totalCount\n        }\n      }\n    }\n  }\n": typeof types.PromptWithStoriesDocument,
    "\n  query Story($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Story {\n        ...StoryFields\n      }\n    }\n  }\n": typeof types.StoryDocument,
    "\n  mutation CreatePrompt($content: String!, $options: StoryOptionsInput) {\n    createPrompt(input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n": typeof types.CreatePromptDocument,
    "\n  mutation UpdatePrompt($id: ID!, $content: String!, $options: StoryOptionsInput) {\n    updatePrompt(id: $id, input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n": typeof types.UpdatePromptDocument,
    "\n  query PromptStoryCount($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        storyCount: stories(first: 0) {\n          totalCount\n        }\n      }\n    }\n  }\n": typeof types.PromptStoryCountDocument,
    "\n  mutation DeletePrompt($id: ID!) {\n    deletePrompt(id: $id)\n  }\n": typeof types.DeletePromptDocument,
    "\n  mutation GenerateStory($promptID: ID!, $model: String, $options: StoryOptionsInput) {\n    generateStory(input: { promptID: $promptID, model: $model, options: $options }) {\n      ...StoryFields\n    }\n  }\n": typeof types.GenerateStoryDocument,
    "\n  mutation ContinueStory($id: ID!, $input: ContinueStoryInput) {\n    continueStory(id: $id, input: $input) {\n      ...StoryFields\n    }\n  }\n": typeof types.ContinueStoryDocument,
    "\n  mutation RegenerateStory($id: ID!) {\n    regenerateStory(id: $id) {\n      ...StoryFields\n    }\n  }\n": typeof types.RegenerateStoryDocument,
    "\n  mutation UpdateStory($id: ID!, $title: String) {\n    updateStory(id: $id, input: { title: $title }) {\n      id\n      title\n    }\n  }\n": typeof types.UpdateStoryDocument,
    "\n  mutation CancelStory($id: ID!) {\n    cancelStory(id: $id) {\n      ...StoryFields\n    }\n  }\n": typeof types.CancelStoryDocument,
    "\n  subscription StoryStream($storyID: ID!, $after: String, $shareToken: String) {\n    storyStream(storyID: $storyID, after: $after, shareToken: $shareToken) {\n      storyID\n      seq\n      delta\n      status\n      tokenCount\n      error\n      cursor\n    }\n  }\n": typeof types.StoryStreamDocument,
    "\n  query Models {\n    models\n  }\n": typeof types.ModelsDocument,
    "\n  mutation ShareStory($id: ID!) {\n    shareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n": typeof types.ShareStoryDocument,
    "\n  mutation UnshareStory($id: ID!) {\n    unshareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n": typeof types.UnshareStoryDocument,
    "\n  query SharedStory($token: String!) {\n    sharedStory(token: $token) {\n      ...StoryFields\n      prompt {\n        id\n        content\n      }\n    }\n  }\n": typeof types.SharedStoryDocument,
    "\n  fragment UsageFields on Usage {\n    tokensToday\n    dailyTokenLimit\n    storiesRunning\n    maxRunning\n  }\n": typeof types.UsageFieldsFragmentDoc,
    "\n  query Viewer {\n    viewer {\n      id\n      email\n      name\n      role\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n": typeof types.ViewerDocument,
    "\n  query Usage {\n    viewer {\n      id\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n": typeof types.UsageDocument,
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      id\n      email\n    }\n  }\n": typeof types.SignUpDocument,
    "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) {\n      id\n      email\n    }\n  }\n": typeof types.SignInDocument,
    "\n  mutation SignOut {\n    signOut\n  }\n": typeof types.SignOutDocument,
    "\n  fragment ApiTokenFields on ApiToken {\n    id\n    name\n    createdAt\n    lastUsedAt\n    expiresAt\n    revokedAt\n  }\n": typeof types.ApiTokenFieldsFragmentDoc,
    "\n  query ApiTokens {\n    apiTokens {\n      ...ApiTokenFields\n    }\n  }\n": typeof types.ApiTokensDocument,
    "\n  mutation CreateApiToken($input: CreateApiTokenInput!) {\n    createApiToken(input: $input) {\n      token\n      apiToken {\n        ...ApiTokenFields\n      }\n    }\n  }\n": typeof types.CreateApiTokenDocument,
    "\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id) {\n      ...ApiTokenFields\n    }\n  }\n": typeof types.RevokeApiTokenDocument,
    "\n  fragment StoryText on Story {\n    text\n  }\n": typeof types.StoryTextFragmentDoc,
};
const documents: Documents = {
    "\n  fragment StoryPromptId on Story {\n    prompt {\n      id\n    }\n  }\n": types.StoryPromptIdFragmentDoc,
    "\n  fragment StoryOptionsFields on StoryOptions {\n    audience\n    genre\n    tone\n    length\n    language\n  }\n": types.StoryOptionsFieldsFragmentDoc,
    "\n  fragment PromptFields on Prompt {\n    id\n    content\n    createdAt\n    options {\n      ...StoryOptionsFields\n    }\n    storyCount: stories(first: 0) {\n      totalCount\n    }\n  }\n": types.PromptFieldsFragmentDoc,
    "\n  fragment StorySummaryFields on Story {\n    id\n    status\n    tokenCount\n    model\n    createdAt\n    finishedAt\n    text\n    title\n  }\n": types.StorySummaryFieldsFragmentDoc,
    "\n  fragment StoryFields on Story {\n    ...StorySummaryFields\n    text\n    error\n    startedAt\n    shareToken\n    maxTokens\n    options {\n      ...StoryOptionsFields\n    }\n    prompt {\n      id\n    }\n  }\n": types.StoryFieldsFragmentDoc,
    "\n  query Prompts($first: Int!, $after: Cursor) {\n    prompts(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...PromptFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      totalCount\n    }\n  }\n": types.PromptsDocument,
    "\n  query PromptWithStories($id: ID!, $first: Int!, $after: Cursor) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        ...PromptFields\n        stories(first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {\n          edges {\n            cursor\n            node {\n              ...StorySummaryFields\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n          totalCount\n        }\n      }\n    }\n  }\n": types.PromptWithStoriesDocument,
    "\n  query Story($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Story {\n        ...StoryFields\n      }\n    }\n  }\n": types.StoryDocument,
    "\n  mutation CreatePrompt($content: String!, $options: StoryOptionsInput) {\n    createPrompt(input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n": types.CreatePromptDocument,
    "\n  mutation UpdatePrompt($id: ID!, $content: String!, $options: StoryOptionsInput) {\n    updatePrompt(id: $id, input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n": types.UpdatePromptDocument,
    "\n  query PromptStoryCount($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        storyCount: stories(first: 0) {\n          totalCount\n        }\n      }\n    }\n  }\n": types.PromptStoryCountDocument,
    "\n  mutation DeletePrompt($id: ID!) {\n    deletePrompt(id: $id)\n  }\n": types.DeletePromptDocument,
    "\n  mutation GenerateStory($promptID: ID!, $model: String, $options: StoryOptionsInput) {\n    generateStory(input: { promptID: $promptID, model: $model, options: $options }) {\n      ...StoryFields\n    }\n  }\n": types.GenerateStoryDocument,
    "\n  mutation ContinueStory($id: ID!, $input: ContinueStoryInput) {\n    continueStory(id: $id, input: $input) {\n      ...StoryFields\n    }\n  }\n": types.ContinueStoryDocument,
    "\n  mutation RegenerateStory($id: ID!) {\n    regenerateStory(id: $id) {\n      ...StoryFields\n    }\n  }\n": types.RegenerateStoryDocument,
    "\n  mutation UpdateStory($id: ID!, $title: String) {\n    updateStory(id: $id, input: { title: $title }) {\n      id\n      title\n    }\n  }\n": types.UpdateStoryDocument,
    "\n  mutation CancelStory($id: ID!) {\n    cancelStory(id: $id) {\n      ...StoryFields\n    }\n  }\n": types.CancelStoryDocument,
    "\n  subscription StoryStream($storyID: ID!, $after: String, $shareToken: String) {\n    storyStream(storyID: $storyID, after: $after, shareToken: $shareToken) {\n      storyID\n      seq\n      delta\n      status\n      tokenCount\n      error\n      cursor\n    }\n  }\n": types.StoryStreamDocument,
    "\n  query Models {\n    models\n  }\n": types.ModelsDocument,
    "\n  mutation ShareStory($id: ID!) {\n    shareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n": types.ShareStoryDocument,
    "\n  mutation UnshareStory($id: ID!) {\n    unshareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n": types.UnshareStoryDocument,
    "\n  query SharedStory($token: String!) {\n    sharedStory(token: $token) {\n      ...StoryFields\n      prompt {\n        id\n        content\n      }\n    }\n  }\n": types.SharedStoryDocument,
    "\n  fragment UsageFields on Usage {\n    tokensToday\n    dailyTokenLimit\n    storiesRunning\n    maxRunning\n  }\n": types.UsageFieldsFragmentDoc,
    "\n  query Viewer {\n    viewer {\n      id\n      email\n      name\n      role\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n": types.ViewerDocument,
    "\n  query Usage {\n    viewer {\n      id\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n": types.UsageDocument,
    "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      id\n      email\n    }\n  }\n": types.SignUpDocument,
    "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) {\n      id\n      email\n    }\n  }\n": types.SignInDocument,
    "\n  mutation SignOut {\n    signOut\n  }\n": types.SignOutDocument,
    "\n  fragment ApiTokenFields on ApiToken {\n    id\n    name\n    createdAt\n    lastUsedAt\n    expiresAt\n    revokedAt\n  }\n": types.ApiTokenFieldsFragmentDoc,
    "\n  query ApiTokens {\n    apiTokens {\n      ...ApiTokenFields\n    }\n  }\n": types.ApiTokensDocument,
    "\n  mutation CreateApiToken($input: CreateApiTokenInput!) {\n    createApiToken(input: $input) {\n      token\n      apiToken {\n        ...ApiTokenFields\n      }\n    }\n  }\n": types.CreateApiTokenDocument,
    "\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id) {\n      ...ApiTokenFields\n    }\n  }\n": types.RevokeApiTokenDocument,
    "\n  fragment StoryText on Story {\n    text\n  }\n": types.StoryTextFragmentDoc,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment StoryPromptId on Story {\n    prompt {\n      id\n    }\n  }\n"): (typeof documents)["\n  fragment StoryPromptId on Story {\n    prompt {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment StoryOptionsFields on StoryOptions {\n    audience\n    genre\n    tone\n    length\n    language\n  }\n"): (typeof documents)["\n  fragment StoryOptionsFields on StoryOptions {\n    audience\n    genre\n    tone\n    length\n    language\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment PromptFields on Prompt {\n    id\n    content\n    createdAt\n    options {\n      ...StoryOptionsFields\n    }\n    storyCount: stories(first: 0) {\n      totalCount\n    }\n  }\n"): (typeof documents)["\n  fragment PromptFields on Prompt {\n    id\n    content\n    createdAt\n    options {\n      ...StoryOptionsFields\n    }\n    storyCount: stories(first: 0) {\n      totalCount\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment StorySummaryFields on Story {\n    id\n    status\n    tokenCount\n    model\n    createdAt\n    finishedAt\n    text\n    title\n  }\n"): (typeof documents)["\n  fragment StorySummaryFields on Story {\n    id\n    status\n    tokenCount\n    model\n    createdAt\n    finishedAt\n    text\n    title\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment StoryFields on Story {\n    ...StorySummaryFields\n    text\n    error\n    startedAt\n    shareToken\n    maxTokens\n    options {\n      ...StoryOptionsFields\n    }\n    prompt {\n      id\n    }\n  }\n"): (typeof documents)["\n  fragment StoryFields on Story {\n    ...StorySummaryFields\n    text\n    error\n    startedAt\n    shareToken\n    maxTokens\n    options {\n      ...StoryOptionsFields\n    }\n    prompt {\n      id\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Prompts($first: Int!, $after: Cursor) {\n    prompts(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...PromptFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      totalCount\n    }\n  }\n"): (typeof documents)["\n  query Prompts($first: Int!, $after: Cursor) {\n    prompts(first: $first, after: $after) {\n      edges {\n        cursor\n        node {\n          ...PromptFields\n        }\n      }\n      pageInfo {\n        hasNextPage\n        endCursor\n      }\n      totalCount\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PromptWithStories($id: ID!, $first: Int!, $after: Cursor) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        ...PromptFields\n        stories(first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {\n          edges {\n            cursor\n            node {\n              ...StorySummaryFields\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n          totalCount\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query PromptWithStories($id: ID!, $first: Int!, $after: Cursor) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        ...PromptFields\n        stories(first: $first, after: $after, orderBy: { field: CREATED_AT, direction: DESC }) {\n          edges {\n            cursor\n            node {\n              ...StorySummaryFields\n            }\n          }\n          pageInfo {\n            hasNextPage\n            endCursor\n          }\n          totalCount\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Story($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Story {\n        ...StoryFields\n      }\n    }\n  }\n"): (typeof documents)["\n  query Story($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Story {\n        ...StoryFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreatePrompt($content: String!, $options: StoryOptionsInput) {\n    createPrompt(input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n"): (typeof documents)["\n  mutation CreatePrompt($content: String!, $options: StoryOptionsInput) {\n    createPrompt(input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdatePrompt($id: ID!, $content: String!, $options: StoryOptionsInput) {\n    updatePrompt(id: $id, input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n"): (typeof documents)["\n  mutation UpdatePrompt($id: ID!, $content: String!, $options: StoryOptionsInput) {\n    updatePrompt(id: $id, input: { content: $content, options: $options }) {\n      ...PromptFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query PromptStoryCount($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        storyCount: stories(first: 0) {\n          totalCount\n        }\n      }\n    }\n  }\n"): (typeof documents)["\n  query PromptStoryCount($id: ID!) {\n    node(id: $id) {\n      id\n      ... on Prompt {\n        storyCount: stories(first: 0) {\n          totalCount\n        }\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation DeletePrompt($id: ID!) {\n    deletePrompt(id: $id)\n  }\n"): (typeof documents)["\n  mutation DeletePrompt($id: ID!) {\n    deletePrompt(id: $id)\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation GenerateStory($promptID: ID!, $model: String, $options: StoryOptionsInput) {\n    generateStory(input: { promptID: $promptID, model: $model, options: $options }) {\n      ...StoryFields\n    }\n  }\n"): (typeof documents)["\n  mutation GenerateStory($promptID: ID!, $model: String, $options: StoryOptionsInput) {\n    generateStory(input: { promptID: $promptID, model: $model, options: $options }) {\n      ...StoryFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ContinueStory($id: ID!, $input: ContinueStoryInput) {\n    continueStory(id: $id, input: $input) {\n      ...StoryFields\n    }\n  }\n"): (typeof documents)["\n  mutation ContinueStory($id: ID!, $input: ContinueStoryInput) {\n    continueStory(id: $id, input: $input) {\n      ...StoryFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RegenerateStory($id: ID!) {\n    regenerateStory(id: $id) {\n      ...StoryFields\n    }\n  }\n"): (typeof documents)["\n  mutation RegenerateStory($id: ID!) {\n    regenerateStory(id: $id) {\n      ...StoryFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UpdateStory($id: ID!, $title: String) {\n    updateStory(id: $id, input: { title: $title }) {\n      id\n      title\n    }\n  }\n"): (typeof documents)["\n  mutation UpdateStory($id: ID!, $title: String) {\n    updateStory(id: $id, input: { title: $title }) {\n      id\n      title\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CancelStory($id: ID!) {\n    cancelStory(id: $id) {\n      ...StoryFields\n    }\n  }\n"): (typeof documents)["\n  mutation CancelStory($id: ID!) {\n    cancelStory(id: $id) {\n      ...StoryFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  subscription StoryStream($storyID: ID!, $after: String, $shareToken: String) {\n    storyStream(storyID: $storyID, after: $after, shareToken: $shareToken) {\n      storyID\n      seq\n      delta\n      status\n      tokenCount\n      error\n      cursor\n    }\n  }\n"): (typeof documents)["\n  subscription StoryStream($storyID: ID!, $after: String, $shareToken: String) {\n    storyStream(storyID: $storyID, after: $after, shareToken: $shareToken) {\n      storyID\n      seq\n      delta\n      status\n      tokenCount\n      error\n      cursor\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Models {\n    models\n  }\n"): (typeof documents)["\n  query Models {\n    models\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation ShareStory($id: ID!) {\n    shareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n"): (typeof documents)["\n  mutation ShareStory($id: ID!) {\n    shareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation UnshareStory($id: ID!) {\n    unshareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n"): (typeof documents)["\n  mutation UnshareStory($id: ID!) {\n    unshareStory(id: $id) {\n      id\n      shareToken\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query SharedStory($token: String!) {\n    sharedStory(token: $token) {\n      ...StoryFields\n      prompt {\n        id\n        content\n      }\n    }\n  }\n"): (typeof documents)["\n  query SharedStory($token: String!) {\n    sharedStory(token: $token) {\n      ...StoryFields\n      prompt {\n        id\n        content\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment UsageFields on Usage {\n    tokensToday\n    dailyTokenLimit\n    storiesRunning\n    maxRunning\n  }\n"): (typeof documents)["\n  fragment UsageFields on Usage {\n    tokensToday\n    dailyTokenLimit\n    storiesRunning\n    maxRunning\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Viewer {\n    viewer {\n      id\n      email\n      name\n      role\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n"): (typeof documents)["\n  query Viewer {\n    viewer {\n      id\n      email\n      name\n      role\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query Usage {\n    viewer {\n      id\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n"): (typeof documents)["\n  query Usage {\n    viewer {\n      id\n      usage {\n        ...UsageFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      id\n      email\n    }\n  }\n"): (typeof documents)["\n  mutation SignUp($input: SignUpInput!) {\n    signUp(input: $input) {\n      id\n      email\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) {\n      id\n      email\n    }\n  }\n"): (typeof documents)["\n  mutation SignIn($input: SignInInput!) {\n    signIn(input: $input) {\n      id\n      email\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation SignOut {\n    signOut\n  }\n"): (typeof documents)["\n  mutation SignOut {\n    signOut\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment ApiTokenFields on ApiToken {\n    id\n    name\n    createdAt\n    lastUsedAt\n    expiresAt\n    revokedAt\n  }\n"): (typeof documents)["\n  fragment ApiTokenFields on ApiToken {\n    id\n    name\n    createdAt\n    lastUsedAt\n    expiresAt\n    revokedAt\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  query ApiTokens {\n    apiTokens {\n      ...ApiTokenFields\n    }\n  }\n"): (typeof documents)["\n  query ApiTokens {\n    apiTokens {\n      ...ApiTokenFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation CreateApiToken($input: CreateApiTokenInput!) {\n    createApiToken(input: $input) {\n      token\n      apiToken {\n        ...ApiTokenFields\n      }\n    }\n  }\n"): (typeof documents)["\n  mutation CreateApiToken($input: CreateApiTokenInput!) {\n    createApiToken(input: $input) {\n      token\n      apiToken {\n        ...ApiTokenFields\n      }\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id) {\n      ...ApiTokenFields\n    }\n  }\n"): (typeof documents)["\n  mutation RevokeApiToken($id: ID!) {\n    revokeApiToken(id: $id) {\n      ...ApiTokenFields\n    }\n  }\n"];
/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "\n  fragment StoryText on Story {\n    text\n  }\n"): (typeof documents)["\n  fragment StoryText on Story {\n    text\n  }\n"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;