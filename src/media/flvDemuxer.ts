/**
 * PURE incremental FLV demuxer for ffmpeg's stdout (Adobe FLV spec v10.1, annex E): every tag
 * carries its size, so a frame is handed on the moment its last byte arrives. Understands what our
 * ffmpeg writes: H.264 (codec 7; AVCDecoderConfigurationRecord + length-prefixed NAL units), AAC
 * (sound format 10; AudioSpecificConfig + raw frames) and G.711 A-law (sound format 7).
 */

export class FlvFormatError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "FlvFormatError";
    }
}

/** A parsed tag; `raw` is the whole tag as written (header, body, PreviousTagSize), for re-muxing. */
export type FlvTag = FlvTagContent & {readonly raw: Buffer};

export type FlvTagContent =
    | {
          readonly kind: "videoConfig";
          readonly sps: readonly Buffer[];
          readonly pps: readonly Buffer[];
          readonly timestampMs: number;
      }
    | {
          readonly kind: "video";
          readonly nalUnits: readonly Buffer[];
          readonly isKeyframe: boolean;
          /** Decode timestamp as written: the low 31 bits of a millisecond count. */
          readonly timestampMs: number;
          readonly compositionOffsetMs: number;
      }
    | {readonly kind: "audioConfig"; readonly codec: "aac"; readonly config: Buffer; readonly timestampMs: number}
    | {readonly kind: "audio"; readonly codec: "aac" | "pcma"; readonly data: Buffer; readonly timestampMs: number};

const FLV_HEADER_MIN = 9;
const TAG_HEADER_LENGTH = 11;
const PREVIOUS_TAG_SIZE_LENGTH = 4;
const TAG_AUDIO = 8;
const TAG_VIDEO = 9;
const CODEC_AVC = 7;
const SOUND_AAC = 10;
const SOUND_ALAW = 7;
/** Larger tags mean the stream is not what we think it is. */
export const MAX_FLV_TAG_BYTES = 8 * 1024 * 1024;

export class FlvDemuxer {
    #pending: Buffer = Buffer.alloc(0);
    #hasHeader = false;
    #nalLengthSize = 4;
    /** Without a sequence header the NAL units can only be in Annex B form. */
    #hasConfig = false;

    /** Parses as many whole tags as `chunk` completes. Throws FlvFormatError on a stream that is not FLV. */
    push(chunk: Buffer): FlvTag[] {
        this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
        const tags: FlvTag[] = [];
        let offset = 0;
        const data = this.#pending;
        if (!this.#hasHeader) {
            if (data.length < FLV_HEADER_MIN) {
                return tags;
            }
            if (data.toString("latin1", 0, 3) !== "FLV") {
                throw new FlvFormatError("stream does not start with an FLV header");
            }
            const headerSize = data.readUInt32BE(5);
            if (headerSize < FLV_HEADER_MIN || headerSize > 1024) {
                throw new FlvFormatError(`implausible FLV header size ${headerSize}`);
            }
            if (data.length < headerSize + PREVIOUS_TAG_SIZE_LENGTH) {
                return tags;
            }
            offset = headerSize + PREVIOUS_TAG_SIZE_LENGTH;
            this.#hasHeader = true;
        }
        while (data.length - offset >= TAG_HEADER_LENGTH) {
            const type = (data[offset] ?? 0) & 0x1f;
            const size = data.readUIntBE(offset + 1, 3);
            if (size > MAX_FLV_TAG_BYTES) {
                throw new FlvFormatError(`FLV tag of ${size} bytes`);
            }
            const end = offset + TAG_HEADER_LENGTH + size + PREVIOUS_TAG_SIZE_LENGTH;
            if (data.length < end) {
                break;
            }
            const timestampMs = data.readUIntBE(offset + 4, 3) | (((data[offset + 7] ?? 0) & 0x7f) << 24);
            const body = data.subarray(offset + TAG_HEADER_LENGTH, offset + TAG_HEADER_LENGTH + size);
            let tag: FlvTagContent | undefined;
            if (type === TAG_VIDEO) {
                tag = this.#video(body, timestampMs);
            } else if (type === TAG_AUDIO) {
                tag = audioTag(body, timestampMs);
            }
            if (tag !== undefined) {
                tags.push({...tag, raw: Buffer.from(data.subarray(offset, end))});
            }
            offset = end;
        }
        this.#pending = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
        return tags;
    }

    #video(body: Buffer, timestampMs: number): FlvTagContent | undefined {
        if (body.length < 5 || ((body[0] ?? 0) & 0x0f) !== CODEC_AVC) {
            return undefined;
        }
        const frameType = (body[0] ?? 0) >> 4;
        const packetType = body[1];
        const compositionOffsetMs = body.readIntBE(2, 3);
        const payload = body.subarray(5);
        if (packetType === 0) {
            if (payload.length < 7) {
                return undefined; // written before the encoder had extradata; a full one follows
            }
            const config = parseAvcDecoderConfig(payload);
            this.#nalLengthSize = config.nalLengthSize;
            this.#hasConfig = true;
            return {kind: "videoConfig", sps: config.sps, pps: config.pps, timestampMs};
        }
        if (packetType !== 1) {
            return undefined;
        }
        return {
            kind: "video",
            nalUnits:
                !this.#hasConfig && hasStartCode(payload)
                    ? splitAnnexB(payload)
                    : splitLengthPrefixed(payload, this.#nalLengthSize),
            isKeyframe: frameType === 1,
            timestampMs,
            compositionOffsetMs,
        };
    }
}

function audioTag(body: Buffer, timestampMs: number): FlvTagContent | undefined {
    if (body.length < 2) {
        return undefined;
    }
    const format = (body[0] ?? 0) >> 4;
    if (format === SOUND_AAC) {
        const data = Buffer.from(body.subarray(2));
        return body[1] === 0
            ? {kind: "audioConfig", codec: "aac", config: data, timestampMs}
            : {kind: "audio", codec: "aac", data, timestampMs};
    }
    if (format === SOUND_ALAW) {
        return {kind: "audio", codec: "pcma", data: Buffer.from(body.subarray(1)), timestampMs};
    }
    return undefined;
}

/** The 9-byte FLV file header plus PreviousTagSize0, for a stream we assemble from tags. */
export function buildFlvHeader(hasAudio: boolean, hasVideo: boolean): Buffer {
    return Buffer.from([0x46, 0x4c, 0x56, 1, (hasAudio ? 4 : 0) | (hasVideo ? 1 : 0), 0, 0, 0, 9, 0, 0, 0, 0]);
}

export interface AvcDecoderConfig {
    readonly nalLengthSize: number;
    readonly sps: readonly Buffer[];
    readonly pps: readonly Buffer[];
}

/** ISO 14496-15 §5.2.4.1 AVCDecoderConfigurationRecord. */
export function parseAvcDecoderConfig(record: Buffer): AvcDecoderConfig {
    if (record.length < 7 || record[0] !== 1) {
        throw new FlvFormatError("bad AVCDecoderConfigurationRecord");
    }
    const nalLengthSize = ((record[4] ?? 0) & 0x03) + 1;
    let offset = 6; // after the SPS count byte
    const readSet = (count: number): Buffer[] => {
        const units: Buffer[] = [];
        for (let i = 0; i < count; i++) {
            if (offset + 2 > record.length) {
                throw new FlvFormatError("truncated AVCDecoderConfigurationRecord");
            }
            const length = record.readUInt16BE(offset);
            offset += 2;
            if (offset + length > record.length) {
                throw new FlvFormatError("truncated parameter set");
            }
            units.push(Buffer.from(record.subarray(offset, offset + length)));
            offset += length;
        }
        return units;
    };
    const sps = readSet((record[5] ?? 0) & 0x1f);
    if (offset >= record.length) {
        throw new FlvFormatError("AVCDecoderConfigurationRecord without PPS count");
    }
    const ppsCount = record[offset] ?? 0;
    offset += 1;
    const pps = readSet(ppsCount);
    return {nalLengthSize, sps, pps};
}

/** Splits AVCC payload (each NAL unit prefixed by its big-endian length) into NAL units. */
export function splitLengthPrefixed(payload: Buffer, lengthSize: number): Buffer[] {
    const units: Buffer[] = [];
    let offset = 0;
    while (offset + lengthSize <= payload.length) {
        const length = payload.readUIntBE(offset, lengthSize);
        offset += lengthSize;
        if (length === 0 || offset + length > payload.length) {
            throw new FlvFormatError(`NAL unit length ${length} overruns the tag`);
        }
        units.push(Buffer.from(payload.subarray(offset, offset + length)));
        offset += length;
    }
    return units;
}

function hasStartCode(payload: Buffer): boolean {
    return payload[0] === 0 && payload[1] === 0 && (payload[2] === 1 || (payload[2] === 0 && payload[3] === 1));
}

/** Annex B (start-code delimited) → NAL units; some ffmpeg builds put it in FLV when no extradata exists. */
export function splitAnnexB(data: Buffer): Buffer[] {
    const units: Buffer[] = [];
    let start = -1;
    let i = 0;
    while (i + 2 < data.length) {
        if (data[i] === 0 && data[i + 1] === 0 && data[i + 2] === 1) {
            if (start >= 0) {
                let end = i;
                while (end > start && data[end - 1] === 0) {
                    end -= 1;
                }
                if (end > start) {
                    units.push(Buffer.from(data.subarray(start, end)));
                }
            }
            i += 3;
            start = i;
            continue;
        }
        i += 1;
    }
    if (start >= 0 && start < data.length) {
        units.push(Buffer.from(data.subarray(start)));
    }
    return units;
}

const FLV_TIMESTAMP_MODULUS = 2 ** 31;

/**
 * FLV keeps the low 31 bits of a millisecond count. With `-copyts` and wall-clock inputs that count
 * is the epoch time ffmpeg read the packet, so the full value is the one nearest to `nowMs`.
 */
export function unwrapFlvTimestamp(timestampMs: number, nowMs: number): number {
    let behindMs = (nowMs % FLV_TIMESTAMP_MODULUS) - timestampMs;
    behindMs = ((behindMs % FLV_TIMESTAMP_MODULUS) + FLV_TIMESTAMP_MODULUS) % FLV_TIMESTAMP_MODULUS;
    if (behindMs > FLV_TIMESTAMP_MODULUS / 2) {
        behindMs -= FLV_TIMESTAMP_MODULUS;
    }
    return nowMs - behindMs;
}
