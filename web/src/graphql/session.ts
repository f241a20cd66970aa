import { createContext, useContext } from 'react';

/** What the app tells the API layer about sign-ins and sign-outs, and hears from it. */
export interface Session {
  /** Call after a sign-in or sign-out: the websocket starts over under the new cookie. */
  changed(): void;
  /**
   * Calls listener whenever a request that needs an account comes back UNAUTHENTICATED: the
   * session ended (expired, signed out elsewhere). Returns a function that stops listening.
   */
  onExpired(listener: () => void): () => void;
}

const detached: Session = { changed: () => {}, onExpired: () => () => {} };

/** Carries the API's Session to the components that sign in and out. */
export const SessionContext = createContext<Session>(detached);

/** The nearest Session (one that does nothing without a provider, as in component tests). */
export function useSession(): Session {
  return useContext(SessionContext);
}
