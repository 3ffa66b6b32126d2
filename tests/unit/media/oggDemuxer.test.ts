import {describe, expect, it} from "vitest";
import {OggDemuxer, OggFormatError, type OggPacket, opusPacketSamples} from "../../../src/media/oggDemuxer.js";

function page(granule: bigint, packets: readonly Buffer[], continuedTail?: Buffer): Buffer {
    const lacing: number[] = [];
    for (const packet of packets) {
        let left = packet.length;
        while (left >= 255) {
            lacing.push(255);
            left -= 255;
        }
        lacing.push(left);
    }
    const bodies = [...packets];
    if (continuedTail !== undefined) {
        // a packet that continues on the next page: only 255-lacing values, no terminator
        for (let i = 0; i < continuedTail.length / 255; i++) {
            lacing.push(255);
        }
        bodies.push(continuedTail);
    }
    const header = Buffer.alloc(27);
    header.write("OggS", 0, "latin1");
    header.writeBigInt64LE(granule, 6);
    header[26] = lacing.length;
    return Buffer.concat([header, Buffer.from(lacing), ...bodies]);
}

const head = Buffer.concat([Buffer.from("OpusHead", "latin1"), Buffer.alloc(11)]);
const p1 = Buffer.from([0x78, 1, 2, 3]); // CELT 20 ms, one frame
const p2 = Buffer.from([0x78, 4, 5]);
const big = Buffer.alloc(600, 0x78);

describe("OggDemuxer", () => {
    it("returns packets with their page's granule and the packets after them on that page", () => {
        const packets = new OggDemuxer().push(Buffer.concat([page(0n, [head]), page(9600n, [p1, p2])]));
        expect(packets).toStrictEqual<OggPacket[]>([
            {data: head, pageGranule: 0n, laterPacketsOnPage: []},
            {data: p1, pageGranule: 9600n, laterPacketsOnPage: [p2]},
            {data: p2, pageGranule: 9600n, laterPacketsOnPage: []},
        ]);
    });

    it("joins a packet that spans pages and tolerates byte-by-byte input", () => {
        const bytes = Buffer.concat([page(-1n, [], big.subarray(0, 510)), page(960n, [big.subarray(510)])]);
        const demuxer = new OggDemuxer();
        const packets: OggPacket[] = [];
        for (const byte of bytes) {
            packets.push(...demuxer.push(Buffer.from([byte])));
        }
        expect(packets.map((packet) => packet.data)).toStrictEqual([big]);
        expect(packets[0]?.pageGranule).toBe(960n);
    });

    it("rejects bytes without the OggS capture pattern", () => {
        expect(() => new OggDemuxer().push(Buffer.alloc(40))).toThrow(OggFormatError);
    });
});

describe("opusPacketSamples", () => {
    it.each([
        {name: "CELT 20 ms, 1 frame", bytes: [0x78], samples: 960},
        {name: "CELT 10 ms, 2 frames (code 1)", bytes: [0x71], samples: 960},
        {name: "SILK 60 ms", bytes: [0x18], samples: 2880},
        {name: "hybrid 20 ms, code 3 with 3 frames", bytes: [0x6b, 0x03], samples: 2880},
        {name: "empty", bytes: [], samples: 0},
    ])("$name → $samples", ({bytes, samples}) => {
        expect(opusPacketSamples(Uint8Array.from(bytes))).toBe(samples);
    });
});
