/** Seedable PRNG (mulberry32) so every fault and random field of a simulated camera is reproducible. */
export class Prng {
    #state: number;

    constructor(seed: number) {
        this.#state = seed >>> 0;
    }

    /** Uniform in [0, 1). */
    next(): number {
        this.#state = (this.#state + 0x6d2b79f5) >>> 0;
        let t = this.#state;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
    }

    /** True with probability `probability` (0 never draws, so a fault-free run consumes nothing). */
    chance(probability: number): boolean {
        return probability > 0 && this.next() < probability;
    }

    /** Integer in [0, bound). */
    below(bound: number): number {
        return Math.floor(this.next() * bound);
    }

    bytes(length: number): Buffer {
        const out = Buffer.allocUnsafe(length);
        for (let index = 0; index < length; index += 1) {
            out[index] = this.below(256);
        }
        return out;
    }

    /** Fisher–Yates, in place. */
    shuffle<T>(items: T[]): T[] {
        for (let index = items.length - 1; index > 0; index -= 1) {
            const other = this.below(index + 1);
            const item = items[index] as T;
            items[index] = items[other] as T;
            items[other] = item;
        }
        return items;
    }
}

/** FNV-1a of a string: a stable default seed from a camera id. */
export function seedFromString(text: string): number {
    let hash = 0x811c9dc5;
    for (let index = 0; index < text.length; index += 1) {
        hash ^= text.charCodeAt(index);
        hash = Math.imul(hash, 0x01000193);
    }
    return hash >>> 0;
}
