/**
 * One interval timer shared by every active session (605 flush, assembler expiry, stall check),
 * instead of one timer per camera. The interval runs only while at least one session is registered.
 */
import type {Logger} from "../util/log.js";

/** protocol-notes.md §9.5: confirms at least every 100 ms. */
export const SESSION_TICK_MS = 100;

export interface Tickable {
    tick(nowMs: number): void;
}

export class SessionTicker {
    readonly #intervalMs: number;
    readonly #now: () => number;
    readonly #log: Logger;
    readonly #members = new Set<Tickable>();
    #timer: NodeJS.Timeout | undefined;

    constructor(log: Logger, intervalMs = SESSION_TICK_MS, now: () => number = Date.now) {
        this.#log = log;
        this.#intervalMs = intervalMs;
        this.#now = now;
    }

    get size(): number {
        return this.#members.size;
    }

    get isRunning(): boolean {
        return this.#timer !== undefined;
    }

    add(member: Tickable): void {
        this.#members.add(member);
        if (this.#timer === undefined) {
            this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
            this.#timer.unref();
        }
    }

    delete(member: Tickable): void {
        this.#members.delete(member);
        if (this.#members.size === 0) {
            this.#clear();
        }
    }

    stop(): void {
        this.#members.clear();
        this.#clear();
    }

    #clear(): void {
        if (this.#timer !== undefined) {
            clearInterval(this.#timer);
            this.#timer = undefined;
        }
    }

    #tick(): void {
        const nowMs = this.#now();
        for (const member of this.#members) {
            try {
                member.tick(nowMs);
            } catch (error) {
                // A bug in one session must not stop the others (house-style §4.5.4).
                this.#log.error("session tick failed", {error});
            }
        }
    }
}
