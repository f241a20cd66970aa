import { act, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CooldownProvider, useCooldown, type Cooldown } from './cooldown';

afterEach(() => {
  vi.useRealTimers();
});

describe('useCooldown', () => {
  it('counts the seconds down, and holds back every component of the same name', () => {
    vi.useFakeTimers();
    let starter: Cooldown | null = null;
    function Shown({ label }: { label: string }) {
      const cooldown = useCooldown('generate');
      if (label === 'a') starter = cooldown;
      return <p data-testid={label}>{cooldown.secondsLeft}</p>;
    }
    render(
      <CooldownProvider>
        <Shown label="a" />
        <Shown label="b" />
      </CooldownProvider>,
    );
    expect(screen.getByTestId('b')).toHaveTextContent('0');

    act(() => starter!.start(3));
    expect(screen.getByTestId('a')).toHaveTextContent('3');
    expect(screen.getByTestId('b')).toHaveTextContent('3');
    act(() => vi.advanceTimersByTime(1_100));
    expect(screen.getByTestId('b')).toHaveTextContent('2');
    act(() => vi.advanceTimersByTime(2_000));
    expect(screen.getByTestId('a')).toHaveTextContent('0');
    expect(screen.getByTestId('b')).toHaveTextContent('0');
  });

  it('works for one component without a provider', () => {
    vi.useFakeTimers();
    let cooldown: Cooldown | null = null;
    function Alone() {
      cooldown = useCooldown('generate');
      return <p data-testid="left">{cooldown.secondsLeft}</p>;
    }
    render(<Alone />);
    act(() => cooldown!.start(1.5));
    expect(screen.getByTestId('left')).toHaveTextContent('2');
    act(() => vi.advanceTimersByTime(1_600));
    expect(screen.getByTestId('left')).toHaveTextContent('0');
  });
});
