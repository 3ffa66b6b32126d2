import {describe, expect, it} from "vitest";
import {BoundedStream, type StreamTarget} from "../../../src/http/boundedStream.js";

/** A writable whose client never reads: everything written stays buffered until drain(). */
class StalledTarget implements StreamTarget {
    writableLength = 0;
    writableEnded = false;
    destroyed = false;
    readonly writes: string[] = [];
    corked = 0;
    readonly corkedWrites: boolean[] = [];

    cork(): void {
        this.corked += 1;
    }
    uncork(): void {
        this.corked -= 1;
    }
    write(chunk: Uint8Array | string): boolean {
        this.corkedWrites.push(this.corked > 0);
        this.writes.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("latin1"));
        this.writableLength += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.byteLength;
        return false;
    }
    drain(): void {
        this.writableLength = 0;
    }
}

describe("BoundedStream", () => {
    it("writes a unit whole and corked", () => {
        const target = new StalledTarget();
        const stream = new BoundedStream(target, 100);
        expect(stream.write(["ab", Buffer.from("cd"), "\r\n"])).toBe(true);
        expect(target.writes).toStrictEqual(["ab", "cd", "\r\n"]);
        expect(target.corkedWrites).toStrictEqual([true, true, true]);
        expect(target.corked).toBe(0);
        expect(stream.bytesWritten).toBe(6);
    });

    it("always writes into an empty buffer, even a unit above the limit", () => {
        const target = new StalledTarget();
        const stream = new BoundedStream(target, 10);
        expect(stream.write([Buffer.alloc(50)])).toBe(true);
        expect(stream.bufferedBytes).toBe(50);
    });

    it("drops whole units while the client is behind and never buffers more than the limit", () => {
        const target = new StalledTarget();
        const stream = new BoundedStream(target, 100);
        const results: boolean[] = [];
        for (let index = 0; index < 10; index += 1) {
            results.push(stream.write([Buffer.alloc(30)]));
            expect(target.writableLength).toBeLessThanOrEqual(100);
        }
        expect(results).toStrictEqual([true, true, true, false, false, false, false, false, false, false]);
        expect(stream.unitsWritten).toBe(3);
        expect(stream.unitsDropped).toBe(7);
        target.drain();
        expect(stream.write([Buffer.alloc(30)])).toBe(true);
    });

    it("writes nothing after the response ended or was destroyed", () => {
        const target = new StalledTarget();
        const stream = new BoundedStream(target, 100);
        target.writableEnded = true;
        expect(stream.write(["x"])).toBe(false);
        target.writableEnded = false;
        target.destroyed = true;
        expect(stream.write(["x"])).toBe(false);
        expect(stream.bufferedBytes).toBe(0);
        expect(target.writes).toStrictEqual([]);
        expect(stream.unitsDropped).toBe(0);
    });
});
