/**
 * PURE RTP/RTCP building blocks: the fixed RTP header (RFC 3550 §5.1), payloaders for H.264
 * (RFC 6184: single NAL unit and FU-A), AAC (RFC 3640 AAC-hbr), PCMA (RFC 3551) and Opus
 * (RFC 7587), and the RTCP sender report + SDES CNAME compound packet (RFC 3550 §6.4.1, §6.5).
 */

export interface RtpPayload {
    readonly payload: Buffer;
    /** Marker bit: last packet of a video access unit. */
    readonly marker: boolean;
    /** Timestamp offset from the frame's timestamp, in clock ticks (A-law split into several packets). */
    readonly timestampOffset: number;
}

export const RTP_HEADER_LENGTH = 12;
/** Payload bytes per packet: 1400 keeps RTP + UDP + IP under a 1500-byte MTU with room for tunnels. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1400;

const NAL_TYPE_MASK = 0x1f;
const NAL_IDR = 5;
const NAL_SPS = 7;
const NAL_PPS = 8;
const FU_A = 28;

export function buildRtpHeader(
    payloadType: number,
    sequence: number,
    timestamp: number,
    ssrc: number,
    marker: boolean,
): Buffer {
    const header = Buffer.allocUnsafe(RTP_HEADER_LENGTH);
    header[0] = 0x80; // version 2, no padding, no extension, no CSRC
    header[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
    header.writeUInt16BE(sequence & 0xffff, 2);
    header.writeUInt32BE(timestamp >>> 0, 4);
    header.writeUInt32BE(ssrc >>> 0, 8);
    return header;
}

/** True when the access unit holds an IDR slice. */
export function isIdrAccessUnit(nalUnits: readonly Buffer[]): boolean {
    return nalUnits.some((nal) => ((nal[0] ?? 0) & NAL_TYPE_MASK) === NAL_IDR);
}

/**
 * One H.264 access unit → RTP payloads (packetization-mode 1). An IDR access unit without its own
 * SPS/PPS gets `parameterSets` in front, so a client can start (or recover) at any keyframe.
 */
export function packetizeH264(
    nalUnits: readonly Buffer[],
    parameterSets: readonly Buffer[] = [],
    maxPayloadBytes: number = DEFAULT_MAX_PAYLOAD_BYTES,
): RtpPayload[] {
    const hasOwnSets = nalUnits.some((nal) => {
        const type = (nal[0] ?? 0) & NAL_TYPE_MASK;
        return type === NAL_SPS || type === NAL_PPS;
    });
    const units = isIdrAccessUnit(nalUnits) && !hasOwnSets ? [...parameterSets, ...nalUnits] : [...nalUnits];
    const payloads: RtpPayload[] = [];
    units.forEach((nal, index) => {
        if (nal.length === 0) {
            return;
        }
        const isLastNal = index === units.length - 1;
        if (nal.length <= maxPayloadBytes) {
            payloads.push({payload: nal, marker: isLastNal, timestampOffset: 0});
            return;
        }
        const header = nal[0] ?? 0;
        const indicator = (header & 0xe0) | FU_A;
        const type = header & NAL_TYPE_MASK;
        const chunkBytes = maxPayloadBytes - 2;
        for (let offset = 1; offset < nal.length; offset += chunkBytes) {
            const end = Math.min(nal.length, offset + chunkBytes);
            const isStart = offset === 1;
            const isEnd = end === nal.length;
            const fuHeader = (isStart ? 0x80 : 0) | (isEnd ? 0x40 : 0) | type;
            payloads.push({
                payload: Buffer.concat([Buffer.from([indicator, fuHeader]), nal.subarray(offset, end)]),
                marker: isLastNal && isEnd,
                timestampOffset: 0,
            });
        }
    });
    return payloads;
}

/** One AAC frame → one RTP payload with a single 16-bit AU header (13-bit size, 3-bit index). */
export function packetizeAac(frame: Buffer): RtpPayload[] {
    if (frame.length >= 1 << 13) {
        return []; // cannot be described with sizelength=13; never produced at our bitrates
    }
    const header = Buffer.from([0x00, 0x10, (frame.length >> 5) & 0xff, (frame.length & 0x1f) << 3]);
    return [{payload: Buffer.concat([header, frame]), marker: true, timestampOffset: 0}];
}

/** A-law bytes → payloads of at most `maxSamples` samples (one byte per sample at 8 kHz). */
export function packetizePcma(data: Buffer, maxSamples = 320): RtpPayload[] {
    const payloads: RtpPayload[] = [];
    for (let offset = 0; offset < data.length; offset += maxSamples) {
        payloads.push({
            payload: data.subarray(offset, Math.min(data.length, offset + maxSamples)),
            marker: false,
            timestampOffset: offset,
        });
    }
    return payloads;
}

/** One Opus packet → one RTP payload (RFC 7587 §4.2). */
export function packetizeOpus(packet: Buffer): RtpPayload[] {
    return [{payload: packet, marker: false, timestampOffset: 0}];
}

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
const NTP_UNIX_OFFSET_S = 2_208_988_800;

/** RTCP SR (PT 200) with no report blocks, followed by SDES (PT 202) with a CNAME. */
export function buildSenderReport(report: {
    readonly ssrc: number;
    readonly wallClockMs: number;
    readonly rtpTimestamp: number;
    readonly packetCount: number;
    readonly octetCount: number;
    readonly cname: string;
}): Buffer {
    const sr = Buffer.alloc(28);
    sr[0] = 0x80;
    sr[1] = 200;
    sr.writeUInt16BE(6, 2); // length in 32-bit words minus one
    sr.writeUInt32BE(report.ssrc >>> 0, 4);
    const seconds = Math.floor(report.wallClockMs / 1000);
    const fraction = Math.floor(((report.wallClockMs % 1000) / 1000) * 2 ** 32);
    sr.writeUInt32BE((seconds + NTP_UNIX_OFFSET_S) >>> 0, 8);
    sr.writeUInt32BE(fraction >>> 0, 12);
    sr.writeUInt32BE(report.rtpTimestamp >>> 0, 16);
    sr.writeUInt32BE(report.packetCount >>> 0, 20);
    sr.writeUInt32BE(report.octetCount >>> 0, 24);

    const cname = Buffer.from(report.cname.slice(0, 255), "utf8");
    const itemsLength = 4 + 2 + cname.length + 1; // ssrc, type+length, text, end-of-list
    const padded = Math.ceil(itemsLength / 4) * 4;
    const sdes = Buffer.alloc(4 + padded);
    sdes[0] = 0x81; // one chunk
    sdes[1] = 202;
    sdes.writeUInt16BE(padded / 4, 2);
    sdes.writeUInt32BE(report.ssrc >>> 0, 4);
    sdes[8] = 1; // CNAME
    sdes[9] = cname.length;
    cname.copy(sdes, 10);
    return Buffer.concat([sr, sdes]);
}
