import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';

/**
 * Waits the server asked for (RATE_LIMITED's retryAfter), by what they hold back: "generate"
 * while too many stories were started. The server counts per client, not per prompt, so one
 * wait holds back every Generate button of the page, and outlives the prompt that met it.
 */
interface Cooldowns {
  until(name: string): number;
  start(name: string, seconds: number): void;
}

/**
 * The cooldown that RATE_LIMITED answers to generateStory, continueStory and regenerateStory
 * start: the server counts all three as starting a story.
 */
export const GENERATE_COOLDOWN = 'generate';

const CooldownContext = createContext<Cooldowns | null>(null);

/** Keeps the app's cooldowns; useCooldown works without it too, for one component alone. */
export function CooldownProvider({ children }: { children: ReactNode }) {
  const [ends, setEnds] = useState<ReadonlyMap<string, number>>(new Map());
  const start = useCallback((name: string, seconds: number) => {
    setEnds((current) => new Map(current).set(name, Date.now() + seconds * 1000));
  }, []);
  const value = useMemo<Cooldowns>(() => ({ until: (name) => ends.get(name) ?? 0, start }), [ends, start]);
  return <CooldownContext.Provider value={value}>{children}</CooldownContext.Provider>;
}

/** A running cooldown: the whole seconds left (0 when none), and a way to start one. */
export interface Cooldown {
  secondsLeft: number;
  start(seconds: number): void;
}

/** The cooldown of that name; the component re-renders as its seconds count down. */
export function useCooldown(name: string): Cooldown {
  const shared = useContext(CooldownContext);
  const [ownEnd, setOwnEnd] = useState(0);
  const end = shared ? shared.until(name) : ownEnd;
  // Ticks while the cooldown runs, so that the seconds shown follow the clock.
  const [, setTick] = useState(0);
  useEffect(() => {
    if (end <= Date.now()) return;
    const timer = setInterval(() => {
      setTick((n) => n + 1);
      if (Date.now() >= end) clearInterval(timer);
    }, 250);
    return () => clearInterval(timer);
  }, [end]);

  const start = useCallback(
    (seconds: number) => (shared ? shared.start(name, seconds) : setOwnEnd(Date.now() + seconds * 1000)),
    [shared, name],
  );
  const left = end - Date.now();
  return { secondsLeft: left > 0 ? Math.ceil(left / 1000) : 0, start };
}
