import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {decodeDatagram, type Packet} from "../../../src/protocol/packet.js";
import {MAX_TCP_PAYLOAD_LENGTH, TcpFramer} from "../../../src/protocol/tcpFramer.js";
import {heartbeat, registerResponseCapture, registration} from "../../support/fixtures/tcpSession.js";
import {thrown} from "./thrown.js";

const registrationBytes = Buffer.from(registration.hex, "hex");
const heartbeatBytes = Buffer.from(heartbeat.hex, "hex");
const replyBytes = Buffer.from(registerResponseCapture.hex, "hex");

const simplify = (packets: readonly Packet[]) =>
    packets.map(({header, payload}) => ({header, payload: payload.toString("hex")}));
const expected = (...datagrams: Buffer[]) => simplify(datagrams.map((datagram) => decodeDatagram(datagram)));

function pushChunks(framer: TcpFramer, chunks: readonly Buffer[]): Packet[] {
    return chunks.flatMap((chunk) => framer.push(chunk));
}

describe("TcpFramer", () => {
    it("emits one packet from one chunk", () => {
        const framer = new TcpFramer();
        expect(simplify(framer.push(registrationBytes))).toStrictEqual(expected(registrationBytes));
        expect(framer.pendingBytes).toBe(0);
    });

    it("emits two packets that arrive in one chunk", () => {
        const framer = new TcpFramer();
        const packets = framer.push(Buffer.concat([heartbeatBytes, registrationBytes]));
        expect(simplify(packets)).toStrictEqual(expected(heartbeatBytes, registrationBytes));
    });

    it("waits when a packet is split inside the header", () => {
        const framer = new TcpFramer();
        expect(framer.push(registrationBytes.subarray(0, 7))).toStrictEqual([]);
        expect(framer.pendingBytes).toBe(7);
        expect(simplify(framer.push(registrationBytes.subarray(7)))).toStrictEqual(expected(registrationBytes));
    });

    it("waits when a packet is split inside the payload", () => {
        const framer = new TcpFramer();
        expect(framer.push(registrationBytes.subarray(0, 50))).toStrictEqual([]);
        expect(simplify(framer.push(registrationBytes.subarray(50)))).toStrictEqual(expected(registrationBytes));
    });

    it("keeps the start of the next packet after a complete one", () => {
        const framer = new TcpFramer();
        const stream = Buffer.concat([registrationBytes, replyBytes]);
        expect(simplify(framer.push(stream.subarray(0, 120)))).toStrictEqual(expected(registrationBytes));
        expect(framer.pendingBytes).toBe(13);
        expect(simplify(framer.push(stream.subarray(120)))).toStrictEqual(expected(replyBytes));
    });

    it("accepts the stream one byte at a time", () => {
        const framer = new TcpFramer();
        const stream = Buffer.concat([registrationBytes, heartbeatBytes, replyBytes, heartbeatBytes]);
        const chunks = Array.from(stream, (byte) => Buffer.from([byte]));
        expect(simplify(pushChunks(framer, chunks))).toStrictEqual(
            expected(registrationBytes, heartbeatBytes, replyBytes, heartbeatBytes),
        );
        expect(framer.pendingBytes).toBe(0);
    });

    it("emits a zero-length payload packet as soon as its 20 bytes are in", () => {
        const framer = new TcpFramer();
        const packets = framer.push(heartbeatBytes);
        expect(packets).toHaveLength(1);
        expect(packets[0]!.payload.length).toBe(0);
    });

    it("returns payloads that are copies, not views of the caller's chunk", () => {
        const framer = new TcpFramer();
        const chunk = Buffer.from(registrationBytes);
        const [packet] = framer.push(chunk);
        chunk.fill(0);
        expect(packet!.payload.toString("hex")).toBe(registration.hex.slice(40));
    });

    it("rejects an oversized length with ProtocolError, carrying the header bytes", () => {
        const framer = new TcpFramer();
        const header = Buffer.from(heartbeatBytes);
        header.writeUInt32LE(MAX_TCP_PAYLOAD_LENGTH + 1, 0);
        expect(() => framer.push(header)).toThrow(ProtocolError);
        expect(framer.pendingBytes).toBe(0);
    });

    it("accepts a payload of exactly the cap and honours a custom cap", () => {
        const framer = new TcpFramer(30);
        const header = Buffer.from(heartbeatBytes);
        header.writeUInt32LE(30, 0);
        expect(framer.push(Buffer.concat([header, Buffer.alloc(30)]))).toHaveLength(1);
        header.writeUInt32LE(31, 0);
        expect(() => framer.push(header)).toThrow("payload length 31 exceeds the cap of 30");
    });

    it("rejects a garbage prefix: the header has no start marker to resync on", () => {
        const framer = new TcpFramer();
        const garbage = Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "latin1"); // "GET " = length 0x20544547
        expect(() => framer.push(Buffer.concat([garbage, registrationBytes]))).toThrow(ProtocolError);
        const error = thrown(() => new TcpFramer().push(garbage));
        expect(error).toBeInstanceOf(ProtocolError);
        expect((error as ProtocolError).raw?.toString()).toBe("GET / HTTP/1.1\r\nHost");
    });

    it("emits the packets before an oversized header in the same chunk only by throwing after them", () => {
        const framer = new TcpFramer(100);
        const bad = Buffer.from(heartbeatBytes);
        bad.writeUInt32LE(101, 0);
        expect(() => framer.push(Buffer.concat([heartbeatBytes, bad]))).toThrow(ProtocolError);
    });

    it("frames any chunking of a valid stream identically", () => {
        const stream = Buffer.concat([registrationBytes, heartbeatBytes, replyBytes, heartbeatBytes]);
        fc.assert(
            fc.property(fc.array(fc.integer({min: 1, max: stream.length}), {maxLength: 20}), (cuts) => {
                const points = [...new Set(cuts)].sort((a, b) => a - b);
                const chunks = [0, ...points].map((start, index) =>
                    stream.subarray(start, points[index] ?? stream.length),
                );
                expect(simplify(pushChunks(new TcpFramer(), chunks))).toStrictEqual(
                    expected(registrationBytes, heartbeatBytes, replyBytes, heartbeatBytes),
                );
            }),
        );
    });

    it("never throws anything but ProtocolError on random bytes", () => {
        fc.assert(
            fc.property(
                fc.array(fc.uint8Array({maxLength: 80}), {maxLength: 8}),
                fc.integer({min: 0, max: 200}),
                (chunks, cap) => {
                    const framer = new TcpFramer(cap);
                    try {
                        for (const packet of pushChunks(
                            framer,
                            chunks.map((chunk) => Buffer.from(chunk)),
                        )) {
                            expect(packet.payload.length).toBe(packet.header.payloadLength);
                        }
                    } catch (error) {
                        expect(error).toBeInstanceOf(ProtocolError);
                    }
                },
            ),
        );
    });
});
