/** Frames per second over a sliding window, from a fixed ring of timestamps (no allocation per frame). */

export const FPS_WINDOW_MS = 3000;
const RING_SIZE = 256;

export class FpsMeter {
    readonly #windowMs: number;
    readonly #times = new Float64Array(RING_SIZE);
    #next = 0;
    #count = 0;
    #firstAtMs = 0;

    constructor(windowMs = FPS_WINDOW_MS) {
        this.#windowMs = windowMs;
    }

    record(nowMs: number): void {
        if (this.#count === 0) {
            this.#firstAtMs = nowMs;
        }
        this.#times[this.#next] = nowMs;
        this.#next = (this.#next + 1) % RING_SIZE;
        this.#count = Math.min(this.#count + 1, RING_SIZE);
    }

    /** Frames per second over the last window (or since the first frame when that is more recent), 1 decimal. */
    fps(nowMs: number): number {
        const since = nowMs - this.#windowMs;
        let frames = 0;
        for (let i = 1; i <= this.#count; i++) {
            const at = this.#times[(this.#next - i + RING_SIZE) % RING_SIZE] ?? 0;
            if (at <= since) {
                break;
            }
            frames++;
        }
        if (frames === 0) {
            return 0;
        }
        const spanMs = Math.max(1000, Math.min(this.#windowMs, nowMs - this.#firstAtMs));
        return Math.round((frames * 10_000) / spanMs) / 10;
    }

    reset(): void {
        this.#count = 0;
        this.#next = 0;
    }
}
