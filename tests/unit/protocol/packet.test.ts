import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {HeaderOffset} from "../../../src/protocol/header.js";
import {datagramPayloadEnd, decodeDatagram, encodePacket} from "../../../src/protocol/packet.js";
import {HANDSHAKE_FIXTURES} from "../../support/fixtures/handshake.js";
import {TCP_SESSION_FIXTURES} from "../../support/fixtures/tcpSession.js";

const fixtures = [...TCP_SESSION_FIXTURES, ...HANDSHAKE_FIXTURES];

describe("packet", () => {
    it.each(fixtures)("decodes $name as one datagram", ({hex, header}) => {
        const packet = decodeDatagram(Buffer.from(hex, "hex"));
        expect(packet.header).toStrictEqual(header);
        expect(packet.payload.toString("hex")).toBe(hex.slice(40));
    });

    it.each(fixtures)("encodes $name from its header fields and payload", ({hex, header}) => {
        const payload = Buffer.from(hex.slice(40), "hex");
        const {command, msgFlag, dealFlag, forwardId, packageId} = header;
        expect(encodePacket({command, msgFlag, dealFlag, forwardId, packageId}, payload).toString("hex")).toBe(hex);
    });

    it("defaults to msgFlag 0, dealFlag 0, ASCII-zero forward id, pkgId 0 and an empty payload", () => {
        expect(encodePacket({command: 100}).toString("hex")).toBe(
            [
                "00000000", // payloadLength = 0
                "6400", // command = 100
                "00", // msgFlag
                "00", // dealFlag
                "3030303030303030", // forwardId "00000000"
                "00000000", // packageId
            ].join(""),
        );
    });

    it("[quirk] ignores bytes after the payload (some code trims the extra, §4)", () => {
        const hex = `${HANDSHAKE_FIXTURES[1]!.hex}deadbeef`;
        const packet = decodeDatagram(Buffer.from(hex, "hex"));
        expect(packet.payload.toString("utf8")).toBe('{"code": 20}');
    });

    it("rejects a datagram shorter than its length field", () => {
        const bytes = Buffer.from(HANDSHAKE_FIXTURES[1]!.hex, "hex").subarray(0, 31);
        expect(() => decodeDatagram(bytes)).toThrow(ProtocolError);
        expect(() => decodeDatagram(bytes)).toThrow("datagram shorter than its length field: 31 < 32");
    });

    it("rejects a datagram shorter than a header", () => {
        expect(() => decodeDatagram(Buffer.alloc(5))).toThrow(ProtocolError);
    });

    it("never throws anything but ProtocolError on random datagrams", () => {
        const lengthPrefixed = fc
            .tuple(fc.integer({min: 0, max: 80}), fc.uint8Array({minLength: 16, maxLength: 100}))
            .map(([length, rest]) => {
                const bytes = Buffer.from(rest);
                bytes.writeUInt32LE(length, 0);
                return bytes;
            });
        fc.assert(
            fc.property(fc.oneof(fc.uint8Array({maxLength: 100}), lengthPrefixed), (bytes) => {
                try {
                    const packet = decodeDatagram(Buffer.from(bytes));
                    expect(packet.payload.length).toBe(packet.header.payloadLength);
                } catch (error) {
                    expect(error).toBeInstanceOf(ProtocolError);
                }
            }),
        );
    });

    describe("datagramPayloadEnd (the UDP media hot path)", () => {
        it.each(fixtures)("agrees with decodeDatagram and the HeaderOffset fields on $name", ({hex, header}) => {
            const bytes = Buffer.from(`${hex}00ff`, "hex"); // with 2 trailing bytes, which are not payload
            expect(datagramPayloadEnd(bytes)).toBe(20 + header.payloadLength);
            expect(bytes.readUInt16LE(HeaderOffset.command)).toBe(header.command);
            expect(bytes[HeaderOffset.msgFlag]).toBe(header.msgFlag);
            expect(bytes[HeaderOffset.dealFlag]).toBe(header.dealFlag);
            expect(bytes.readUInt32LE(HeaderOffset.packageId)).toBe(header.packageId);
            expect(bytes.toString("latin1", HeaderOffset.forwardId, HeaderOffset.forwardId + 8)).toBe(header.forwardId);
        });

        it("throws the same ProtocolError as decodeDatagram on truncated headers and lying lengths", () => {
            const lying = Buffer.from(HANDSHAKE_FIXTURES[1]!.hex, "hex").subarray(0, 31);
            expect(() => datagramPayloadEnd(lying)).toThrow("datagram shorter than its length field: 31 < 32");
            expect(() => datagramPayloadEnd(Buffer.alloc(19))).toThrow(ProtocolError);
            fc.assert(
                fc.property(fc.uint8Array({maxLength: 60}), (raw) => {
                    const bytes = Buffer.from(raw);
                    let expected: number | string;
                    try {
                        expected = 20 + decodeDatagram(bytes).header.payloadLength;
                    } catch (error) {
                        expected = error instanceof ProtocolError ? error.message : "not a ProtocolError";
                    }
                    let actual: number | string;
                    try {
                        actual = datagramPayloadEnd(bytes);
                    } catch (error) {
                        actual = error instanceof ProtocolError ? error.message : "not a ProtocolError";
                    }
                    expect(actual).toBe(expected);
                }),
            );
        });
    });
});
