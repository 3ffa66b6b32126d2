/**
 * The live consumers of one camera. Delivery is synchronous; a consumer that throws is logged,
 * removed and never affects the others. Each subscribe() gets its own entry, so the same consumer
 * object may hold two subscriptions.
 */
import type {AudioChunk, JpegFrame, MediaConsumer, MediaSubscription} from "../model/media.js";
import type {Logger} from "../util/log.js";

interface Entry {
    readonly consumer: MediaConsumer;
}

export class ConsumerSet {
    readonly #entries = new Set<Entry>();
    readonly #log: Logger;
    readonly #onSizeChange: (size: number) => void;

    /** `onSizeChange` runs after every add or removal (including a removal caused by a throwing consumer). */
    constructor(log: Logger, onSizeChange: (size: number) => void) {
        this.#log = log;
        this.#onSizeChange = onSizeChange;
    }

    get size(): number {
        return this.#entries.size;
    }

    add(consumer: MediaConsumer): MediaSubscription {
        const entry: Entry = {consumer};
        this.#entries.add(entry);
        this.#onSizeChange(this.#entries.size);
        return {close: () => this.#remove(entry)};
    }

    deliverFrame(frame: JpegFrame): void {
        for (const entry of this.#entries) {
            if (entry.consumer.onFrame === undefined) {
                continue;
            }
            try {
                entry.consumer.onFrame(frame);
            } catch (error) {
                this.#drop(entry, error);
            }
        }
    }

    deliverAudio(chunk: AudioChunk): void {
        for (const entry of this.#entries) {
            if (entry.consumer.onAudio === undefined) {
                continue;
            }
            try {
                entry.consumer.onAudio(chunk);
            } catch (error) {
                this.#drop(entry, error);
            }
        }
    }

    /** Calls onEnd on every consumer and removes them all. */
    endAll(reason: string): void {
        const entries = [...this.#entries];
        this.#entries.clear();
        for (const entry of entries) {
            try {
                entry.consumer.onEnd?.(reason);
            } catch (error) {
                this.#log.error("consumer onEnd threw", {error});
            }
        }
        if (entries.length > 0) {
            this.#onSizeChange(0);
        }
    }

    #drop(entry: Entry, error: unknown): void {
        this.#log.error("consumer threw; removing it", {error});
        this.#remove(entry);
    }

    #remove(entry: Entry): void {
        if (this.#entries.delete(entry)) {
            this.#onSizeChange(this.#entries.size);
        }
    }
}
