/**
 * cmd 605 retransmission confirm (protocol-notes.md §9.5): a standard header (msgFlag 0,
 * dealFlag 0, ASCII "00000000" forwardId, pkgId 0) and n × u32 LE pkgIds.
 *
 * | offset | size | type   | field                    |
 * |-------:|-----:|--------|--------------------------|
 * |      0 |   20 | header | cmd 605, payloadLen 4·n  |
 * |     20 |  4·n | u32 LE | received pkgIds          |
 */
import {Cmd} from "./commands.js";
import {ProtocolError} from "./errors.js";
import {encodePacket} from "./packet.js";

/** Ids per confirm: far below the app's 8092-byte frame limit (§9.5). */
export const MAX_CONFIRM_IDS = 1000;

/**
 * A whole 605 packet listing `packageIds` in the given order. With more than MAX_CONFIRM_IDS ids,
 * only the last (newest) MAX_CONFIRM_IDS are sent. An empty list gives the 20-byte empty confirm.
 */
export function encodeConfirm(packageIds: readonly number[]): Buffer {
    const ids = packageIds.length > MAX_CONFIRM_IDS ? packageIds.slice(-MAX_CONFIRM_IDS) : packageIds;
    const payload = Buffer.allocUnsafe(ids.length * 4);
    let offset = 0;
    for (const id of ids) {
        payload.writeUInt32LE(id >>> 0, offset);
        offset += 4;
    }
    return encodePacket({command: Cmd.confirm}, payload);
}

/** The pkgIds of a 605 payload. Throws ProtocolError when its length is not a multiple of 4. */
export function decodeConfirm(payload: Uint8Array): number[] {
    if (payload.length % 4 !== 0) {
        throw new ProtocolError(`confirm payload length ${payload.length} is not a multiple of 4`, payload);
    }
    const view = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
    const ids = new Array<number>(payload.length / 4);
    for (let index = 0; index < ids.length; index += 1) {
        ids[index] = view.readUInt32LE(index * 4);
    }
    return ids;
}
