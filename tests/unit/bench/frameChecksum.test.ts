import {randomBytes} from "node:crypto";
import {describe, expect, it} from "vitest";
import {frameChecksum, tableCrc32} from "../../../bench/benchProtocol.js";

describe("bench frameChecksum (CRC-32 of a frame)", () => {
    it("matches the CRC-32 check value, with zlib and with the fallback table", () => {
        const check = Buffer.from("123456789");
        expect(frameChecksum(check)).toBe(0xcbf43926);
        expect(tableCrc32(check)).toBe(0xcbf43926);
        expect(tableCrc32(Buffer.alloc(0))).toBe(0);
    });

    it("agrees between the two on frame-sized data and changes with a single flipped bit", () => {
        const frame = randomBytes(25_600);
        const sum = frameChecksum(frame);
        expect(tableCrc32(frame)).toBe(sum);
        frame[12_345] = (frame[12_345] ?? 0) ^ 0x10;
        expect(frameChecksum(frame)).not.toBe(sum);
    });
});
