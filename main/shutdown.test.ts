import { describe, expect, it, vi } from 'vitest';
import { QuitGuard, type QuitDeps } from './shutdown.js';

function setup(running: number, answer: boolean) {
  let finishShutdown!: () => void;
  const deps = {
    running: vi.fn(() => running),
    ask: vi.fn(async () => answer),
    shutdown: vi.fn(() => new Promise<void>((r) => (finishShutdown = r))),
    quit: vi.fn(),
  } satisfies QuitDeps;
  const guard = new QuitGuard(deps);
  const event = () => ({ preventDefault: vi.fn() });
  return { deps, guard, event, finish: () => finishShutdown() };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('QuitGuard', () => {
  it('with no VMs: lets the window close, holds the quit until saves are flushed', async () => {
    const { deps, guard, event, finish } = setup(0, true);
    const close = event();
    guard.windowClose(close);
    expect(close.preventDefault).not.toHaveBeenCalled();
    const quit = event();
    guard.beforeQuit(quit);
    expect(quit.preventDefault).toHaveBeenCalled();
    expect(deps.ask).not.toHaveBeenCalled();
    finish();
    await settle();
    expect(deps.quit).toHaveBeenCalledTimes(1);
    const again = event();
    guard.beforeQuit(again); // the quit it asked for goes through
    expect(again.preventDefault).not.toHaveBeenCalled();
  });

  it('with VMs running: asks once, and cancel keeps everything', async () => {
    const { deps, guard, event } = setup(2, false);
    guard.windowClose(event());
    guard.beforeQuit(event()); // while asking: no second dialog
    await settle();
    expect(deps.ask).toHaveBeenCalledTimes(1);
    expect(deps.ask).toHaveBeenCalledWith(2);
    expect(deps.shutdown).not.toHaveBeenCalled();
    expect(guard.state).toBe('idle');
  });

  it('with VMs running: stop and quit stops them first, then quits', async () => {
    const { deps, guard, event, finish } = setup(1, true);
    guard.beforeQuit(event());
    await settle();
    expect(deps.shutdown).toHaveBeenCalledTimes(1);
    expect(guard.state).toBe('stopping');
    guard.beforeQuit(event());
    expect(deps.shutdown).toHaveBeenCalledTimes(1);
    expect(deps.quit).not.toHaveBeenCalled();
    finish();
    await settle();
    expect(deps.quit).toHaveBeenCalledTimes(1);
  });
});
