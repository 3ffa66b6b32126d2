/**
 * The simulated microphone: one second of G.711 A-law, 8 kHz mono (protocol-notes.md §9.4), a
 * 440 Hz tone with a short 880 Hz pip at the start of every second, encoded once and looped.
 */
import {encodeAlaw} from "../protocol/g711.js";

export const AUDIO_SAMPLE_RATE = 8000;

let tone: Buffer | undefined;

/** The shared one-second loop. Never mutate it. */
export function toneAlaw(): Buffer {
    if (tone === undefined) {
        const pcm = new Int16Array(AUDIO_SAMPLE_RATE);
        for (let index = 0; index < pcm.length; index += 1) {
            const frequency = index < AUDIO_SAMPLE_RATE / 10 ? 880 : 440;
            pcm[index] = Math.round(6000 * Math.sin((2 * Math.PI * frequency * index) / AUDIO_SAMPLE_RATE));
        }
        tone = encodeAlaw(pcm);
    }
    return tone;
}

/** Cuts the loop into consecutive packets of `packetBytes` samples (one byte per sample). */
export class AudioLoop {
    readonly packetBytes: number;
    #offset = 0;

    constructor(packetBytes: number) {
        if (!Number.isInteger(packetBytes) || packetBytes < 1 || packetBytes > 60_000) {
            throw new RangeError(`audio packet size must be an integer 1..60000, got ${packetBytes}`);
        }
        this.packetBytes = packetBytes;
    }

    /** The next packet's samples (a fresh buffer). */
    next(): Buffer {
        const source = toneAlaw();
        const out = Buffer.allocUnsafe(this.packetBytes);
        let written = 0;
        while (written < out.length) {
            const take = Math.min(out.length - written, source.length - this.#offset);
            source.copy(out, written, this.#offset, this.#offset + take);
            written += take;
            this.#offset = (this.#offset + take) % source.length;
        }
        return out;
    }
}
