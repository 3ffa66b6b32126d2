/**
 * The slow-client rule for streaming responses: a unit (one MJPEG part, one audio chunk) is written
 * whole or dropped whole, and it is dropped when the client has not yet taken what was already
 * written. So a stalled viewer costs at most `maxBufferedBytes` (or one unit, if larger), never
 * slows the camera or other viewers, and sees gaps instead of growing latency.
 */

/** The part of a ServerResponse this needs (OutgoingMessage.writableLength counts the socket's buffer too). */
export interface StreamTarget {
    readonly writableLength: number;
    readonly writableEnded: boolean;
    readonly destroyed: boolean;
    cork(): void;
    uncork(): void;
    write(chunk: Uint8Array | string): boolean;
}

export class BoundedStream {
    readonly #target: StreamTarget;
    readonly #maxBufferedBytes: number;
    #unitsWritten = 0;
    #unitsDropped = 0;
    #bytesWritten = 0;

    constructor(target: StreamTarget, maxBufferedBytes: number) {
        this.#target = target;
        this.#maxBufferedBytes = maxBufferedBytes;
    }

    /**
     * Writes `chunks` back to back as one unit, or drops all of them when the bytes already
     * buffered plus the unit would exceed the limit. Buffers are not copied: the caller
     * must not mutate them afterwards. Returns true when written.
     */
    write(chunks: readonly (Uint8Array | string)[]): boolean {
        const target = this.#target;
        if (target.writableEnded || target.destroyed) {
            return false;
        }
        let unitBytes = 0;
        for (const chunk of chunks) {
            unitBytes += typeof chunk === "string" ? Buffer.byteLength(chunk, "utf8") : chunk.byteLength;
        }
        const buffered = target.writableLength;
        if (buffered > 0 && buffered + unitBytes > this.#maxBufferedBytes) {
            this.#unitsDropped += 1;
            return false;
        }
        target.cork();
        for (const chunk of chunks) {
            target.write(chunk);
        }
        target.uncork();
        this.#unitsWritten += 1;
        this.#bytesWritten += unitBytes;
        return true;
    }

    get unitsWritten(): number {
        return this.#unitsWritten;
    }
    get unitsDropped(): number {
        return this.#unitsDropped;
    }
    get bytesWritten(): number {
        return this.#bytesWritten;
    }
    /** Bytes written but not yet handed to the kernel. */
    get bufferedBytes(): number {
        return this.#target.destroyed ? 0 : this.#target.writableLength;
    }
}
