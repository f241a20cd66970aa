import { createContext, useContext, useSyncExternalStore } from 'react';
import type { LiveState, LiveStatus } from './client';

/** Carries the websocket's state to the components that show it. */
export const LiveStatusContext = createContext<LiveStatus | null>(null);

const idle: LiveStatus = { get: () => 'idle', subscribe: () => () => {} };

/** The websocket's current state ('idle' without a provider). */
export function useLiveState(): LiveState {
  const status = useContext(LiveStatusContext) ?? idle;
  return useSyncExternalStore(status.subscribe, status.get);
}
