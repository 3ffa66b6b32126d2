/**
 * The device side of protocol-notes.md §9.2: one JPEG → cmd 1 datagrams, as the camera sends them.
 * Used by the simulator and tests; the inverse of MjpegAssembler.
 *
 * Payloads concatenated = JPEG ‖ trailer, where trailer = `[trailerByte][u32 LE jpeg.length]`.
 * That byte stream is cut into `fragmentBytes` pieces: HEAD (250), BODY (251)…, END (252) with
 * consecutive pkgIds, or a single packet with msgFlag 255 when it fits in one.
 */
import {Cmd, MsgFlag} from "./commands.js";
import {HEADER_LENGTH, writeHeader} from "./header.js";
import {JPEG_TRAILER_LENGTH} from "./mjpegAssembler.js";

/** Largest fragment payload the camera sends: 1024-byte datagrams (§9.2). */
export const MAX_FRAGMENT_BYTES = 1004;
/** The camera's forwardId filler: 8 × 0x00 ([LOG], §4). */
export const DEVICE_FORWARD_ID = "\0\0\0\0\0\0\0\0";

export interface JpegFragmentOptions {
    /** Payload bytes per datagram, default 1004. */
    readonly fragmentBytes?: number;
    /** The unknown trailer byte, default 0. */
    readonly trailerByte?: number;
    /** Header cmd, default 1 (JPEG). */
    readonly command?: number;
    /** Default 8 × 0x00, as the camera sends. */
    readonly forwardId?: string;
}

/** The concatenated fragment payloads of one frame: JPEG followed by the 5-byte trailer. */
export function appendJpegTrailer(jpeg: Uint8Array, trailerByte = 0): Buffer {
    const out = Buffer.allocUnsafe(jpeg.length + JPEG_TRAILER_LENGTH);
    out.set(jpeg, 0);
    out.writeUInt8(trailerByte, jpeg.length);
    out.writeUInt32LE(jpeg.length, jpeg.length + 1);
    return out;
}

/**
 * Whole datagrams (20-byte header + payload) for one frame, pkgIds `firstPackageId`, +1, … (mod 2^32).
 * Throws RangeError on a non-positive `fragmentBytes` (a programming error, not device input).
 */
export function encodeJpegFragments(
    jpeg: Uint8Array,
    firstPackageId: number,
    options: JpegFragmentOptions = {},
): Buffer[] {
    const fragmentBytes = options.fragmentBytes ?? MAX_FRAGMENT_BYTES;
    if (!Number.isInteger(fragmentBytes) || fragmentBytes < 1) {
        throw new RangeError(`fragmentBytes must be a positive integer, got ${fragmentBytes}`);
    }
    const data = appendJpegTrailer(jpeg, options.trailerByte ?? 0);
    const count = Math.ceil(data.length / fragmentBytes);
    const command = options.command ?? Cmd.jpeg;
    const forwardId = options.forwardId ?? DEVICE_FORWARD_ID;
    const datagrams: Buffer[] = [];
    for (let index = 0; index < count; index += 1) {
        const payload = data.subarray(index * fragmentBytes, (index + 1) * fragmentBytes);
        const datagram = Buffer.allocUnsafe(HEADER_LENGTH + payload.length);
        writeHeader(
            {
                payloadLength: payload.length,
                command,
                msgFlag: fragmentFlag(index, count),
                dealFlag: 0,
                forwardId,
                packageId: (firstPackageId + index) >>> 0,
            },
            datagram,
        );
        payload.copy(datagram, HEADER_LENGTH);
        datagrams.push(datagram);
    }
    return datagrams;
}

function fragmentFlag(index: number, count: number): number {
    if (count === 1) {
        return MsgFlag.whole;
    }
    if (index === 0) {
        return MsgFlag.head;
    }
    return index === count - 1 ? MsgFlag.end : MsgFlag.body;
}
