/**
 * Whether to start the server again after it stopped unexpectedly: a few times, then never on
 * its own; and never when it stopped before it had started (it would fail the same way again,
 * so a server that cannot start is not restarted in a loop).
 */

export const MAX_RESTARTS = 3;
export const WINDOW_MS = 3 * 60 * 1000;

export interface RestartDecision {
  restart: boolean;
  /** Why not, for the user; none when the server stopped while starting (the caller knows why). */
  message?: string;
}

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(
    private readonly maxRestarts = MAX_RESTARTS,
    private readonly windowMs = WINDOW_MS,
  ) {}

  /**
   * The connection closed at `now` (ms) without being asked to: restart or give up? `started`
   * says whether the server had answered `initialize` since it was last started.
   */
  closed(now: number, started: boolean): RestartDecision {
    if (!started) {
      return { restart: false };
    }
    this.crashes = this.crashes.filter((t) => now - t < this.windowMs);
    this.crashes.push(now);
    if (this.crashes.length <= this.maxRestarts) {
      return { restart: true };
    }
    const minutes = Math.round(this.windowMs / 60000);
    return {
      restart: false,
      message:
        `The assist server stopped ${this.crashes.length} times in ${minutes} minutes and is not ` +
        'started again on its own: see the Assist output, then run "Assist: Restart Server".',
    };
  }

  /** Forget earlier crashes (the user restarted the server). */
  reset(): void {
    this.crashes = [];
  }
}
