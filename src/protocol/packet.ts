/** A whole message: header + payload. One per UDP datagram; framed out of the TCP stream (protocol-notes.md §4). */
import {ProtocolError} from "./errors.js";
import {decodeHeader, FORWARD_ID_ZEROS, HEADER_LENGTH, HeaderOffset, type PacketHeader, writeHeader} from "./header.js";

export interface Packet {
    readonly header: PacketHeader;
    /** A view into the received bytes: copy it before keeping it past the handler. */
    readonly payload: Buffer;
}

export interface PacketFields {
    readonly command: number;
    readonly msgFlag?: number;
    readonly dealFlag?: number;
    readonly forwardId?: string;
    readonly packageId?: number;
}

/** Encodes a header (payloadLength computed, defaults msgFlag 0, dealFlag 0, ASCII-zero forwardId, pkgId 0) + payload. */
export function encodePacket(fields: PacketFields, payload: Uint8Array = Buffer.alloc(0)): Buffer {
    const out = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
    writeHeader(
        {
            payloadLength: payload.length,
            command: fields.command,
            msgFlag: fields.msgFlag ?? 0,
            dealFlag: fields.dealFlag ?? 0,
            forwardId: fields.forwardId ?? FORWARD_ID_ZEROS,
            packageId: fields.packageId ?? 0,
        },
        out,
    );
    out.set(payload, HEADER_LENGTH);
    return out;
}

/**
 * The end offset of `datagram`'s payload (20 + payloadLength), with the checks of `decodeDatagram`
 * (ProtocolError when the header is truncated or the length field lies), without allocating: the
 * UDP media hot path reads the other fields at `HeaderOffset` and takes the payload itself.
 */
export function datagramPayloadEnd(datagram: Buffer): number {
    if (datagram.length < HEADER_LENGTH) {
        throw new ProtocolError(`truncated header: ${datagram.length} of ${HEADER_LENGTH} bytes`, datagram);
    }
    const end = HEADER_LENGTH + datagram.readUInt32LE(HeaderOffset.payloadLength);
    if (datagram.length < end) {
        throw new ProtocolError(
            `datagram shorter than its length field: ${datagram.length} < ${end}`,
            datagram.subarray(0, 64),
        );
    }
    return end;
}

/**
 * Decodes one UDP datagram. The datagram must hold at least 20 + payloadLength bytes; extra bytes
 * after the payload are ignored (protocol-notes.md §4, "some code trims the extra").
 */
export function decodeDatagram(datagram: Buffer): Packet {
    const end = datagramPayloadEnd(datagram);
    return {header: decodeHeader(datagram), payload: datagram.subarray(HEADER_LENGTH, end)};
}
