import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {Cmd} from "../../../src/protocol/commands.js";
import {decodeConfirm, encodeConfirm, MAX_CONFIRM_IDS} from "../../../src/protocol/confirm.js";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {CONFIRM_EXAMPLE, LOGGED_CONFIRM_PREFIX, LOGGED_FRAME} from "../../support/fixtures/loggedFrame.js";
import {thrown} from "./thrown.js";

const frameIds = Array.from(
    {length: LOGGED_FRAME.lastPackageId - LOGGED_FRAME.firstPackageId + 1},
    (_, index) => LOGGED_FRAME.firstPackageId + index,
);

describe("confirm (cmd 605)", () => {
    it("encodes the §4.1 example byte for byte", () => {
        expect(encodeConfirm(CONFIRM_EXAMPLE.packageIds).toString("hex")).toBe(CONFIRM_EXAMPLE.hex);
    });

    it("decodes the §4.1 example", () => {
        const packet = decodeDatagram(Buffer.from(CONFIRM_EXAMPLE.hex, "hex"));
        expect(packet.header.command).toBe(Cmd.confirm);
        expect(decodeConfirm(packet.payload)).toStrictEqual(CONFIRM_EXAMPLE.packageIds);
    });

    it("matches the logged 605 for the 26 fragments of the §9.2 frame", () => {
        const hex = encodeConfirm(frameIds).toString("hex");
        expect(hex.startsWith(LOGGED_CONFIRM_PREFIX)).toBe(true);
        expect(hex).toHaveLength(2 * (20 + 26 * 4));
        expect(hex.endsWith("0a0b00000b0b0000")).toBe(true); // 2826, 2827
    });

    it("decodes the logged prefix (11 ids, the log line is cut there)", () => {
        const payload = Buffer.from(LOGGED_CONFIRM_PREFIX, "hex").subarray(20);
        expect(decodeConfirm(payload)).toStrictEqual(frameIds.slice(0, 11));
    });

    it("encodes an empty confirm as a bare 20-byte header", () => {
        expect(encodeConfirm([]).toString("hex")).toBe("000000005d020000303030303030303000000000");
        expect(decodeConfirm(Buffer.alloc(0))).toStrictEqual([]);
    });

    it("keeps the newest 1000 ids (the end of the list) when given more", () => {
        const ids = Array.from({length: 1500}, (_, index) => index);
        const packet = decodeDatagram(encodeConfirm(ids));
        expect(packet.header.payloadLength).toBe(4 * MAX_CONFIRM_IDS);
        expect(decodeConfirm(packet.payload)).toStrictEqual(ids.slice(500));
    });

    it("sends exactly 1000 ids unchanged", () => {
        const ids = Array.from({length: 1000}, (_, index) => 0xffff_ffff - index);
        expect(decodeConfirm(decodeDatagram(encodeConfirm(ids)).payload)).toStrictEqual(ids);
    });

    it("rejects a payload whose length is not a multiple of 4", () => {
        const payload = Buffer.from("f20a0000f3", "hex");
        const error = thrown(() => decodeConfirm(payload));
        expect(error).toBeInstanceOf(ProtocolError);
        expect(error).toMatchObject({message: "confirm payload length 5 is not a multiple of 4", raw: payload});
    });

    it("decodes from a view into a larger buffer", () => {
        const bytes = Buffer.from("ff020000000300000000", "hex");
        expect(decodeConfirm(bytes.subarray(1, 9))).toStrictEqual([2, 3]);
    });

    it("round-trips any list of u32 ids", () => {
        fc.assert(
            fc.property(fc.array(fc.integer({min: 0, max: 0xffff_ffff}), {maxLength: 1200}), (ids) => {
                const packet = decodeDatagram(encodeConfirm(ids));
                expect(decodeConfirm(packet.payload)).toStrictEqual(ids.slice(-MAX_CONFIRM_IDS));
            }),
            {numRuns: 50},
        );
    });

    it("never throws anything but ProtocolError on random payloads", () => {
        fc.assert(
            fc.property(fc.uint8Array({maxLength: 64}), (bytes) => {
                try {
                    expect(decodeConfirm(bytes)).toHaveLength(bytes.length / 4);
                } catch (error) {
                    expect(error).toBeInstanceOf(ProtocolError);
                }
            }),
        );
    });
});
