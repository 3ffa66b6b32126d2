import {describe, expect, it} from "vitest";
import {
    buildFlvHeader,
    FlvDemuxer,
    FlvFormatError,
    type FlvTag,
    type FlvTagContent,
    parseAvcDecoderConfig,
    splitAnnexB,
    splitLengthPrefixed,
    unwrapFlvTimestamp,
} from "../../../src/media/flvDemuxer.js";

// FLV header: "FLV", version 1, flags 5 (audio + video), header size 9, PreviousTagSize0 = 0
const FLV_HEADER = Buffer.from("464c5601050000000900000000", "hex");
const SPS = Buffer.from("6742c01edb02800f6c0440", "hex");
const PPS = Buffer.from("68ce0fc8", "hex");

function tag(type: number, timestampMs: number, body: Buffer): Buffer {
    const header = Buffer.alloc(11);
    header[0] = type;
    header.writeUIntBE(body.length, 1, 3);
    header.writeUIntBE(timestampMs & 0xffffff, 4, 3);
    header[7] = (timestampMs >>> 24) & 0x7f;
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32BE(11 + body.length);
    return Buffer.concat([header, body, trailer]);
}

const avcConfig = Buffer.concat([
    Buffer.from([0x17, 0x00, 0, 0, 0]), // keyframe + AVC, sequence header, cts 0
    Buffer.from([0x01, 0x42, 0xc0, 0x1e, 0xff, 0xe1]), // version, profile, compat, level, lengthSize 4, 1 SPS
    Buffer.from([0x00, SPS.length]),
    SPS,
    Buffer.from([0x01, 0x00, PPS.length]), // 1 PPS
    PPS,
]);
const IDR = Buffer.from("6588840021", "hex");
const SEI = Buffer.alloc(300, 0x06);
const avcKeyframe = Buffer.concat([
    Buffer.from([0x17, 0x01, 0, 0, 0]),
    Buffer.from([0, 0, 1, 44]), // 300 bytes: the length prefix starts 00 00 01, like an Annex B start code
    SEI,
    Buffer.from([0, 0, 0, IDR.length]),
    IDR,
]);
const aacConfig = Buffer.from([0xa2, 0x00, 0x14, 0x08]);
const aacFrame = Buffer.from([0xa2, 0x01, 0xde, 0xad]);
const alaw = Buffer.from([0x72, 0xd5, 0xd5, 0xd5]);

const stream = Buffer.concat([
    FLV_HEADER,
    tag(18, 0, Buffer.from("02000a6f6e4d65746144617461", "hex")), // script data: ignored
    tag(9, 0, avcConfig),
    tag(8, 0, aacConfig),
    tag(9, 0x7fff_fff0, avcKeyframe),
    tag(8, 1234, aacFrame),
    tag(8, 1240, alaw),
]);

const expected: FlvTagContent[] = [
    {kind: "videoConfig", sps: [SPS], pps: [PPS], timestampMs: 0},
    {kind: "audioConfig", codec: "aac", config: Buffer.from([0x14, 0x08]), timestampMs: 0},
    {kind: "video", nalUnits: [SEI, IDR], isKeyframe: true, timestampMs: 0x7fff_fff0, compositionOffsetMs: 0},
    {kind: "audio", codec: "aac", data: Buffer.from([0xde, 0xad]), timestampMs: 1234},
    {kind: "audio", codec: "pcma", data: Buffer.from([0xd5, 0xd5, 0xd5]), timestampMs: 1240},
];

/** The parsed fields, without the raw bytes. */
function content(tags: readonly FlvTag[]): FlvTagContent[] {
    return tags.map(({raw: _raw, ...rest}) => rest);
}

describe("FlvDemuxer", () => {
    it("parses a whole stream in one chunk", () => {
        expect(content(new FlvDemuxer().push(stream))).toStrictEqual(expected);
    });

    it("keeps each tag's raw bytes, so the tags re-mux into a valid FLV", () => {
        const tags = new FlvDemuxer().push(stream);
        const remuxed = Buffer.concat([buildFlvHeader(true, true), ...tags.map((tag) => tag.raw)]);
        expect(content(new FlvDemuxer().push(remuxed))).toStrictEqual(expected);
        expect(tags[2]?.raw.readUInt32BE((tags[2]?.raw.length ?? 4) - 4)).toBe(11 + avcKeyframe.length);
    });

    it("gives the same tags when the stream arrives one byte at a time", () => {
        const demuxer = new FlvDemuxer();
        const tags: FlvTag[] = [];
        for (const byte of stream) {
            tags.push(...demuxer.push(Buffer.from([byte])));
        }
        expect(content(tags)).toStrictEqual(expected);
    });

    it("emits a tag only once its last byte is there", () => {
        const demuxer = new FlvDemuxer();
        const cut = stream.length - 5;
        expect(demuxer.push(stream.subarray(0, cut))).toHaveLength(4);
        expect(demuxer.push(stream.subarray(cut))).toHaveLength(1);
    });

    it("skips an empty sequence header written before the encoder had extradata", () => {
        const tags = new FlvDemuxer().push(Buffer.concat([FLV_HEADER, tag(9, 0, Buffer.from([0x17, 0, 0, 0, 0]))]));
        expect(tags).toEqual([]);
    });

    it("rejects a stream that is not FLV", () => {
        expect(() => new FlvDemuxer().push(Buffer.from("RIFF0000WAVEfmt ", "latin1"))).toThrow(FlvFormatError);
    });

    it("rejects an absurd tag size", () => {
        const bad = Buffer.concat([FLV_HEADER, Buffer.from([9, 0xff, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0])]);
        expect(() => new FlvDemuxer().push(bad)).toThrow(FlvFormatError);
    });
});

describe("H.264 helpers", () => {
    it("reads SPS and PPS from an AVCDecoderConfigurationRecord", () => {
        expect(parseAvcDecoderConfig(avcConfig.subarray(5))).toStrictEqual({nalLengthSize: 4, sps: [SPS], pps: [PPS]});
    });

    it("rejects a truncated record", () => {
        expect(() => parseAvcDecoderConfig(avcConfig.subarray(5, 12))).toThrow(FlvFormatError);
    });

    it("splits length-prefixed NAL units and rejects an overrun", () => {
        const payload = Buffer.from("00000002aabb00000001cc", "hex");
        expect(splitLengthPrefixed(payload, 4)).toStrictEqual([Buffer.from("aabb", "hex"), Buffer.from("cc", "hex")]);
        expect(() => splitLengthPrefixed(Buffer.from("00000009aa", "hex"), 4)).toThrow(FlvFormatError);
    });

    it("splits Annex B with 3- and 4-byte start codes", () => {
        expect(splitAnnexB(Buffer.from("00000001674200000168ce000001658888", "hex"))).toStrictEqual([
            Buffer.from("6742", "hex"),
            Buffer.from("68ce", "hex"),
            Buffer.from("658888", "hex"),
        ]);
    });
});

describe("unwrapFlvTimestamp", () => {
    const nowMs = 1_795_633_011_713; // an epoch time in 2026

    it("restores the epoch time from its low 31 bits", () => {
        expect(unwrapFlvTimestamp((nowMs - 250) % 2 ** 31, nowMs)).toBe(nowMs - 250);
    });

    it("handles the 31-bit wrap between packet and now", () => {
        const wrapNow = 2 ** 31 * 836 + 100; // 100 ms after a wrap
        const packet = wrapNow - 300; // before the wrap
        expect(unwrapFlvTimestamp(packet % 2 ** 31, wrapNow)).toBe(packet);
    });

    it("accepts a packet slightly in the future (clock adjustments)", () => {
        expect(unwrapFlvTimestamp((nowMs + 40) % 2 ** 31, nowMs)).toBe(nowMs + 40);
    });
});
