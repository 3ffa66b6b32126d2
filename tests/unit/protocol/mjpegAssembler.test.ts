import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {MsgFlag} from "../../../src/protocol/commands.js";
import {appendJpegTrailer, encodeJpegFragments} from "../../../src/protocol/jpegFragments.js";
import {type AssemblerResult, MjpegAssembler} from "../../../src/protocol/mjpegAssembler.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {syntheticJpeg} from "../../support/fixtures/syntheticJpeg.js";

interface Fragment {
    readonly packageId: number;
    readonly msgFlag: number;
    readonly payload: Buffer;
}

/** The fragments the camera would send for `jpeg` (through the real encoder and decoder). */
function fragmentsOf(jpeg: Buffer, firstPackageId: number, fragmentBytes = 1004, trailerByte = 0): Fragment[] {
    return encodeJpegFragments(jpeg, firstPackageId, {fragmentBytes, trailerByte}).map((datagram) => {
        const {header, payload} = decodeDatagram(datagram);
        return {packageId: header.packageId, msgFlag: header.msgFlag, payload};
    });
}

/** Fragments for arbitrary concatenated bytes (to build frames with broken trailers). */
function rawFragments(data: Buffer, firstPackageId: number, fragmentBytes: number): Fragment[] {
    const count = Math.ceil(data.length / fragmentBytes);
    return Array.from({length: count}, (_, index) => {
        let msgFlag: number = MsgFlag.body;
        if (count === 1) {
            msgFlag = MsgFlag.whole;
        } else if (index === 0) {
            msgFlag = MsgFlag.head;
        } else if (index === count - 1) {
            msgFlag = MsgFlag.end;
        }
        const payload = data.subarray(index * fragmentBytes, (index + 1) * fragmentBytes);
        return {packageId: (firstPackageId + index) >>> 0, msgFlag, payload};
    });
}

function pushAll(assembler: MjpegAssembler, fragments: readonly Fragment[]): AssemblerResult[] {
    return fragments.map((fragment) => assembler.push(fragment.packageId, fragment.msgFlag, fragment.payload));
}

const framesIn = (results: readonly AssemblerResult[]): Buffer[] =>
    results.flatMap((result) => (result.kind === "frame" ? [result.frame.jpeg] : []));

function lastFrame(results: readonly AssemblerResult[]) {
    const last = results.at(-1);
    if (last?.kind !== "frame") {
        throw new Error(`expected a frame, got ${JSON.stringify(last)}`);
    }
    return last.frame;
}

describe("MjpegAssembler", () => {
    it("assembles the §9.2 shape in order: HEAD 2802, 24 BODY, END 2827 with 680 bytes", () => {
        const jpeg = syntheticJpeg(1, 25_775);
        const assembler = new MjpegAssembler();
        const fragments = fragmentsOf(jpeg, 2802);
        expect(fragments.map((fragment) => fragment.payload.length).at(-1)).toBe(680);
        const results = pushAll(assembler, fragments);
        expect(results.slice(0, -1).every((result) => result.kind === "pending")).toBe(true);
        const frame = lastFrame(results);
        expect(frame.jpeg.equals(jpeg)).toBe(true);
        expect(frame.firstPackageId).toBe(2802);
        expect(frame.lastPackageId).toBe(2827);
        expect(frame.packageIds).toStrictEqual(Array.from({length: 26}, (_, index) => 2802 + index));
        expect(frame.trailerByte).toBe(0);
        expect(assembler.stats.framesCompleted).toBe(1);
        expect(assembler.bufferedBytes).toBe(0);
        expect(assembler.bufferedFragments).toBe(0);
    });

    it("reports the unknown trailer byte", () => {
        const jpeg = syntheticJpeg(7, 3000);
        const frame = lastFrame(pushAll(new MjpegAssembler(), fragmentsOf(jpeg, 1, 1004, 0x5a)));
        expect(frame.trailerByte).toBe(0x5a);
    });

    it("keeps no reference to the caller's payload buffers", () => {
        const jpeg = syntheticJpeg(3, 2500);
        const fragments = fragmentsOf(jpeg, 100);
        const assembler = new MjpegAssembler();
        const [head, ...rest] = fragments;
        assembler.push(head!.packageId, head!.msgFlag, head!.payload);
        head!.payload.fill(0); // the socket reuses its buffer
        const frame = lastFrame(pushAll(assembler, rest));
        expect(frame.jpeg.equals(jpeg)).toBe(true);
    });

    it("buffers the caller's payloads without copying when copyPayloads is false (dgram's own buffers)", () => {
        const jpeg = syntheticJpeg(3, 2500);
        const fragments = fragmentsOf(jpeg, 100);
        const assembler = new MjpegAssembler({copyPayloads: false});
        const [head, ...rest] = fragments;
        assembler.push(head!.packageId, head!.msgFlag, head!.payload);
        head!.payload[0] = 0; // no copy was taken: the change shows in the frame, which is then not a JPEG
        const result = pushAll(assembler, rest).at(-1);
        expect(result).toMatchObject({kind: "dropped", reason: "not-jpeg"});
    });

    it("assembles a frame whose fragments arrive in reverse order", () => {
        const jpeg = syntheticJpeg(2, 10_000);
        const frame = lastFrame(pushAll(new MjpegAssembler(), fragmentsOf(jpeg, 500).reverse()));
        expect(frame.jpeg.equals(jpeg)).toBe(true);
    });

    it("completes when a missing BODY arrives after the END", () => {
        const jpeg = syntheticJpeg(4, 4000);
        const fragments = fragmentsOf(jpeg, 20); // 20 HEAD, 21-23 BODY, 24 END
        const assembler = new MjpegAssembler();
        const late = fragments.splice(2, 1);
        expect(pushAll(assembler, fragments).every((result) => result.kind === "pending")).toBe(true);
        expect(assembler.bufferedFragments).toBe(3);
        expect(lastFrame(pushAll(assembler, late)).jpeg.equals(jpeg)).toBe(true);
    });

    it("ignores and counts a duplicated fragment inside a frame", () => {
        const jpeg = syntheticJpeg(5, 4000);
        const fragments = fragmentsOf(jpeg, 40);
        const assembler = new MjpegAssembler();
        const results = pushAll(assembler, [fragments[0]!, fragments[1]!, fragments[1]!, ...fragments.slice(2)]);
        expect(results[2]).toStrictEqual({kind: "dropped", reason: "duplicate", packageIds: [41]});
        expect(lastFrame(results).jpeg.equals(jpeg)).toBe(true);
        expect(assembler.stats.fragmentsDuplicate).toBe(1);
    });

    it("ignores retransmits of the frame it just completed", () => {
        const fragments = fragmentsOf(syntheticJpeg(6, 3000), 60);
        const assembler = new MjpegAssembler();
        pushAll(assembler, fragments);
        const again = pushAll(assembler, fragments);
        expect(again.every((result) => result.kind === "dropped" && result.reason === "duplicate")).toBe(true);
        expect(assembler.stats).toMatchObject({framesCompleted: 1, fragmentsDuplicate: fragments.length});
        expect(assembler.bufferedFragments).toBe(0);
    });

    it("drops a frame with a missing fragment when the next HEAD arrives, and counts it", () => {
        const assembler = new MjpegAssembler();
        const first = fragmentsOf(syntheticJpeg(1, 5000), 10); // ids 10..14
        const second = fragmentsOf(syntheticJpeg(2, 5000), 15);
        pushAll(
            assembler,
            first.filter((fragment) => fragment.packageId !== 12),
        );
        const results = pushAll(assembler, second);
        expect(results[0]).toStrictEqual({kind: "dropped", reason: "superseded", packageIds: [10, 11, 13, 14]});
        expect(framesIn(results)).toHaveLength(1);
        expect(assembler.stats).toMatchObject({framesDropped: 1, framesSuperseded: 1, fragmentsDropped: 4});
    });

    it("never joins fragments of two HEADs: a new HEAD discards the unfinished frame", () => {
        const first = fragmentsOf(syntheticJpeg(1, 3500), 0); // 0 HEAD, 1 BODY, 2 BODY, 3 END
        const second = fragmentsOf(syntheticJpeg(2, 3500), 4); // 4 HEAD … 7 END
        const assembler = new MjpegAssembler();
        pushAll(assembler, first.slice(0, 3)); // END of the first frame not yet here
        pushAll(assembler, second.slice(0, 1));
        const results = pushAll(assembler, [first[3]!, ...second.slice(1)]);
        expect(results[0]).toStrictEqual({kind: "dropped", reason: "stray", packageIds: [3]});
        expect(framesIn(results)).toStrictEqual([syntheticJpeg(2, 3500)]);
        expect(assembler.stats.fragmentsStray).toBe(1);
    });

    it("completes a frame whose HEAD arrives after its BODYs", () => {
        const jpeg = syntheticJpeg(9, 3000);
        const fragments = fragmentsOf(jpeg, 1000);
        const frame = lastFrame(pushAll(new MjpegAssembler(), [...fragments.slice(1), fragments[0]!]));
        expect(frame.jpeg.equals(jpeg)).toBe(true);
    });

    it("keeps a newer frame's early fragments when an older HEAD supersedes nothing of them", () => {
        const first = fragmentsOf(syntheticJpeg(1, 3500), 0);
        const second = fragmentsOf(syntheticJpeg(2, 3500), 4);
        const assembler = new MjpegAssembler();
        const results = pushAll(assembler, [second[2]!, ...first, second[0]!, second[1]!, second[3]!]);
        expect(framesIn(results)).toStrictEqual([syntheticJpeg(1, 3500), syntheticJpeg(2, 3500)]);
    });

    it("passes a single-packet (255) frame through", () => {
        const jpeg = syntheticJpeg(11, 900);
        const fragments = fragmentsOf(jpeg, 77);
        expect(fragments).toHaveLength(1);
        expect(fragments[0]!.msgFlag).toBe(MsgFlag.whole);
        const frame = lastFrame(pushAll(new MjpegAssembler(), fragments));
        expect(frame).toStrictEqual({jpeg, firstPackageId: 77, lastPackageId: 77, packageIds: [77], trailerByte: 0});
    });

    it("returns a whole frame that also supersedes an unfinished one, counting the drop", () => {
        const assembler = new MjpegAssembler();
        pushAll(assembler, fragmentsOf(syntheticJpeg(1, 3000), 0).slice(0, 2));
        const frame = lastFrame(pushAll(assembler, fragmentsOf(syntheticJpeg(2, 500), 4)));
        expect(frame.firstPackageId).toBe(4);
        expect(assembler.stats).toMatchObject({framesSuperseded: 1, framesCompleted: 1});
        expect(assembler.bufferedFragments).toBe(0);
    });

    it("handles pkgId wraparound at 2^32", () => {
        const jpeg = syntheticJpeg(12, 5000);
        const assembler = new MjpegAssembler();
        const frame = lastFrame(pushAll(assembler, fragmentsOf(jpeg, 0xffff_fffe)));
        expect(frame.packageIds).toStrictEqual([0xffff_fffe, 0xffff_ffff, 0, 1, 2]);
        expect(frame.jpeg.equals(jpeg)).toBe(true);
        const next = syntheticJpeg(13, 3000);
        expect(lastFrame(pushAll(assembler, fragmentsOf(next, 3).reverse())).jpeg.equals(next)).toBe(true);
        expect(assembler.push(0xffff_ffff, MsgFlag.body, Buffer.alloc(4))).toStrictEqual({
            kind: "dropped",
            reason: "stray",
            packageIds: [0xffff_ffff],
        });
    });

    it("drops fragments with an unknown msgFlag as stray", () => {
        const assembler = new MjpegAssembler();
        expect(assembler.push(5, 0, syntheticJpeg(1, 100))).toStrictEqual({
            kind: "dropped",
            reason: "stray",
            packageIds: [5],
        });
        expect(assembler.bufferedFragments).toBe(0);
    });

    it("starts over when the camera restarts its pkgId counter", () => {
        const assembler = new MjpegAssembler();
        pushAll(assembler, fragmentsOf(syntheticJpeg(1, 3000), 1_000_000));
        pushAll(assembler, fragmentsOf(syntheticJpeg(2, 3000), 1_000_004).slice(0, 2));
        const jpeg = syntheticJpeg(3, 3000);
        const results = pushAll(assembler, fragmentsOf(jpeg, 1));
        expect(results[0]).toStrictEqual({kind: "dropped", reason: "superseded", packageIds: [1_000_004, 1_000_005]});
        expect(lastFrame(results).jpeg.equals(jpeg)).toBe(true);
        expect(assembler.stats.sequenceResets).toBe(1);
    });

    it("starts over on a restarted counter with nothing buffered", () => {
        const assembler = new MjpegAssembler();
        pushAll(assembler, fragmentsOf(syntheticJpeg(1, 3000), 1_000_000));
        const jpeg = syntheticJpeg(3, 3000);
        const results = pushAll(assembler, fragmentsOf(jpeg, 1));
        expect(results[0]).toStrictEqual({kind: "pending"});
        expect(lastFrame(results).jpeg.equals(jpeg)).toBe(true);
    });

    it("drops the whole run when a pkgId reappears with other content, never mixing the two", () => {
        const assembler = new MjpegAssembler();
        const stale = fragmentsOf(syntheticJpeg(1, 3500), 50);
        pushAll(assembler, stale.slice(1, 3)); // BODY 51, 52 of an older sequence
        const fresh = fragmentsOf(syntheticJpeg(2, 3500), 50);
        const results = pushAll(assembler, fresh); // HEAD 50 links to the stale 51 before the conflict shows
        expect(results[1]).toStrictEqual({kind: "dropped", reason: "superseded", packageIds: [50, 51, 52]});
        expect(framesIn(results)).toStrictEqual([]);
        const jpeg = syntheticJpeg(3, 3500);
        expect(lastFrame(pushAll(assembler, fragmentsOf(jpeg, 54))).jpeg.equals(jpeg)).toBe(true);
    });

    describe("trailer and JPEG checks (§9.2 step 3)", () => {
        it("drops a frame whose trailer length does not match and has no EOI at the end", () => {
            const data = appendJpegTrailer(syntheticJpeg(1, 3000));
            data.writeUInt32LE(2999, data.length - 4); // sz: (2999 <> 3000)
            const assembler = new MjpegAssembler();
            const results = pushAll(assembler, rawFragments(data, 10, 1004));
            expect(results.at(-1)).toStrictEqual({
                kind: "dropped",
                reason: "trailer-mismatch",
                packageIds: [10, 11, 12],
            });
            expect(assembler.stats).toMatchObject({trailerMismatch: 1, framesDropped: 1, framesCompleted: 0});
        });

        it("[quirk] keeps a frame without a trailer that ends in EOI", () => {
            const jpeg = syntheticJpeg(1, 3000);
            const assembler = new MjpegAssembler();
            const frame = lastFrame(pushAll(assembler, rawFragments(jpeg, 10, 1004)));
            expect(frame.jpeg.equals(jpeg)).toBe(true);
            expect(frame.trailerByte).toBe(-1);
            expect(assembler.stats.framesWithoutTrailer).toBe(1);
        });

        it("[quirk] keeps a frame with a 4-byte trailer (the EOI ends within the last 5 bytes)", () => {
            const jpeg = syntheticJpeg(1, 3000);
            const data = Buffer.concat([jpeg, Buffer.from("00000000", "hex")]);
            const frame = lastFrame(pushAll(new MjpegAssembler(), rawFragments(data, 10, 1004)));
            expect(frame.jpeg.equals(jpeg)).toBe(true);
        });

        it("drops a frame with a valid trailer but no EOI", () => {
            const broken = syntheticJpeg(1, 3000);
            broken[broken.length - 1] = 0x00;
            const results = pushAll(new MjpegAssembler(), rawFragments(appendJpegTrailer(broken), 10, 1004));
            expect(results.at(-1)).toMatchObject({kind: "dropped", reason: "not-jpeg"});
        });

        it("drops a frame that does not start with SOI", () => {
            const broken = syntheticJpeg(1, 3000);
            broken[1] = 0x00;
            const assembler = new MjpegAssembler();
            const results = pushAll(assembler, rawFragments(appendJpegTrailer(broken), 10, 1004));
            expect(results.at(-1)).toMatchObject({kind: "dropped", reason: "not-jpeg"});
            expect(assembler.stats.framesNotJpeg).toBe(1);
        });

        it("drops tiny and empty single-packet frames", () => {
            const assembler = new MjpegAssembler();
            expect(assembler.push(1, MsgFlag.whole, Buffer.alloc(0))).toMatchObject({reason: "not-jpeg"});
            expect(assembler.push(2, MsgFlag.whole, Buffer.from("ffd8ff", "hex"))).toMatchObject({
                reason: "trailer-mismatch",
            });
            expect(assembler.push(3, MsgFlag.whole, Buffer.from("ffd9ffd9", "hex"))).toMatchObject({
                reason: "not-jpeg",
            });
        });

        it("reports a validation drop together with the frames it superseded", () => {
            const assembler = new MjpegAssembler();
            pushAll(assembler, fragmentsOf(syntheticJpeg(1, 3000), 0).slice(0, 2));
            expect(assembler.push(4, MsgFlag.whole, Buffer.from("0000", "hex"))).toStrictEqual({
                kind: "dropped",
                reason: "not-jpeg",
                packageIds: [0, 1, 4],
            });
        });
    });

    describe("expiry and memory bounds", () => {
        it("expires incomplete frames after expireMs of the injected clock", () => {
            let nowMs = 10_000;
            const assembler = new MjpegAssembler({expireMs: 1000}, () => nowMs);
            pushAll(assembler, fragmentsOf(syntheticJpeg(1, 3500), 0).slice(0, 3));
            nowMs += 999;
            expect(assembler.expire()).toStrictEqual([]);
            pushAll(assembler, fragmentsOf(syntheticJpeg(2, 3000), 10).slice(1, 2)); // seen later, expires later
            nowMs += 1;
            expect(assembler.expire()).toStrictEqual([{kind: "dropped", reason: "expired", packageIds: [0, 1, 2]}]);
            expect(assembler.bufferedFragments).toBe(1);
            nowMs += 1000;
            expect(assembler.expire()).toStrictEqual([{kind: "dropped", reason: "expired", packageIds: [11]}]);
            expect(assembler.stats).toMatchObject({framesExpired: 2, framesDropped: 2, fragmentsDropped: 4});
            expect(assembler.bufferedBytes).toBe(0);
        });

        it("counts the pieces of one frame split by a gap as one expired frame", () => {
            let nowMs = 0;
            const assembler = new MjpegAssembler({}, () => nowMs);
            const fragments = fragmentsOf(syntheticJpeg(1, 6000), 0); // 0..5
            pushAll(assembler, [fragments[4]!, fragments[5]!, fragments[0]!, fragments[1]!]);
            nowMs = 5000;
            expect(assembler.expire()).toStrictEqual([{kind: "dropped", reason: "expired", packageIds: [0, 1, 4, 5]}]);
            expect(assembler.stats.framesExpired).toBe(1);
        });

        it("a frame that completes after its first fragment expired is still correct", () => {
            let nowMs = 0;
            const assembler = new MjpegAssembler({expireMs: 100}, () => nowMs);
            const jpeg = syntheticJpeg(1, 3000);
            const fragments = fragmentsOf(jpeg, 0);
            pushAll(assembler, fragments.slice(0, 2));
            nowMs = 200;
            assembler.expire();
            const results = pushAll(assembler, fragments); // the camera retransmits all of them
            expect(lastFrame(results).jpeg.equals(jpeg)).toBe(true);
        });

        it("evicts the oldest incomplete frame when maxFragments is exceeded", () => {
            let nowMs = 0;
            const assembler = new MjpegAssembler({maxFragments: 4}, () => nowMs);
            pushAll(assembler, [
                fragmentsOf(syntheticJpeg(1, 3000), 100)[1]!,
                fragmentsOf(syntheticJpeg(1, 3000), 100)[2]!,
            ]);
            nowMs = 1;
            pushAll(assembler, fragmentsOf(syntheticJpeg(2, 3000), 200).slice(1, 3));
            nowMs = 2;
            const result = assembler.push(300, MsgFlag.body, Buffer.alloc(10));
            expect(result).toStrictEqual({kind: "dropped", reason: "incomplete", packageIds: [101, 102]});
            expect(assembler.bufferedFragments).toBe(3);
            expect(assembler.stats.framesIncomplete).toBe(1);
        });

        it("evicts when the buffered bytes exceed maxFrameBytes", () => {
            let nowMs = 0;
            const assembler = new MjpegAssembler({maxFrameBytes: 2500}, () => nowMs);
            assembler.push(11, MsgFlag.body, Buffer.alloc(1000));
            nowMs = 1;
            assembler.push(21, MsgFlag.body, Buffer.alloc(1000));
            const result = assembler.push(31, MsgFlag.body, Buffer.alloc(1000));
            expect(result).toStrictEqual({kind: "dropped", reason: "incomplete", packageIds: [11]});
            expect(assembler.bufferedBytes).toBe(2000);
        });

        it("drops a frame larger than maxFrameBytes", () => {
            const assembler = new MjpegAssembler({maxFrameBytes: 4000});
            const results = pushAll(assembler, fragmentsOf(syntheticJpeg(1, 6000), 0));
            expect(results.find((result) => result.kind === "dropped")).toStrictEqual({
                kind: "dropped",
                reason: "too-large",
                packageIds: [0, 1, 2, 3],
            });
            expect(framesIn(results)).toHaveLength(0);
            expect(assembler.bufferedBytes).toBeLessThanOrEqual(4000);
            expect(assembler.stats.framesTooLarge).toBeGreaterThanOrEqual(1);
            expect(assembler.push(100, MsgFlag.whole, appendJpegTrailer(syntheticJpeg(2, 4000)))).toMatchObject({
                reason: "too-large",
            });
        });

        it("reset forgets buffered fragments and the sequence position", () => {
            const assembler = new MjpegAssembler();
            pushAll(assembler, fragmentsOf(syntheticJpeg(1, 3000), 500));
            pushAll(assembler, fragmentsOf(syntheticJpeg(2, 3000), 504).slice(0, 2));
            assembler.reset();
            expect(assembler.bufferedBytes).toBe(0);
            const jpeg = syntheticJpeg(3, 3000);
            expect(lastFrame(pushAll(assembler, fragmentsOf(jpeg, 400))).jpeg.equals(jpeg)).toBe(true);
            expect(assembler.stats.framesCompleted).toBe(2);
        });
    });

    describe("fixed fragment ring", () => {
        it("sizes the ring once: the smallest power of two above maxFragments", () => {
            expect(new MjpegAssembler().capacity).toBe(2048); // maxFragments 1024, plus the one a push briefly adds
            expect(new MjpegAssembler({maxFragments: 4}).capacity).toBe(8);
            expect(new MjpegAssembler({maxFragments: 7}).capacity).toBe(8);
            expect(new MjpegAssembler({maxFragments: 0}).capacity).toBe(1);
            for (const maxFragments of [-1, 1.5, Number.POSITIVE_INFINITY, Number.NaN, 0x10_0001]) {
                expect(() => new MjpegAssembler({maxFragments})).toThrow(RangeError);
            }
        });

        it("assembles 10 000 in-order frames through a small ring across the 2^32 wrap, leaving nothing behind", () => {
            const jpeg = syntheticJpeg(21, 300);
            const template = fragmentsOf(jpeg, 0, 64); // 5 fragments per frame
            expect(template).toHaveLength(5);
            const assembler = new MjpegAssembler({maxFragments: 5});
            const capacity = assembler.capacity;
            let id = 0xffff_ff00;
            let frames = 0;
            let isExact = true;
            for (let frame = 0; frame < 10_000; frame += 1) {
                const ordered = frame % 3 === 0 ? [...template].reverse() : template; // some reordered within the frame
                for (const fragment of ordered) {
                    const result = assembler.push((id + fragment.packageId) >>> 0, fragment.msgFlag, fragment.payload);
                    if (result.kind === "frame") {
                        frames += 1;
                        isExact &&= result.frame.jpeg.equals(jpeg) && result.frame.firstPackageId === id;
                    } else if (result.kind === "dropped") {
                        expect.fail(`unexpected drop ${JSON.stringify(result)}`);
                    }
                }
                id = (id + template.length) >>> 0;
            }
            expect(frames).toBe(10_000);
            expect(isExact).toBe(true);
            expect(assembler.bufferedFragments).toBe(0);
            expect(assembler.bufferedBytes).toBe(0);
            expect(assembler.capacity).toBe(capacity);
            expect(assembler.stats).toMatchObject({framesCompleted: 10_000, framesDropped: 0, fragmentsDropped: 0});
        });

        it("drops the older run when a pkgId one capacity later arrives, and never takes it for a duplicate", () => {
            const assembler = new MjpegAssembler({maxFragments: 4});
            const same = Buffer.from("0102030405", "hex");
            assembler.push(100, MsgFlag.body, same);
            assembler.push(101, MsgFlag.body, Buffer.from("06", "hex"));
            expect(assembler.push(100 + assembler.capacity, MsgFlag.body, same)).toStrictEqual({
                kind: "dropped",
                reason: "incomplete",
                packageIds: [100, 101],
            });
            expect(assembler.bufferedFragments).toBe(1);
            expect(assembler.bufferedBytes).toBe(same.length);
            expect(assembler.stats).toMatchObject({
                fragmentsDuplicate: 0,
                framesIncomplete: 1,
                framesDropped: 1,
                fragmentsDropped: 2,
            });
        });

        it("completes a frame whose fragment shares a slot with an early fragment of a later frame", () => {
            const jpeg = syntheticJpeg(22, 200);
            const fragments = fragmentsOf(jpeg, 100, 64); // 100 HEAD, 101-102 BODY, 103 END
            expect(fragments).toHaveLength(4);
            const assembler = new MjpegAssembler({maxFragments: 4});
            const ahead = 101 + assembler.capacity;
            expect(assembler.push(ahead, MsgFlag.body, Buffer.alloc(3))).toStrictEqual({kind: "pending"});
            const results = pushAll(assembler, fragments);
            expect(results[0]).toStrictEqual({kind: "pending"}); // the HEAD does not supersede a later pkgId
            expect(results[1]).toStrictEqual({kind: "dropped", reason: "incomplete", packageIds: [ahead]});
            expect(lastFrame(results).jpeg.equals(jpeg)).toBe(true);
            expect(assembler.bufferedFragments).toBe(0);
            expect(assembler.stats).toMatchObject({framesCompleted: 1, framesIncomplete: 1});
        });

        it("never completes a frame from the fragments of another pkgId in the same slot", () => {
            const fragments = fragmentsOf(syntheticJpeg(23, 200), 100, 64); // 100 HEAD … 103 END
            const assembler = new MjpegAssembler({maxFragments: 4});
            pushAll(assembler, fragments.slice(0, 3)); // END 103 still missing
            const impostor = 102 + assembler.capacity; // an END in 102's slot: 103 must not see 100…102 through it
            expect(assembler.push(impostor, MsgFlag.end, Buffer.from("ffd9", "hex"))).toStrictEqual({
                kind: "dropped",
                reason: "incomplete",
                packageIds: [100, 101, 102],
            });
            const end = fragments[3]!;
            expect(assembler.push(end.packageId, end.msgFlag, end.payload)).toStrictEqual({kind: "pending"});
            expect(assembler.bufferedFragments).toBe(2);
            expect(assembler.stats.framesCompleted).toBe(0);
        });

        it("handles a slot shared across the 2^32 wrap", () => {
            const jpeg = syntheticJpeg(24, 200);
            const fragments = fragmentsOf(jpeg, 0xffff_fffe, 64); // 0xfffffffe, 0xffffffff, 0, 1
            const assembler = new MjpegAssembler({maxFragments: 4});
            const ahead = (0xffff_ffff + assembler.capacity) >>> 0;
            assembler.push(ahead, MsgFlag.body, Buffer.alloc(3));
            const results = pushAll(assembler, [fragments[3]!, fragments[0]!, fragments[2]!, fragments[1]!]);
            expect(results[3]).toMatchObject({kind: "frame"});
            expect(lastFrame(results).packageIds).toStrictEqual([0xffff_fffe, 0xffff_ffff, 0, 1]);
            expect(lastFrame(results).jpeg.equals(jpeg)).toBe(true);
            expect(assembler.stats).toMatchObject({framesIncomplete: 1, fragmentsDropped: 1});
            expect(pushAll(assembler, fragments).every((result) => result.kind === "dropped")).toBe(true);
            expect(assembler.stats.fragmentsDuplicate).toBe(4);
            expect(assembler.bufferedFragments).toBe(0);
        });
    });

    describe("properties", () => {
        const framesArbitrary = fc.record({
            sizes: fc.array(fc.integer({min: 8, max: 6000}), {minLength: 1, maxLength: 6}),
            fragmentBytes: fc.oneof(fc.constant(1004), fc.integer({min: 1, max: 1200})),
            firstPackageId: fc.oneof(fc.constant(0xffff_fff0), fc.nat(), fc.constant(0)),
        });

        function buildStream(sizes: readonly number[], fragmentBytes: number, firstPackageId: number) {
            const jpegs = sizes.map((size, index) => syntheticJpeg(index + 1, size));
            const byFirstId = new Map<number, Buffer>();
            const fragments: Fragment[][] = [];
            let nextId = firstPackageId;
            for (const jpeg of jpegs) {
                const frameFragments = fragmentsOf(
                    jpeg,
                    nextId,
                    Math.max(fragmentBytes, Math.ceil((jpeg.length + 5) / 64)),
                );
                byFirstId.set(nextId, jpeg);
                fragments.push(frameFragments);
                nextId = (nextId + frameFragments.length) >>> 0;
            }
            return {byFirstId, fragments};
        }

        it("never emits a frame that is not byte-identical to a sent JPEG, under loss, duplication and reorder", () => {
            fc.assert(
                fc.property(
                    framesArbitrary,
                    fc.infiniteStream(fc.nat()),
                    fc.record({
                        maxFragments: fc.integer({min: 1, max: 1024}),
                        expireEvery: fc.integer({min: 1, max: 50}),
                    }),
                    ({sizes, fragmentBytes, firstPackageId}, random, {maxFragments, expireEvery}) => {
                        const {byFirstId, fragments} = buildStream(sizes, fragmentBytes, firstPackageId);
                        const rng = random[Symbol.iterator]();
                        const draw = (): number => rng.next().value as number;
                        const sent: {key: number; fragment: Fragment}[] = [];
                        for (const fragment of fragments.flat()) {
                            const copies = draw() % 4; // 0 = lost, 2-3 = duplicated
                            for (let copy = 0; copy < copies; copy += 1) {
                                sent.push({key: draw(), fragment});
                            }
                        }
                        if (draw() % 2 === 0) {
                            sent.sort((a, b) => a.key - b.key); // full shuffle across frames
                        }
                        let nowMs = 0;
                        const assembler = new MjpegAssembler({maxFragments, expireMs: 200}, () => nowMs);
                        const emitted: number[] = [];
                        let isWithinBounds = true;
                        sent.forEach(({fragment}, index) => {
                            nowMs += draw() % 20;
                            const results = [assembler.push(fragment.packageId, fragment.msgFlag, fragment.payload)];
                            if (index % expireEvery === 0) {
                                results.push(...assembler.expire());
                            }
                            for (const result of results) {
                                if (result.kind === "frame") {
                                    const expected = byFirstId.get(result.frame.firstPackageId);
                                    if (expected === undefined || !result.frame.jpeg.equals(expected)) {
                                        expect.fail(`corrupt frame at pkgId ${result.frame.firstPackageId}`);
                                    }
                                    emitted.push(result.frame.firstPackageId);
                                }
                            }
                            isWithinBounds &&=
                                assembler.bufferedFragments <= maxFragments && assembler.bufferedBytes <= 1024 * 1024;
                        });
                        expect(new Set(emitted).size).toBe(emitted.length); // each frame at most once
                        expect(isWithinBounds).toBe(true);
                    },
                ),
                {numRuns: 250},
            );
        });

        it("delivers exactly the frames none of whose fragments were lost, when reordering stays within a frame", () => {
            fc.assert(
                fc.property(
                    framesArbitrary,
                    fc.infiniteStream(fc.nat()),
                    ({sizes, fragmentBytes, firstPackageId}, random) => {
                        const {byFirstId, fragments} = buildStream(sizes, fragmentBytes, firstPackageId);
                        const rng = random[Symbol.iterator]();
                        const draw = (): number => rng.next().value as number;
                        const assembler = new MjpegAssembler();
                        const expected: Buffer[] = [];
                        const delivered: Buffer[] = [];
                        for (const frameFragments of fragments) {
                            const sent: {key: number; fragment: Fragment}[] = [];
                            let isComplete = true;
                            for (const fragment of frameFragments) {
                                const copies = draw() % 8 === 0 ? 0 : 1 + (draw() % 2);
                                isComplete &&= copies > 0;
                                for (let copy = 0; copy < copies; copy += 1) {
                                    sent.push({key: draw(), fragment});
                                }
                            }
                            sent.sort((a, b) => a.key - b.key);
                            if (isComplete) {
                                expected.push(byFirstId.get(frameFragments[0]!.packageId)!);
                            }
                            delivered.push(
                                ...framesIn(
                                    sent.map(({fragment}) =>
                                        assembler.push(fragment.packageId, fragment.msgFlag, fragment.payload),
                                    ),
                                ),
                            );
                        }
                        expect(delivered.length).toBe(expected.length);
                        expect(delivered.every((jpeg, index) => jpeg.equals(expected[index]!))).toBe(true);
                    },
                ),
                {numRuns: 250},
            );
        });

        it("never throws and only emits SOI…EOI frames on random fragments", () => {
            fc.assert(
                fc.property(
                    fc.array(
                        fc.record({
                            packageId: fc.oneof(fc.integer({min: 0, max: 40}), fc.nat(), fc.constant(0xffff_ffff)),
                            msgFlag: fc.oneof(fc.constantFrom(0, 250, 251, 252, 255), fc.integer({min: 0, max: 255})),
                            payload: fc.oneof(
                                fc.uint8Array({maxLength: 40}),
                                fc.constant(new Uint8Array([0xff, 0xd8, 0xff, 0xd9, 0, 4, 0, 0, 0])),
                                fc.constant(new Uint8Array([0xff, 0xd8])),
                                fc.constant(new Uint8Array([0xff, 0xd9, 0, 4, 0, 0, 0])),
                            ),
                        }),
                        {maxLength: 200},
                    ),
                    (pushes) => {
                        const assembler = new MjpegAssembler({maxFragments: 16, maxFrameBytes: 256}, () => 0);
                        for (const {packageId, msgFlag, payload} of pushes) {
                            const result = assembler.push(packageId, msgFlag, Buffer.from(payload));
                            if (result.kind === "frame") {
                                expect(result.frame.jpeg.subarray(0, 2).toString("hex")).toBe("ffd8");
                                expect(result.frame.jpeg.subarray(-2).toString("hex")).toBe("ffd9");
                            }
                            expect(assembler.bufferedFragments).toBeLessThanOrEqual(16);
                            expect(assembler.bufferedBytes).toBeLessThanOrEqual(256);
                        }
                        assembler.expire();
                    },
                ),
                {numRuns: 500},
            );
        });
    });
});
