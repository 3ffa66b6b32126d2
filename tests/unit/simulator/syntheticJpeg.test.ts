import {spawnSync} from "node:child_process";
import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {encodeJpegFragments} from "../../../src/protocol/jpegFragments.js";
import {
    createSyntheticJpegSource,
    encodeJpeg,
    readSimFrameCounter,
    readSimFrameInfo,
} from "../../../src/simulator/syntheticJpeg.js";

interface Segment {
    readonly marker: number;
    readonly offset: number;
    readonly payload: Buffer;
}

/** The marker segments from SOI to SOS, plus the entropy-coded data after SOS. */
function parseJpeg(jpeg: Buffer): {segments: Segment[]; entropy: Buffer} {
    expect(jpeg.subarray(0, 2).toString("hex")).toBe("ffd8");
    expect(jpeg.subarray(-2).toString("hex")).toBe("ffd9");
    const segments: Segment[] = [];
    let offset = 2;
    for (;;) {
        expect(jpeg[offset]).toBe(0xff);
        const marker = jpeg[offset + 1] ?? 0;
        const length = jpeg.readUInt16BE(offset + 2);
        segments.push({marker, offset, payload: jpeg.subarray(offset + 4, offset + 2 + length)});
        offset += 2 + length;
        if (marker === 0xda) {
            return {segments, entropy: jpeg.subarray(offset, jpeg.length - 2)};
        }
    }
}

function hasTool(command: string, args: string[]): boolean {
    return spawnSync(command, args, {stdio: "ignore"}).status === 0;
}
const hasFfmpeg = hasTool("ffmpeg", ["-version"]);
const isCi = process.env["CI"] === "true";

describe("synthetic JPEG frames", () => {
    const source = createSyntheticJpegSource();

    it("are baseline 4:2:2 JFIF with DQT, SOF0, DHT, DRI and SOS in order", () => {
        const jpeg = source.render("0800c00128F8", 42);
        const {segments} = parseJpeg(jpeg);
        expect(segments.map((segment) => segment.marker.toString(16))).toStrictEqual([
            "e0", // APP0 JFIF (the camera's frames start ffd8ffe000104a464946, §9.2)
            "fe", // COM with the counter
            "db", // DQT
            "c0", // SOF0 baseline
            "c4", // DHT
            "dd", // DRI
            "da", // SOS
        ]);
        expect(jpeg.subarray(0, 10).toString("hex")).toBe("ffd8ffe000104a464946");
        const sof = segments[3]?.payload ?? Buffer.alloc(0);
        // precision 8, 480×640, 3 components: Y 2×1 table 0, Cb 1×1 table 1, Cr 1×1 table 1.
        expect(sof.toString("hex")).toBe("0801e0028003012100021101031101");
        expect(segments[2]?.payload.length).toBe(2 * 65);
        expect(segments[4]?.payload.length).toBe(4 * (1 + 16) + 2 * 12 + 2 * 162);
    });

    it("stuff every 0xFF in the entropy data and number the restart markers 0..7 in order", () => {
        const {segments, entropy} = parseJpeg(source.render("0800c00128F8", 987_654));
        const interval = segments[5]?.payload.readUInt16BE(0) ?? 0;
        expect(interval).toBeGreaterThan(0);
        let expected = 0;
        let restarts = 0;
        for (let index = 0; index < entropy.length; index += 1) {
            if (entropy[index] !== 0xff) {
                continue;
            }
            const next = entropy[index + 1] ?? -1;
            if (next === 0x00) {
                index += 1;
                continue;
            }
            expect(next).toBe(0xd0 + expected);
            expected = (expected + 1) % 8;
            restarts += 1;
            index += 1;
        }
        // 640×480 in 16×8 MCUs = 2400 MCUs; one RST between consecutive intervals.
        expect(restarts).toBe(2400 / interval - 1);
    });

    it("carry the camera id and frame counter in the COM segment", () => {
        const jpeg = source.render("0800c00128F8", 1234);
        const comment = parseJpeg(jpeg).segments[1]?.payload.toString("latin1");
        expect(comment).toBe("v720sim cam=0800c00128F8 frame=0000001234");
        expect(readSimFrameCounter(jpeg)).toBe(1234);
        expect(readSimFrameInfo(jpeg)).toStrictEqual({cameraId: "0800c00128F8", counter: 1234});
        expect(readSimFrameCounter(source.render("x", 9_999_999_999))).toBe(9_999_999_999);
    });

    it("are deterministic per (camera, counter) and differ between counters and cameras", () => {
        const a = source.render("0800c0000001", 7);
        expect(source.render("0800c0000001", 7).equals(a)).toBe(true);
        expect(source.render("0800c0000001", 8).equals(a)).toBe(false);
        expect(source.render("0800c0000002", 7).equals(a)).toBe(false);
        // The picture itself changes, not only the comment: compare the entropy data.
        expect(parseJpeg(source.render("0800c0000001", 8)).entropy.equals(parseJpeg(a).entropy)).toBe(false);
    });

    it("are 15–30 KB at 640×480 by default", () => {
        for (const counter of [0, 1, 88, 123_456, 888_888]) {
            const size = source.render("0800c0000001", counter).length;
            expect(size).toBeGreaterThan(15_000);
            expect(size).toBeLessThan(30_000);
        }
    });

    it("hit targetBytes exactly, e.g. the logged 25,775-byte frame in 26 fragments of at most 1004 bytes", () => {
        const target = createSyntheticJpegSource({targetBytes: 25_775});
        for (const counter of [1, 2, 888_888]) {
            const jpeg = target.render("0800c0000001", counter);
            expect(jpeg.length).toBe(25_775);
            expect(readSimFrameCounter(jpeg)).toBe(counter);
            const fragments = encodeJpegFragments(jpeg, 2802);
            expect(fragments.length).toBe(26);
            expect(fragments.at(-1)?.length).toBe(20 + 680); // as in the §9.2 log
        }
        const big = createSyntheticJpegSource({width: 160, height: 120, targetBytes: 200_000});
        const jpeg = big.render("0800c0000001", 5);
        expect(jpeg.length).toBe(200_000);
        expect(readSimFrameCounter(jpeg)).toBe(5);
        parseJpeg(jpeg);
    });

    it("accept sizes that are not multiples of the MCU", () => {
        const odd = createSyntheticJpegSource({width: 100, height: 60, quality: 50});
        const {segments} = parseJpeg(odd.render("0800c0000001", 3));
        expect(
            segments
                .find((segment) => segment.marker === 0xc0)
                ?.payload.subarray(1, 5)
                .toString("hex"),
        ).toBe("003c0064");
        expect(() => createSyntheticJpegSource({width: 8, height: 8})).toThrow(RangeError);
        expect(() => createSyntheticJpegSource({quality: 0})).toThrow(RangeError);
    });

    it("readSimFrameInfo returns undefined for other JPEGs and never throws on random bytes", () => {
        const plain = encodeJpeg({
            width: 16,
            height: 16,
            y: new Uint8Array(256).fill(128),
            cb: new Uint8Array(128).fill(128),
            cr: new Uint8Array(128).fill(128),
        });
        expect(readSimFrameInfo(plain)).toBeUndefined();
        expect(readSimFrameInfo(Buffer.from("ffd8ffd9", "hex"))).toBeUndefined();
        fc.assert(
            fc.property(fc.uint8Array({maxLength: 200}), (bytes) => {
                const withSoi = Buffer.concat([Buffer.from([0xff, 0xd8]), bytes]);
                readSimFrameInfo(bytes);
                readSimFrameInfo(withSoi);
            }),
        );
    });

    it.runIf(hasFfmpeg || isCi)("decode with ffmpeg", () => {
        expect(hasFfmpeg, "ffmpeg is not on PATH (required under CI=true)").toBe(true);
        for (const jpeg of [
            source.render("0800c00128F8", 123_456),
            createSyntheticJpegSource({targetBytes: 25_775}).render("0800c0000001", 9),
            createSyntheticJpegSource({width: 100, height: 60}).render("0800c0000001", 9),
        ]) {
            const result = spawnSync("ffmpeg", ["-v", "error", "-i", "pipe:0", "-f", "null", "-"], {input: jpeg});
            expect(result.stderr.toString()).toBe("");
            expect(result.status).toBe(0);
        }
    });
    it.skipIf(hasFfmpeg || isCi)("decode with ffmpeg (skipped: ffmpeg is not on PATH)", () => undefined);
});
