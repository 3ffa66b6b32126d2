import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {Cmd, MsgFlag} from "../../../src/protocol/commands.js";
import {
    appendJpegTrailer,
    DEVICE_FORWARD_ID,
    encodeJpegFragments,
    MAX_FRAGMENT_BYTES,
} from "../../../src/protocol/jpegFragments.js";
import {MjpegAssembler} from "../../../src/protocol/mjpegAssembler.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {LOGGED_DATAGRAM_PREFIXES, LOGGED_FRAME, loggedFrameJpeg} from "../../support/fixtures/loggedFrame.js";
import {syntheticJpeg} from "../../support/fixtures/syntheticJpeg.js";

describe("encodeJpegFragments", () => {
    const datagrams = encodeJpegFragments(loggedFrameJpeg(), LOGGED_FRAME.firstPackageId);

    it("cuts the §9.2 frame like the camera: HEAD, 24 BODY, END, 1004 bytes each and 680 at the end", () => {
        expect(datagrams).toHaveLength(26);
        const headers = datagrams.map((datagram) => decodeDatagram(datagram).header);
        expect(headers.map((header) => header.msgFlag)).toStrictEqual([
            MsgFlag.head,
            ...Array<number>(24).fill(MsgFlag.body),
            MsgFlag.end,
        ]);
        expect(headers.map((header) => header.payloadLength)).toStrictEqual([...Array<number>(25).fill(1004), 680]);
        expect(headers.map((header) => header.packageId)).toStrictEqual(
            Array.from({length: 26}, (_, index) => LOGGED_FRAME.firstPackageId + index),
        );
        expect(headers.every((header) => header.command === Cmd.jpeg && header.forwardId === DEVICE_FORWARD_ID)).toBe(
            true,
        );
        expect(Math.max(...datagrams.map((datagram) => datagram.length))).toBe(1024);
    });

    it.each(LOGGED_DATAGRAM_PREFIXES)("matches the logged bytes of pkgId $packageId", ({packageId, hex}) => {
        const datagram = datagrams[packageId - LOGGED_FRAME.firstPackageId]!;
        expect(datagram.subarray(0, hex.length / 2).toString("hex")).toBe(hex);
    });

    it("ends the END fragment with the 5-byte trailer: unknown byte, u32 LE 25775", () => {
        const end = datagrams.at(-1)!;
        expect(end.subarray(-7).toString("hex")).toBe(["ffd9", "00", "af640000"].join(""));
    });

    it("is reassembled into the same JPEG", () => {
        const assembler = new MjpegAssembler();
        const results = datagrams.map((datagram) => {
            const {header, payload} = decodeDatagram(datagram);
            return assembler.push(header.packageId, header.msgFlag, payload);
        });
        expect(results.at(-1)).toMatchObject({kind: "frame", frame: {jpeg: loggedFrameJpeg(), trailerByte: 0}});
    });

    it("sends a frame that fits one datagram with msgFlag 255", () => {
        const jpeg = syntheticJpeg(1, MAX_FRAGMENT_BYTES - 5);
        const [datagram, ...rest] = encodeJpegFragments(jpeg, 9, {trailerByte: 0x42});
        expect(rest).toHaveLength(0);
        const {header, payload} = decodeDatagram(datagram!);
        expect(header).toStrictEqual({
            payloadLength: 1004,
            command: 1,
            msgFlag: 255,
            dealFlag: 0,
            forwardId: DEVICE_FORWARD_ID,
            packageId: 9,
        });
        expect(payload.equals(appendJpegTrailer(jpeg, 0x42))).toBe(true);
    });

    it("splits the trailer across datagrams when the JPEG fills the last one", () => {
        const fragments = encodeJpegFragments(syntheticJpeg(1, MAX_FRAGMENT_BYTES - 2), 0);
        expect(fragments.map((datagram) => decodeDatagram(datagram).header.payloadLength)).toStrictEqual([1004, 3]);
    });

    it("honours fragmentBytes, command and forwardId, and wraps pkgIds at 2^32", () => {
        const fragments = encodeJpegFragments(syntheticJpeg(1, 20), 0xffff_ffff, {
            fragmentBytes: 10,
            command: 7,
            forwardId: "00000000",
        });
        const headers = fragments.map((datagram) => decodeDatagram(datagram).header);
        expect(headers.map((header) => header.packageId)).toStrictEqual([0xffff_ffff, 0, 1]);
        expect(headers.map((header) => [header.command, header.msgFlag, header.forwardId])).toStrictEqual([
            [7, 250, "00000000"],
            [7, 251, "00000000"],
            [7, 252, "00000000"],
        ]);
    });

    it.each([0, -1, 1.5, Number.NaN])("rejects fragmentBytes %s", (fragmentBytes) => {
        expect(() => encodeJpegFragments(syntheticJpeg(1, 20), 0, {fragmentBytes})).toThrow(RangeError);
    });

    it("encodes an empty JPEG as a lone trailer", () => {
        const [datagram] = encodeJpegFragments(Buffer.alloc(0), 1);
        expect(datagram!.toString("hex")).toBe("050000000100ff000000000000000000010000000000000000");
    });

    it("round-trips through the assembler for any size and fragment size", () => {
        fc.assert(
            fc.property(
                fc.integer({min: 8, max: 5000}),
                fc.integer({min: 1, max: 2000}),
                fc.integer({min: 0, max: 255}),
                (size, fragmentBytes, trailerByte) => {
                    const jpeg = syntheticJpeg(size, size);
                    const assembler = new MjpegAssembler();
                    const fragments = encodeJpegFragments(jpeg, 1, {
                        fragmentBytes: Math.max(fragmentBytes, 30),
                        trailerByte,
                    });
                    const results = fragments.map((datagram) => {
                        const {header, payload} = decodeDatagram(datagram);
                        return assembler.push(header.packageId, header.msgFlag, payload);
                    });
                    const last = results.at(-1);
                    expect(last?.kind === "frame" && last.frame.jpeg.equals(jpeg) && last.frame.trailerByte).toBe(
                        trailerByte,
                    );
                },
            ),
            {numRuns: 100},
        );
    });
});
