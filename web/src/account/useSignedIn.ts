import { useApolloClient } from '@apollo/client/react';
import { useCallback } from 'react';
import { VIEWER } from '../graphql/operations';
import { useSession } from '../graphql/session';
import { CookieNotKeptError } from './messages';

/**
 * What follows a successful signIn or signUp: the websocket starts over under the new cookie,
 * the cache forgets everything it held (it could be another account's), and the active
 * queries run again, among them the viewer, which puts the signed-in user in the cache and so
 * the app on screen. (resetStore, not clearStore: clearStore would also stop the active
 * queries from hearing of the cache.)
 */
export function useSignedIn(): () => Promise<void> {
  const client = useApolloClient();
  const session = useSession();
  return useCallback(async () => {
    session.changed();
    await client.resetStore();
    const viewer =
      client.readQuery({ query: VIEWER })?.viewer ?? (await client.query({ query: VIEWER, fetchPolicy: 'network-only' })).data?.viewer;
    if (!viewer) throw new CookieNotKeptError();
  }, [client, session]);
}
