/**
 * Byte stream → whole packets. The 20-byte header has no start marker, so a bad length cannot be
 * resynchronised: the framer throws and the connection must be closed (house-style §4.8).
 */
import {ProtocolError} from "./errors.js";
import {decodeHeader, HEADER_LENGTH} from "./header.js";
import type {Packet} from "./packet.js";

/** The old app's TCP MAX_BUF_SIZE (protocol-notes.md §4, framing rules). */
export const MAX_TCP_PAYLOAD_LENGTH = 65_535;

export class TcpFramer {
    readonly #maxPayloadLength: number;
    #pending: Buffer = Buffer.alloc(0);

    constructor(maxPayloadLength = MAX_TCP_PAYLOAD_LENGTH) {
        this.#maxPayloadLength = maxPayloadLength;
    }

    /** Bytes held for an unfinished packet. */
    get pendingBytes(): number {
        return this.#pending.length;
    }

    /**
     * Appends `chunk` and returns every packet now complete, in order. Returned payloads are copies
     * owned by the caller. Throws ProtocolError when a length field exceeds the cap; the framer is
     * unusable afterwards.
     */
    push(chunk: Buffer): Packet[] {
        this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
        const packets: Packet[] = [];
        let offset = 0;
        while (this.#pending.length - offset >= HEADER_LENGTH) {
            const header = decodeHeader(this.#pending.subarray(offset));
            if (header.payloadLength > this.#maxPayloadLength) {
                const raw = this.#pending.subarray(offset, offset + HEADER_LENGTH);
                this.#pending = Buffer.alloc(0);
                throw new ProtocolError(
                    `payload length ${header.payloadLength} exceeds the cap of ${this.#maxPayloadLength}`,
                    raw,
                );
            }
            const end = offset + HEADER_LENGTH + header.payloadLength;
            if (this.#pending.length < end) {
                break;
            }
            packets.push({header, payload: Buffer.from(this.#pending.subarray(offset + HEADER_LENGTH, end))});
            offset = end;
        }
        this.#pending = offset === this.#pending.length ? Buffer.alloc(0) : Buffer.from(this.#pending.subarray(offset));
        return packets;
    }
}
