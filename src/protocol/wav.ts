/**
 * A canonical 44-byte RIFF/WAVE header for streaming camera audio (protocol-notes.md §9.4, §10:
 * A-law is format tag 6, 8 bits; intx82 serves the same header).
 *
 * | offset | size | field                                   |
 * |-------:|-----:|-----------------------------------------|
 * |      0 |    4 | "RIFF"                                  |
 * |      4 |    4 | u32 LE 36 + dataBytes (capped at 2^32−1)|
 * |      8 |    4 | "WAVE"                                  |
 * |     12 |    4 | "fmt "                                  |
 * |     16 |    4 | u32 LE 16                               |
 * |     20 |    2 | u16 LE format tag (1 PCM, 6 A-law, 7 µ-law) |
 * |     22 |    2 | u16 LE channels                         |
 * |     24 |    4 | u32 LE sample rate                      |
 * |     28 |    4 | u32 LE byte rate                        |
 * |     32 |    2 | u16 LE block align                      |
 * |     34 |    2 | u16 LE bits per sample                  |
 * |     36 |    4 | "data"                                  |
 * |     40 |    4 | u32 LE dataBytes                        |
 */

export type WavFormat = "alaw" | "mulaw" | "pcm_s16le";

export interface WavHeaderOptions {
    readonly format: WavFormat;
    readonly sampleRate: number;
    readonly channels: number;
    /** Length of the data chunk; default WAV_STREAMING_DATA_BYTES for a live stream of unknown length. */
    readonly dataBytes?: number;
}

export const WAV_HEADER_LENGTH = 44;
/** "Unknown length": the largest u32, which ffmpeg and browsers treat as a stream. */
export const WAV_STREAMING_DATA_BYTES = 0xffff_ffff;

const FORMATS: Readonly<Record<WavFormat, {readonly tag: number; readonly bitsPerSample: number}>> = {
    alaw: {tag: 6, bitsPerSample: 8},
    mulaw: {tag: 7, bitsPerSample: 8},
    pcm_s16le: {tag: 1, bitsPerSample: 16},
};

/** Throws RangeError on a sample rate, channel count or data length that does not fit the header. */
export function buildWavHeader(options: WavHeaderOptions): Buffer {
    const {tag, bitsPerSample} = FORMATS[options.format];
    const dataBytes = options.dataBytes ?? WAV_STREAMING_DATA_BYTES;
    checkInteger("sampleRate", options.sampleRate, 1, 0xffff_ffff);
    checkInteger("channels", options.channels, 1, 0xffff);
    checkInteger("dataBytes", dataBytes, 0, 0xffff_ffff);
    const blockAlign = options.channels * (bitsPerSample / 8);
    checkInteger("blockAlign", blockAlign, 1, 0xffff);
    const out = Buffer.alloc(WAV_HEADER_LENGTH);
    out.write("RIFF", 0, "latin1");
    out.writeUInt32LE(Math.min(36 + dataBytes, 0xffff_ffff), 4);
    out.write("WAVE", 8, "latin1");
    out.write("fmt ", 12, "latin1");
    out.writeUInt32LE(16, 16);
    out.writeUInt16LE(tag, 20);
    out.writeUInt16LE(options.channels, 22);
    out.writeUInt32LE(options.sampleRate, 24);
    out.writeUInt32LE(Math.min(options.sampleRate * blockAlign, 0xffff_ffff), 28);
    out.writeUInt16LE(blockAlign, 32);
    out.writeUInt16LE(bitsPerSample, 34);
    out.write("data", 36, "latin1");
    out.writeUInt32LE(dataBytes, 40);
    return out;
}

function checkInteger(name: string, value: number, min: number, max: number): void {
    if (!Number.isInteger(value) || value < min || value > max) {
        throw new RangeError(`${name} must be an integer in ${min}..${max}, got ${value}`);
    }
}
