/**
 * Replays every TCP message on port 6123 of the real capture (intx82/a9-v720 docs/fake-server-cap.pcapng,
 * described in /work/shared/capture-dump.md) through the framer and decoders, and re-encodes each.
 * The capture is read from the shared folder next to the repository, or from $V720_CAPTURE; it is never
 * copied into the repository. Without it these tests are skipped with a message.
 */
import {existsSync, readFileSync} from "node:fs";
import {fileURLToPath} from "node:url";
import {describe, expect, it} from "vitest";
import {Cmd, Code} from "../../../src/protocol/commands.js";
import {decodeJson, encodeJson, parseRegisterRequest} from "../../../src/protocol/messages.js";
import {encodePacket, type Packet} from "../../../src/protocol/packet.js";
import {TcpFramer} from "../../../src/protocol/tcpFramer.js";
import {registerResponseCapture, registration} from "../../support/fixtures/tcpSession.js";
import {readPcapngTcpSegments, reassembleTcpStreams, type TcpStreamDirection} from "../../support/pcapng.js";

const CLOUD_TCP_PORT = 6123;
const captureOverride = process.env["V720_CAPTURE"];
const capturePath =
    captureOverride ?? fileURLToPath(new URL("../../../../shared/fake-server-cap.pcapng", import.meta.url));
const hasCapture = existsSync(capturePath);

if (!hasCapture) {
    describe("real capture", () => {
        it.skip(`skipped: capture not found at ${capturePath} (set V720_CAPTURE to fake-server-cap.pcapng to run it)`, () => {});
    });
}

describe.skipIf(!hasCapture)("real capture: TCP session on port 6123", () => {
    const streams = hasCapture
        ? reassembleTcpStreams(readPcapngTcpSegments(readFileSync(capturePath))).filter(
              (stream) => stream.srcPort === CLOUD_TCP_PORT || stream.dstPort === CLOUD_TCP_PORT,
          )
        : [];
    const toServer = streams.filter((stream) => stream.dstPort === CLOUD_TCP_PORT);
    const toCamera = streams.filter((stream) => stream.srcPort === CLOUD_TCP_PORT);

    /** Frames the stream as the server would read it (one push per TCP segment). */
    function frame(stream: TcpStreamDirection): Packet[] {
        const framer = new TcpFramer();
        const packets = stream.chunks.flatMap((chunk) => framer.push(chunk));
        expect(framer.pendingBytes).toBe(0);
        return packets;
    }

    it("holds one control session: camera 10.42.0.22 → 10.42.0.1:6123 and back", () => {
        expect(toServer.map(({srcIp, dstIp}) => [srcIp, dstIp])).toStrictEqual([["10.42.0.22", "10.42.0.1"]]);
        expect(toCamera).toHaveLength(1);
    });

    it("frames the camera's side into one registration and 66 heartbeats", () => {
        const packets = frame(toServer[0]!);
        expect(packets.map((packet) => packet.header.command)).toStrictEqual([
            Cmd.json,
            ...Array<number>(66).fill(Cmd.heartbeat),
        ]);
        expect(packets.slice(1).every((packet) => packet.payload.length === 0)).toBe(true);
    });

    it("frames the same bytes identically one byte at a time", () => {
        const stream = toServer[0]!;
        const framer = new TcpFramer();
        const packets = Array.from(stream.bytes, (byte) => framer.push(Buffer.from([byte]))).flat();
        expect(packets.map(({header}) => header)).toStrictEqual(frame(stream).map(({header}) => header));
    });

    it("decodes the registration exactly as the hand-written fixture", () => {
        const [registrationPacket] = frame(toServer[0]!);
        const bytes = encodePacket(registrationPacket!.header, registrationPacket!.payload);
        expect(bytes.toString("hex")).toBe(registration.hex);
        const message = decodeJson(registrationPacket!.payload);
        expect(message.code).toBe(Code.registerRequest);
        expect(parseRegisterRequest(message)).toStrictEqual({
            uid: "0800c00128F8",
            token: "91edf41f",
            domain: "v720.naxclow.com",
        });
    });

    it("decodes the server's reply once, its TCP retransmission removed", () => {
        const packets = frame(toCamera[0]!);
        expect(packets).toHaveLength(1);
        expect(encodePacket(packets[0]!.header, packets[0]!.payload).toString("hex")).toBe(registerResponseCapture.hex);
        expect(decodeJson(packets[0]!.payload)).toStrictEqual({code: 101, status: 200});
    });

    it("re-encodes every message of both directions to the captured bytes", () => {
        for (const stream of streams) {
            const reencoded = frame(stream).map(({header, payload}) => {
                if (header.command === Cmd.json) {
                    const message = decodeJson(payload);
                    expect(JSON.parse(encodeJson(message).toString("utf8"))).toStrictEqual(message);
                }
                return encodePacket(header, payload);
            });
            expect(Buffer.concat(reencoded).equals(stream.bytes)).toBe(true);
        }
    });
});
