import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {
    alawToPcm16,
    decodeAlaw,
    decodeMulaw,
    encodeAlaw,
    encodeMulaw,
    mulawToPcm16,
    pcm16ToAlaw,
    pcm16ToMulaw,
    stripAudioTrailer,
} from "../../../src/protocol/g711.js";

// Known vectors from the Sun g711.c reference (the same values as Python's audioop and ffmpeg pcm_alaw/pcm_mulaw).
const decodeCases: {byte: number; alaw: number; mulaw: number}[] = [
    {byte: 0x00, alaw: -5504, mulaw: -32124},
    {byte: 0x01, alaw: -5248, mulaw: -31100},
    {byte: 0x2a, alaw: -32256, mulaw: -5372},
    {byte: 0x54, alaw: -24, mulaw: -748},
    {byte: 0x55, alaw: -8, mulaw: -716},
    {byte: 0x7f, alaw: -848, mulaw: 0},
    {byte: 0x80, alaw: 5504, mulaw: 32124},
    {byte: 0xaa, alaw: 32256, mulaw: 5372},
    {byte: 0xd4, alaw: 24, mulaw: 748},
    {byte: 0xd5, alaw: 8, mulaw: 716},
    {byte: 0xff, alaw: 848, mulaw: 0},
];

const encodeCases: {pcm: number; alaw: number; mulaw: number}[] = [
    {pcm: 0, alaw: 0xd5, mulaw: 0xff},
    {pcm: 1, alaw: 0xd5, mulaw: 0xff},
    {pcm: -1, alaw: 0x55, mulaw: 0x7e},
    {pcm: 8, alaw: 0xd5, mulaw: 0xfe},
    {pcm: -8, alaw: 0x55, mulaw: 0x7e},
    {pcm: 100, alaw: 0xd3, mulaw: 0xf2},
    {pcm: -100, alaw: 0x53, mulaw: 0x72},
    {pcm: 1000, alaw: 0xfa, mulaw: 0xce},
    {pcm: -1000, alaw: 0x7a, mulaw: 0x4e},
    {pcm: 4000, alaw: 0x9a, mulaw: 0xaf},
    {pcm: -4000, alaw: 0x1a, mulaw: 0x2f},
    {pcm: 32767, alaw: 0xaa, mulaw: 0x80},
    {pcm: -32768, alaw: 0x2a, mulaw: 0x00},
];

describe("G.711", () => {
    it.each(decodeCases)("decodes 0x$byte", ({byte, alaw, mulaw}) => {
        expect(alawToPcm16(byte)).toBe(alaw);
        expect(mulawToPcm16(byte)).toBe(mulaw);
    });

    it.each(encodeCases)("encodes $pcm", ({pcm, alaw, mulaw}) => {
        expect(pcm16ToAlaw(pcm)).toBe(alaw);
        expect(pcm16ToMulaw(pcm)).toBe(mulaw);
    });

    it("decodes and encodes whole buffers with the same tables", () => {
        const bytes = Buffer.from(decodeCases.map(({byte}) => byte));
        expect([...decodeAlaw(bytes)]).toStrictEqual(decodeCases.map(({alaw}) => alaw));
        expect([...decodeMulaw(bytes)]).toStrictEqual(decodeCases.map(({mulaw}) => mulaw));
        const pcm = Int16Array.from(encodeCases.map(({pcm}) => pcm));
        expect([...encodeAlaw(pcm)]).toStrictEqual(encodeCases.map(({alaw}) => alaw));
        expect([...encodeMulaw(pcm)]).toStrictEqual(encodeCases.map(({mulaw}) => mulaw));
    });

    it("handles empty buffers", () => {
        expect(decodeAlaw(new Uint8Array(0))).toHaveLength(0);
        expect(encodeMulaw(new Int16Array(0))).toHaveLength(0);
    });

    it("re-encodes every A-law byte to itself", () => {
        for (let byte = 0; byte < 256; byte += 1) {
            expect(pcm16ToAlaw(alawToPcm16(byte))).toBe(byte);
        }
    });

    it("re-encodes every µ-law byte to itself, except 0x7f (negative zero, which becomes 0xff)", () => {
        for (let byte = 0; byte < 256; byte += 1) {
            expect(pcm16ToMulaw(mulawToPcm16(byte))).toBe(byte === 0x7f ? 0xff : byte);
        }
    });

    it("decode∘encode of every PCM16 sample stays within the G.711 quantisation error", () => {
        let worstRatio = 0;
        for (let sample = -32768; sample <= 32767; sample += 1) {
            const bound = Math.max(16, Math.abs(sample) / 16);
            const alawError = Math.abs(alawToPcm16(pcm16ToAlaw(sample)) - sample);
            const mulawError = Math.abs(mulawToPcm16(pcm16ToMulaw(sample)) - sample);
            worstRatio = Math.max(worstRatio, alawError / bound, mulawError / bound);
        }
        expect(worstRatio).toBeLessThanOrEqual(1);
    });

    it("encode∘decode of buffers is the identity on decoded samples", () => {
        fc.assert(
            fc.property(fc.uint8Array({maxLength: 256}), (bytes) => {
                expect([...encodeAlaw(decodeAlaw(bytes))]).toStrictEqual([...bytes]);
                const mulaw = decodeMulaw(bytes);
                expect([...decodeMulaw(encodeMulaw(mulaw))]).toStrictEqual([...mulaw]);
            }),
        );
    });

    describe("stripAudioTrailer (§9.4)", () => {
        it("cuts 5 bytes when the last 4 are u32 LE length − 5", () => {
            const payload = Buffer.from(["d5d5d5", "00", "03000000"].join(""), "hex");
            expect(stripAudioTrailer(payload).toString("hex")).toBe("d5d5d5");
        });

        it("keeps a payload whose tail is not a matching length", () => {
            const payload = Buffer.from(["d5d5d5", "00", "04000000"].join(""), "hex");
            expect(stripAudioTrailer(payload)).toBe(payload);
        });

        it("keeps payloads shorter than a trailer, and cuts a lone trailer to nothing", () => {
            const short = Buffer.from("d5d5", "hex");
            expect(stripAudioTrailer(short)).toBe(short);
            expect(stripAudioTrailer(Buffer.from("0000000000", "hex"))).toHaveLength(0);
        });
    });
});
