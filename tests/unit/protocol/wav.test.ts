import {describe, expect, it} from "vitest";
import {buildWavHeader, WAV_HEADER_LENGTH, type WavHeaderOptions} from "../../../src/protocol/wav.js";

const cases: {name: string; options: WavHeaderOptions; hex: string}[] = [
    {
        name: "A-law 8 kHz mono, streaming (the camera's cmd 4 audio, §9.4)",
        options: {format: "alaw", sampleRate: 8000, channels: 1},
        hex: [
            "52494646", // "RIFF"
            "ffffffff", // RIFF size: unknown (capped)
            "57415645", // "WAVE"
            "666d7420", // "fmt "
            "10000000", // fmt size = 16
            "0600", // format tag 6 = A-law
            "0100", // channels = 1
            "401f0000", // sample rate = 8000
            "401f0000", // byte rate = 8000
            "0100", // block align = 1
            "0800", // bits per sample = 8
            "64617461", // "data"
            "ffffffff", // data size: unknown
        ].join(""),
    },
    {
        name: "µ-law 8 kHz mono, 16000 bytes",
        options: {format: "mulaw", sampleRate: 8000, channels: 1, dataBytes: 16000},
        hex: [
            "52494646", // "RIFF"
            "a43e0000", // RIFF size = 36 + 16000
            "57415645", // "WAVE"
            "666d7420", // "fmt "
            "10000000", // fmt size = 16
            "0700", // format tag 7 = µ-law
            "0100", // channels = 1
            "401f0000", // sample rate = 8000
            "401f0000", // byte rate = 8000
            "0100", // block align = 1
            "0800", // bits per sample = 8
            "64617461", // "data"
            "803e0000", // data size = 16000
        ].join(""),
    },
    {
        name: "PCM s16le 16 kHz stereo, empty",
        options: {format: "pcm_s16le", sampleRate: 16000, channels: 2, dataBytes: 0},
        hex: [
            "52494646", // "RIFF"
            "24000000", // RIFF size = 36
            "57415645", // "WAVE"
            "666d7420", // "fmt "
            "10000000", // fmt size = 16
            "0100", // format tag 1 = PCM
            "0200", // channels = 2
            "803e0000", // sample rate = 16000
            "00fa0000", // byte rate = 64000
            "0400", // block align = 4
            "1000", // bits per sample = 16
            "64617461", // "data"
            "00000000", // data size = 0
        ].join(""),
    },
];

describe("buildWavHeader", () => {
    it.each(cases)("builds $name", ({options, hex}) => {
        const header = buildWavHeader(options);
        expect(header).toHaveLength(WAV_HEADER_LENGTH);
        expect(header.toString("hex")).toBe(hex);
    });

    it.each([
        ["a zero sample rate", {format: "alaw", sampleRate: 0, channels: 1}],
        ["a fractional sample rate", {format: "alaw", sampleRate: 8000.5, channels: 1}],
        ["zero channels", {format: "alaw", sampleRate: 8000, channels: 0}],
        ["too many channels", {format: "alaw", sampleRate: 8000, channels: 70_000}],
        ["a block align above 16 bits", {format: "pcm_s16le", sampleRate: 8000, channels: 40_000}],
        ["a negative data size", {format: "alaw", sampleRate: 8000, channels: 1, dataBytes: -1}],
        ["a data size above 2^32 − 1", {format: "alaw", sampleRate: 8000, channels: 1, dataBytes: 2 ** 32}],
    ] as const)("rejects %s", (_, options) => {
        expect(() => buildWavHeader(options)).toThrow(RangeError);
    });

    it("caps the byte rate at 2^32 − 1", () => {
        const header = buildWavHeader({format: "pcm_s16le", sampleRate: 0xffff_ffff, channels: 2});
        expect(header.readUInt32LE(28)).toBe(0xffff_ffff);
    });
});
