/**
 * A small typed event emitter (z2m EventBus style): one payload per event, listeners run synchronously
 * in registration order, and a throwing listener is reported through `onListenerError` without
 * affecting the other listeners or the emitter.
 */

export type EventListener<T> = (payload: T) => void;

export class TypedEmitter<Events extends object> {
    readonly #listeners = new Map<keyof Events, Set<EventListener<never>>>();
    readonly #onListenerError: (error: unknown, event: string) => void;

    constructor(onListenerError: (error: unknown, event: string) => void = () => undefined) {
        this.#onListenerError = onListenerError;
    }

    /** Adds `listener`; returns a function that removes it (idempotent). */
    on<K extends keyof Events>(event: K, listener: EventListener<Events[K]>): () => void {
        let set = this.#listeners.get(event);
        if (set === undefined) {
            set = new Set();
            this.#listeners.set(event, set);
        }
        set.add(listener);
        return () => this.off(event, listener);
    }

    off<K extends keyof Events>(event: K, listener: EventListener<Events[K]>): void {
        const set = this.#listeners.get(event);
        if (set !== undefined) {
            set.delete(listener);
            if (set.size === 0) {
                this.#listeners.delete(event);
            }
        }
    }

    listenerCount(event: keyof Events): number {
        return this.#listeners.get(event)?.size ?? 0;
    }

    /** Calls every listener of `event` with `payload`; never throws because of a listener. */
    emit<K extends keyof Events>(event: K, payload: Events[K]): void {
        const set = this.#listeners.get(event);
        if (set === undefined) {
            return;
        }
        for (const listener of set) {
            try {
                (listener as EventListener<Events[K]>)(payload);
            } catch (error) {
                this.#onListenerError(error, String(event));
            }
        }
    }

    removeAllListeners(): void {
        this.#listeners.clear();
    }
}
