/**
 * The 20-byte little-endian Naxclow header, used on TCP and UDP in both directions
 * (protocol-notes.md §4).
 *
 * | offset | size | type   | field         |
 * |-------:|-----:|--------|---------------|
 * |      0 |    4 | u32 LE | payloadLength |
 * |      4 |    2 | u16 LE | command       |
 * |      6 |    1 | u8     | msgFlag       |
 * |      7 |    1 | u8     | dealFlag      |
 * |      8 |    8 | bytes  | forwardId     |
 * |     16 |    4 | u32 LE | packageId     |
 */
import {ProtocolError} from "./errors.js";

export const HEADER_LENGTH = 20;
export const FORWARD_ID_LENGTH = 8;
/** ASCII "00000000": what the app and the fake servers send as filler (protocol-notes.md §4). */
export const FORWARD_ID_ZEROS = "00000000";

export interface PacketHeader {
    readonly payloadLength: number;
    readonly command: number;
    readonly msgFlag: number;
    readonly dealFlag: number;
    /** Eight bytes as a latin1 string, so any filler (00×8, "0"×8, FF×8) re-encodes unchanged. */
    readonly forwardId: string;
    readonly packageId: number;
}

/** Byte offsets of the header fields, for hot paths that read single fields without decoding the header. */
export const HeaderOffset = {
    payloadLength: 0,
    command: 4,
    msgFlag: 6,
    dealFlag: 7,
    forwardId: 8,
    packageId: 16,
} as const;

/** Decodes the first 20 bytes of `bytes`. Throws ProtocolError when fewer than 20 bytes are given. */
export function decodeHeader(bytes: Uint8Array): PacketHeader {
    if (bytes.length < HEADER_LENGTH) {
        throw new ProtocolError(`truncated header: ${bytes.length} of ${HEADER_LENGTH} bytes`, bytes);
    }
    // A Buffer is read in place; a plain Uint8Array gets a Buffer view (one allocation less for datagrams).
    const view = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, HEADER_LENGTH);
    return {
        payloadLength: view.readUInt32LE(HeaderOffset.payloadLength),
        command: view.readUInt16LE(HeaderOffset.command),
        msgFlag: view.readUInt8(HeaderOffset.msgFlag),
        dealFlag: view.readUInt8(HeaderOffset.dealFlag),
        forwardId: view.toString("latin1", HeaderOffset.forwardId, HeaderOffset.forwardId + FORWARD_ID_LENGTH),
        packageId: view.readUInt32LE(HeaderOffset.packageId),
    };
}

/** Writes `header` into `target` at `offset` (20 bytes). */
export function writeHeader(header: PacketHeader, target: Buffer, offset = 0): void {
    if (header.forwardId.length !== FORWARD_ID_LENGTH) {
        throw new RangeError(`forwardId must be ${FORWARD_ID_LENGTH} characters, got ${header.forwardId.length}`);
    }
    target.writeUInt32LE(header.payloadLength, offset);
    target.writeUInt16LE(header.command, offset + 4);
    target.writeUInt8(header.msgFlag, offset + 6);
    target.writeUInt8(header.dealFlag, offset + 7);
    target.write(header.forwardId, offset + 8, FORWARD_ID_LENGTH, "latin1");
    target.writeUInt32LE(header.packageId, offset + 16);
}

export function encodeHeader(header: PacketHeader): Buffer {
    const out = Buffer.allocUnsafe(HEADER_LENGTH);
    writeHeader(header, out);
    return out;
}
