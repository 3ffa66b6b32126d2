/**
 * PURE incremental Ogg demuxer (RFC 3533) for the Opus stream the audio ffmpeg writes, plus the Opus
 * packet duration rule (RFC 6716 §3.1) used to timestamp packets from the page granule position.
 */

export class OggFormatError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "OggFormatError";
    }
}

export interface OggPacket {
    readonly data: Buffer;
    /** Granule position of the page on which the packet ended (-1 when that page had none). */
    readonly pageGranule: bigint;
    /** Packets that end on the same page after this one. */
    readonly laterPacketsOnPage: readonly Buffer[];
}

const PAGE_HEADER_LENGTH = 27;
const MAX_PACKET_BYTES = 1024 * 1024;

export class OggDemuxer {
    #pending: Buffer = Buffer.alloc(0);
    #partial: Buffer[] = [];
    #partialBytes = 0;

    push(chunk: Buffer): OggPacket[] {
        this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
        const data = this.#pending;
        const packets: OggPacket[] = [];
        let offset = 0;
        while (data.length - offset >= PAGE_HEADER_LENGTH) {
            if (data.toString("latin1", offset, offset + 4) !== "OggS") {
                throw new OggFormatError("missing OggS capture pattern");
            }
            const segments = data[offset + 26] ?? 0;
            if (data.length - offset < PAGE_HEADER_LENGTH + segments) {
                break;
            }
            let bodyLength = 0;
            for (let i = 0; i < segments; i++) {
                bodyLength += data[offset + PAGE_HEADER_LENGTH + i] ?? 0;
            }
            const bodyStart = offset + PAGE_HEADER_LENGTH + segments;
            if (data.length < bodyStart + bodyLength) {
                break;
            }
            const granule = data.readBigInt64LE(offset + 6);
            const ended: Buffer[] = [];
            let position = bodyStart;
            for (let i = 0; i < segments; i++) {
                const lacing = data[offset + PAGE_HEADER_LENGTH + i] ?? 0;
                this.#partial.push(data.subarray(position, position + lacing));
                this.#partialBytes += lacing;
                position += lacing;
                if (this.#partialBytes > MAX_PACKET_BYTES) {
                    throw new OggFormatError("Ogg packet larger than 1 MiB");
                }
                if (lacing < 255) {
                    ended.push(Buffer.concat(this.#partial));
                    this.#partial = [];
                    this.#partialBytes = 0;
                }
            }
            ended.forEach((packet, index) => {
                packets.push({data: packet, pageGranule: granule, laterPacketsOnPage: ended.slice(index + 1)});
            });
            offset = bodyStart + bodyLength;
        }
        // the packets above are copies (Buffer.concat), the partial pieces must not alias the pending buffer
        this.#partial = this.#partial.map((piece) => Buffer.from(piece));
        this.#pending = offset === data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
        return packets;
    }
}

/** Samples at 48 kHz in one Opus packet (RFC 6716 §3.1, TOC byte and frame count code). */
export function opusPacketSamples(packet: Uint8Array): number {
    const toc = packet[0];
    if (toc === undefined) {
        return 0;
    }
    const config = toc >> 3;
    let frameSamples: number;
    if (config < 12) {
        frameSamples = [480, 960, 1920, 2880][config & 3] ?? 960; // SILK 10/20/40/60 ms
    } else if (config < 16) {
        frameSamples = (config & 1) === 0 ? 480 : 960; // hybrid 10/20 ms
    } else {
        frameSamples = [120, 240, 480, 960][config & 3] ?? 480; // CELT 2.5/5/10/20 ms
    }
    const code = toc & 3;
    let frames = 2;
    if (code === 0) {
        frames = 1;
    } else if (code === 3) {
        frames = (packet[1] ?? 0) & 0x3f;
    }
    return frameSamples * frames;
}
