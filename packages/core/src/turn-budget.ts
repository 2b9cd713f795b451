/** Rendering done per turn of the event loop, in milliseconds. */
const TURN_MS = 4;

/**
 * The time one rendering may hold the event loop before it lets it turn. Time, not a count of series: text
 * rebuilt for a changed series costs ~50 times a cached one's. The stores of a rendering share one budget
 * (they are rendered one after another).
 */
export class TurnBudget {
  private ends = performance.now() + TURN_MS;

  /** True once this turn's share is spent. */
  spent(): boolean {
    return performance.now() > this.ends;
  }

  /** Waits for the next turn of the event loop, and a new share. */
  async nextTurn(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.ends = performance.now() + TURN_MS;
  }
}
