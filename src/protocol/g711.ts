/**
 * ITU-T G.711 A-law and µ-law ↔ 16-bit linear PCM, table-driven (protocol-notes.md §9.4: the
 * camera's cmd 4 audio is A-law, 8000 Hz, mono). The tables follow the classic Sun reference
 * implementation (g711.c), so values match ffmpeg's pcm_alaw / pcm_mulaw decoders.
 */

/** A-law byte → PCM16. */
const ALAW_DECODE = new Int16Array(256);
/** µ-law byte → PCM16. */
const ULAW_DECODE = new Int16Array(256);
/** (PCM16 >> 3) & 0x1fff → A-law byte: A-law keeps 13 bits. */
const ALAW_ENCODE = new Uint8Array(8192);
/** (PCM16 >> 2) & 0x3fff → µ-law byte: µ-law keeps 14 bits. */
const ULAW_ENCODE = new Uint8Array(16384);

const ULAW_BIAS = 0x84;
const ULAW_CLIP = 8159;

function alawDecodeReference(value: number): number {
    const a = value ^ 0x55;
    const segment = (a & 0x70) >> 4;
    let magnitude = (a & 0x0f) << 4;
    if (segment === 0) {
        magnitude += 8;
    } else {
        magnitude = (magnitude + 0x108) << (segment - 1);
    }
    return (a & 0x80) !== 0 ? magnitude : -magnitude;
}

function ulawDecodeReference(value: number): number {
    const u = ~value & 0xff;
    const magnitude = (((u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);
    return (u & 0x80) !== 0 ? ULAW_BIAS - magnitude : magnitude - ULAW_BIAS;
}

/** `pcm13` is the sample arithmetically shifted right by 3 (−4096…4095). */
function alawEncodeReference(pcm13: number): number {
    let value = pcm13;
    let mask = 0xd5;
    if (value < 0) {
        mask = 0x55;
        value = -value - 1;
    }
    const segment = segmentOf(value, 0x1f); // value ≤ 4095 = the last segment end, so never 8
    const mantissa = segment < 2 ? (value >> 1) & 0x0f : (value >> segment) & 0x0f;
    return ((segment << 4) | mantissa) ^ mask;
}

/** `pcm14` is the sample arithmetically shifted right by 2 (−8192…8191). */
function ulawEncodeReference(pcm14: number): number {
    let value = pcm14;
    let mask = 0xff;
    if (value < 0) {
        mask = 0x7f;
        value = -value;
    }
    value = Math.min(value, ULAW_CLIP) + (ULAW_BIAS >> 2);
    const segment = segmentOf(value, 0x3f);
    if (segment >= 8) {
        return 0x7f ^ mask;
    }
    return ((segment << 4) | ((value >> (segment + 1)) & 0x0f)) ^ mask;
}

/** Index of the first segment end (first, first·2+1, …) that `value` does not exceed; 8 when above all. */
function segmentOf(value: number, firstEnd: number): number {
    let end = firstEnd;
    for (let segment = 0; segment < 8; segment += 1) {
        if (value <= end) {
            return segment;
        }
        end = end * 2 + 1;
    }
    return 8;
}

for (let value = 0; value < 256; value += 1) {
    ALAW_DECODE[value] = alawDecodeReference(value);
    ULAW_DECODE[value] = ulawDecodeReference(value);
}
for (let index = 0; index < ALAW_ENCODE.length; index += 1) {
    ALAW_ENCODE[index] = alawEncodeReference(index < 4096 ? index : index - 8192);
}
for (let index = 0; index < ULAW_ENCODE.length; index += 1) {
    ULAW_ENCODE[index] = ulawEncodeReference(index < 8192 ? index : index - 16384);
}

/** One A-law byte (0…255, higher bits ignored) → PCM16. */
export const alawToPcm16 = (sample: number): number => ALAW_DECODE[sample & 0xff] as number;
/** One PCM16 sample (wrapped to 16 bits) → A-law byte. */
export const pcm16ToAlaw = (sample: number): number => ALAW_ENCODE[(sample >> 3) & 0x1fff] as number;
/** One µ-law byte → PCM16. */
export const mulawToPcm16 = (sample: number): number => ULAW_DECODE[sample & 0xff] as number;
/** One PCM16 sample → µ-law byte. */
export const pcm16ToMulaw = (sample: number): number => ULAW_ENCODE[(sample >> 2) & 0x3fff] as number;

export function decodeAlaw(bytes: Uint8Array): Int16Array {
    return decodeWith(bytes, ALAW_DECODE);
}

export function encodeAlaw(pcm: Int16Array): Buffer {
    const out = Buffer.allocUnsafe(pcm.length);
    for (let index = 0; index < pcm.length; index += 1) {
        out[index] = ALAW_ENCODE[((pcm[index] as number) >> 3) & 0x1fff] as number;
    }
    return out;
}

export function decodeMulaw(bytes: Uint8Array): Int16Array {
    return decodeWith(bytes, ULAW_DECODE);
}

export function encodeMulaw(pcm: Int16Array): Buffer {
    const out = Buffer.allocUnsafe(pcm.length);
    for (let index = 0; index < pcm.length; index += 1) {
        out[index] = ULAW_ENCODE[((pcm[index] as number) >> 2) & 0x3fff] as number;
    }
    return out;
}

function decodeWith(bytes: Uint8Array, table: Int16Array): Int16Array {
    const out = new Int16Array(bytes.length);
    for (let index = 0; index < bytes.length; index += 1) {
        out[index] = table[bytes[index] as number] as number;
    }
    return out;
}

/**
 * Audio payload without the 5-byte `[byte][u32 LE length]` trailer, cut only when the last 4 bytes
 * as u32 LE equal `length − 5` (protocol-notes.md §9.4, unconfirmed); otherwise `payload` itself.
 * Returns a view, not a copy.
 */
export function stripAudioTrailer(payload: Buffer): Buffer {
    if (payload.length >= 5 && payload.readUInt32LE(payload.length - 4) === payload.length - 5) {
        return payload.subarray(0, payload.length - 5);
    }
    return payload;
}
