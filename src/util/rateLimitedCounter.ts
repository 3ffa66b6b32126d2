/**
 * Counts bad-input events per kind and lets a caller log at most one line per kind per interval,
 * carrying how many were suppressed since the last line. Bounded: at most `maxKinds` kinds are tracked.
 */
export interface CounterSnapshot {
    readonly [kind: string]: number;
}

export class RateLimitedCounter {
    readonly #intervalMs: number;
    readonly #maxKinds: number;
    readonly #now: () => number;
    readonly #totals = new Map<string, number>();
    readonly #lastLogged = new Map<string, {atMs: number; suppressed: number}>();

    constructor(intervalMs = 10_000, now: () => number = Date.now, maxKinds = 256) {
        this.#intervalMs = intervalMs;
        this.#now = now;
        this.#maxKinds = maxKinds;
    }

    /**
     * Counts one `kind` event. Returns the number of events suppressed since the last allowed line
     * (0 or more) when a line should be logged now, or `undefined` when it should be suppressed.
     */
    hit(kind: string): number | undefined {
        const key = this.#totals.has(kind) || this.#totals.size < this.#maxKinds ? kind : "other";
        this.#totals.set(key, (this.#totals.get(key) ?? 0) + 1);
        const now = this.#now();
        const last = this.#lastLogged.get(key);
        if (last === undefined || now - last.atMs >= this.#intervalMs) {
            const suppressed = last?.suppressed ?? 0;
            this.#lastLogged.set(key, {atMs: now, suppressed: 0});
            return suppressed;
        }
        last.suppressed += 1;
        return undefined;
    }

    total(kind: string): number {
        return this.#totals.get(kind) ?? 0;
    }

    snapshot(): CounterSnapshot {
        return Object.fromEntries(this.#totals);
    }
}
