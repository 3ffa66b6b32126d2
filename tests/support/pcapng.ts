/**
 * A small pcapng reader for tests: Section Header, Interface Description and Enhanced (or Simple)
 * Packet blocks; Ethernet (optionally 802.1Q) → IPv4 → TCP. Enough to replay the TCP payloads of
 * /work/shared/fake-server-cap.pcapng; anything else in the file is skipped.
 *
 * Block layout (pcapng draft §3.1): u32 type, u32 totalLength, body, u32 totalLength; the byte
 * order of a section is set by the SHB's 0x1A2B3C4D magic.
 */

export interface TcpSegment {
    /** Index of the packet in the file, from 0. */
    readonly index: number;
    /** Raw timestamp units (interface resolution, usually µs or ns). */
    readonly timestamp: bigint;
    readonly srcIp: string;
    readonly srcPort: number;
    readonly dstIp: string;
    readonly dstPort: number;
    readonly seq: number;
    /** TCP flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10). */
    readonly flags: number;
    readonly payload: Buffer;
}

export interface TcpStreamDirection {
    readonly srcIp: string;
    readonly srcPort: number;
    readonly dstIp: string;
    readonly dstPort: number;
    /** Payload bytes in sequence order, retransmissions removed. */
    readonly bytes: Buffer;
    /** The new bytes each data segment contributed, in sequence order (the "reads" a server would see). */
    readonly chunks: readonly Buffer[];
}

const BLOCK_SHB = 0x0a0d_0d0a;
const BLOCK_IDB = 0x0000_0001;
const BLOCK_SPB = 0x0000_0003;
const BLOCK_EPB = 0x0000_0006;
const BYTE_ORDER_MAGIC = 0x1a2b_3c4d;
const LINKTYPE_ETHERNET = 1;
const TCP_SYN = 0x02;

/** Every IPv4/TCP segment in the file, in file order. Throws Error on a malformed file. */
export function readPcapngTcpSegments(file: Uint8Array): TcpSegment[] {
    const data = Buffer.from(file.buffer, file.byteOffset, file.length);
    const segments: TcpSegment[] = [];
    let littleEndian = true;
    let linkTypes: number[] = [];
    let offset = 0;
    let index = 0;
    while (offset + 12 <= data.length) {
        if (data.readUInt32LE(offset) === BLOCK_SHB) {
            const magic = data.readUInt32LE(offset + 8);
            if (magic !== BYTE_ORDER_MAGIC && data.readUInt32BE(offset + 8) !== BYTE_ORDER_MAGIC) {
                throw new Error(`pcapng: bad byte-order magic at ${offset}`);
            }
            littleEndian = magic === BYTE_ORDER_MAGIC;
            linkTypes = [];
        }
        const u32 = (at: number): number => (littleEndian ? data.readUInt32LE(at) : data.readUInt32BE(at));
        const u16 = (at: number): number => (littleEndian ? data.readUInt16LE(at) : data.readUInt16BE(at));
        const type = u32(offset);
        const length = u32(offset + 4);
        if (length < 12 || length % 4 !== 0 || offset + length > data.length) {
            throw new Error(`pcapng: bad block length ${length} at ${offset}`);
        }
        const body = offset + 8;
        if (type === BLOCK_IDB) {
            linkTypes.push(u16(body));
        } else if (type === BLOCK_EPB || type === BLOCK_SPB) {
            const isEnhanced = type === BLOCK_EPB;
            const interfaceId = isEnhanced ? u32(body) : 0;
            const timestamp = isEnhanced ? (BigInt(u32(body + 4)) << 32n) | BigInt(u32(body + 8)) : 0n;
            const capturedLength = isEnhanced ? u32(body + 12) : Math.min(u32(body), length - 16);
            const packetStart = isEnhanced ? body + 20 : body + 4;
            const packet = data.subarray(packetStart, packetStart + capturedLength);
            if (linkTypes[interfaceId] === LINKTYPE_ETHERNET) {
                const segment = parseEthernetTcp(packet, index, timestamp);
                if (segment !== undefined) {
                    segments.push(segment);
                }
            }
            index += 1;
        }
        offset += length;
    }
    return segments;
}

function parseEthernetTcp(frame: Buffer, index: number, timestamp: bigint): TcpSegment | undefined {
    let etherTypeAt = 12;
    if (frame.length >= 18 && frame.readUInt16BE(12) === 0x8100) {
        etherTypeAt = 16; // 802.1Q tag
    }
    if (frame.length < etherTypeAt + 2 + 20 || frame.readUInt16BE(etherTypeAt) !== 0x0800) {
        return undefined;
    }
    const ip = frame.subarray(etherTypeAt + 2);
    const headerLength = (ip[0]! & 0x0f) * 4;
    const totalLength = ip.readUInt16BE(2);
    const isFragment = (ip.readUInt16BE(6) & 0x3fff) !== 0;
    if (ip[0]! >> 4 !== 4 || ip[9] !== 6 || isFragment || totalLength > ip.length) {
        return undefined;
    }
    const tcp = ip.subarray(headerLength, totalLength); // drops Ethernet padding
    const dataOffset = (tcp[12]! >> 4) * 4;
    return {
        index,
        timestamp,
        srcIp: ip.subarray(12, 16).join("."),
        dstIp: ip.subarray(16, 20).join("."),
        srcPort: tcp.readUInt16BE(0),
        dstPort: tcp.readUInt16BE(2),
        seq: tcp.readUInt32BE(4),
        flags: tcp[13]!,
        payload: Buffer.from(tcp.subarray(dataOffset)),
    };
}

/**
 * Groups segments into one byte stream per direction (srcIp:srcPort → dstIp:dstPort), ordered by
 * sequence number from the SYN (or the first segment), dropping retransmitted bytes. Throws Error when
 * a direction has a gap (missing bytes), since a replay would then be wrong.
 */
export function reassembleTcpStreams(segments: readonly TcpSegment[]): TcpStreamDirection[] {
    const directions = new Map<string, TcpSegment[]>();
    for (const segment of segments) {
        const key = `${segment.srcIp}:${segment.srcPort}>${segment.dstIp}:${segment.dstPort}`;
        const list = directions.get(key) ?? [];
        list.push(segment);
        directions.set(key, list);
    }
    const streams: TcpStreamDirection[] = [];
    for (const [key, list] of directions) {
        const syn = list.find((segment) => (segment.flags & TCP_SYN) !== 0);
        const start = syn === undefined ? list[0]!.seq : (syn.seq + 1) >>> 0;
        const ordered = list
            .filter((segment) => segment.payload.length > 0)
            .map((segment) => ({segment, offset: (segment.seq - start) >>> 0}))
            .sort((a, b) => a.offset - b.offset || a.segment.index - b.segment.index);
        const chunks: Buffer[] = [];
        let have = 0;
        for (const {segment, offset} of ordered) {
            if (offset > have) {
                throw new Error(`tcp ${key}: ${offset - have} bytes missing before offset ${offset}`);
            }
            const fresh = segment.payload.subarray(have - offset);
            if (fresh.length > 0) {
                chunks.push(fresh);
                have += fresh.length;
            }
        }
        const first = list[0]!;
        streams.push({
            srcIp: first.srcIp,
            srcPort: first.srcPort,
            dstIp: first.dstIp,
            dstPort: first.dstPort,
            bytes: Buffer.concat(chunks),
            chunks,
        });
    }
    return streams;
}
