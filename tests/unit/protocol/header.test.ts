import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {
    decodeHeader,
    encodeHeader,
    FORWARD_ID_ZEROS,
    HEADER_LENGTH,
    type PacketHeader,
    writeHeader,
} from "../../../src/protocol/header.js";
import {HANDSHAKE_FIXTURES} from "../../support/fixtures/handshake.js";
import {LOGGED_DATAGRAM_PREFIXES} from "../../support/fixtures/loggedFrame.js";
import {FORWARD_ID} from "../../support/fixtures/packetFixture.js";
import {TCP_SESSION_FIXTURES} from "../../support/fixtures/tcpSession.js";
import {thrown} from "./thrown.js";

const cases: {name: string; hex: string; header: PacketHeader}[] = [
    ...[...TCP_SESSION_FIXTURES, ...HANDSHAKE_FIXTURES].map(({name, hex, header}) => ({
        name,
        hex: hex.slice(0, 2 * HEADER_LENGTH),
        header,
    })),
    {
        name: "JPEG BODY 2803 (fake-server log, verbatim)",
        hex: [
            "ec030000", // payloadLength = 1004
            "0100", // command = 1
            "fb", // msgFlag = 251 (BODY)
            "00", // dealFlag = 0
            "0000000000000000", // forwardId = 8 × 0x00
            "f30a0000", // packageId = 2803
        ].join(""),
        header: {
            payloadLength: 1004,
            command: 1,
            msgFlag: 251,
            dealFlag: 0,
            forwardId: FORWARD_ID.binaryZeros,
            packageId: 2803,
        },
    },
    {
        name: "JPEG END 2827 (fake-server log, verbatim)",
        hex: LOGGED_DATAGRAM_PREFIXES.at(-1)!.hex.slice(0, 40),
        header: {
            payloadLength: 680,
            command: 1,
            msgFlag: 252,
            dealFlag: 0,
            forwardId: FORWARD_ID.binaryZeros,
            packageId: 2827,
        },
    },
    {
        name: "relayed packet with a forward id and every field at its maximum",
        hex: [
            "ffffffff", // payloadLength = 2^32 − 1
            "ffff", // command = 65535
            "ff", // msgFlag = 255
            "01", // dealFlag = 1 (relayed)
            "4142434445464748", // forwardId = "ABCDEFGH"
            "ffffffff", // packageId = 2^32 − 1
        ].join(""),
        header: {
            payloadLength: 0xffff_ffff,
            command: 0xffff,
            msgFlag: 255,
            dealFlag: 1,
            forwardId: "ABCDEFGH",
            packageId: 0xffff_ffff,
        },
    },
];

describe("header", () => {
    it.each(cases)("decodes $name", ({hex, header}) => {
        expect(decodeHeader(Buffer.from(hex, "hex"))).toStrictEqual(header);
    });

    it.each(cases)("encodes $name", ({hex, header}) => {
        expect(encodeHeader(header).toString("hex")).toBe(hex);
    });

    it("decodes a header from a view at an offset, ignoring what follows", () => {
        const bytes = Buffer.from(`ff${cases[0]!.hex}ff`, "hex");
        expect(decodeHeader(bytes.subarray(1))).toStrictEqual(cases[0]!.header);
        // a plain Uint8Array view at an offset (not a Buffer) decodes the same
        const plain = new Uint8Array(bytes.buffer, bytes.byteOffset + 1, HEADER_LENGTH + 1);
        expect(Buffer.isBuffer(plain)).toBe(false);
        expect(decodeHeader(plain)).toStrictEqual(cases[0]!.header);
    });

    it("writes a header at an offset", () => {
        const target = Buffer.alloc(HEADER_LENGTH + 2, 0xee);
        writeHeader(cases[0]!.header, target, 1);
        expect(target.toString("hex")).toBe(`ee${cases[0]!.hex}ee`);
    });

    it("uses ASCII zeros as the forward id filler", () => {
        expect(Buffer.from(FORWARD_ID_ZEROS, "latin1").toString("hex")).toBe("3030303030303030");
    });

    it("rejects a truncated header with ProtocolError carrying the bytes", () => {
        const bytes = Buffer.from(cases[0]!.hex, "hex").subarray(0, 19);
        const error = thrown(() => decodeHeader(bytes));
        expect(error).toBeInstanceOf(ProtocolError);
        expect(error).toMatchObject({name: "ProtocolError", message: "truncated header: 19 of 20 bytes", raw: bytes});
    });

    it("refuses to encode a forward id that is not 8 characters (programming error)", () => {
        expect(() => encodeHeader({...cases[0]!.header, forwardId: ""})).toThrow(RangeError);
    });

    it("never throws anything but ProtocolError on random bytes, and re-encodes what it decodes", () => {
        fc.assert(
            fc.property(fc.uint8Array({maxLength: 64}), (bytes) => {
                try {
                    const header = decodeHeader(bytes);
                    expect(encodeHeader(header).equals(Buffer.from(bytes.subarray(0, HEADER_LENGTH)))).toBe(true);
                } catch (error) {
                    expect(error).toBeInstanceOf(ProtocolError);
                }
            }),
        );
    });
});
