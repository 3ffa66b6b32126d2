/**
 * Fault injection for a simulated camera: pure planners that turn what a healthy camera would send
 * into what a faulty one sends. Deterministic: the same faults, seed and call sequence give the
 * same bytes. Probabilities are per opportunity (datagram, frame or heartbeat tick, as documented).
 */
import {MsgFlag} from "../protocol/commands.js";
import {HEADER_LENGTH, writeHeader} from "../protocol/header.js";
import {DEVICE_FORWARD_ID} from "../protocol/jpegFragments.js";
import {encodeDeviceJsonPacket} from "./deviceMessages.js";
import type {Prng} from "./prng.js";

export interface SimFaults {
    /** Seed of the fault PRNG; default derived from the camera id. */
    readonly seed?: number;
    /** Per media datagram (video fragment or audio packet): not sent. */
    readonly fragmentLoss?: number;
    /** Per media datagram: sent twice. */
    readonly duplicate?: number;
    /** Per frame: its datagrams are sent in a shuffled order. */
    readonly reorder?: number;
    /** Per frame: a datagram of 1–200 random bytes is sent before it. */
    readonly garbageDatagram?: number;
    /** Per frame: an extra copy of one fragment's header whose length claims more than the datagram holds. */
    readonly udpLengthLie?: number;
    /** Per frame: a UDP cmd 0 datagram with invalid JSON, and one with an unknown code. */
    readonly udpBadJson?: number;
    /** Per heartbeat tick: 1–64 random bytes on TCP (framing is lost; the server should close). */
    readonly garbageTcp?: number;
    /** Per heartbeat tick: a TCP packet whose length field says more or less than its payload. */
    readonly tcpLengthLie?: number;
    /** Per heartbeat tick: a well-framed cmd 0 packet with invalid JSON. */
    readonly invalidJson?: number;
    /** Per heartbeat tick: a JSON message with an unknown code and an empty packet with an unknown cmd. */
    readonly unknownCode?: number;
    /** Per heartbeat tick: abrupt TCP close (and data socket), then reconnect after `reconnectDelayMs`. */
    readonly disconnect?: number;
    /** Connect TCP but never send code 100 or heartbeats. */
    readonly neverLogin?: boolean;
    /** The first N code 51s the camera sends are lost on the way (a camera sends its 51 once per 50). */
    readonly lostProbes?: number;
}

export interface FaultCounters {
    lost: number;
    duplicated: number;
    reorderedFrames: number;
    garbageDatagrams: number;
    udpLengthLies: number;
    udpBadJson: number;
    garbageTcp: number;
    tcpLengthLies: number;
    invalidJson: number;
    unknownCodes: number;
    disconnects: number;
    lostProbes: number;
}

export function emptyFaultCounters(): FaultCounters {
    return {
        lost: 0,
        duplicated: 0,
        reorderedFrames: 0,
        garbageDatagrams: 0,
        udpLengthLies: 0,
        udpBadJson: 0,
        garbageTcp: 0,
        tcpLengthLies: 0,
        invalidJson: 0,
        unknownCodes: 0,
        disconnects: 0,
        lostProbes: 0,
    };
}

/** An unknown top-level code and cmd: nothing in protocol-notes.md §5/§6 uses them. */
export const UNKNOWN_CODE = 777;
export const UNKNOWN_CMD = 999;

/**
 * The datagrams to send for one frame (or one audio packet, with `isFrame` false: only loss and
 * duplicates apply). `datagrams` is not modified; returned buffers may be shared with it.
 */
export function planMediaDatagrams(
    datagrams: readonly Buffer[],
    faults: SimFaults,
    prng: Prng,
    counters: FaultCounters,
    isFrame = true,
): Buffer[] {
    const out: Buffer[] = [];
    if (isFrame && prng.chance(faults.garbageDatagram ?? 0)) {
        out.push(prng.bytes(1 + prng.below(200)));
        counters.garbageDatagrams += 1;
    }
    if (isFrame && prng.chance(faults.udpBadJson ?? 0)) {
        out.push(encodeDeviceJsonPacket('{"code": 51, "devTarget": '));
        out.push(encodeDeviceJsonPacket(`{"code": ${UNKNOWN_CODE}, "status": 200}`));
        counters.udpBadJson += 1;
    }
    if (isFrame && datagrams.length > 0 && prng.chance(faults.udpLengthLie ?? 0)) {
        const victim = datagrams[prng.below(datagrams.length)] as Buffer;
        const lie = Buffer.from(victim.subarray(0, Math.min(victim.length, HEADER_LENGTH + 16)));
        lie.writeUInt32LE(victim.length - HEADER_LENGTH + 1 + prng.below(1000), 0);
        out.push(lie);
        counters.udpLengthLies += 1;
    }
    const media: Buffer[] = [];
    for (const datagram of datagrams) {
        if (prng.chance(faults.fragmentLoss ?? 0)) {
            counters.lost += 1;
            continue;
        }
        media.push(datagram);
        if (prng.chance(faults.duplicate ?? 0)) {
            media.push(datagram);
            counters.duplicated += 1;
        }
    }
    if (isFrame && media.length > 1 && prng.chance(faults.reorder ?? 0)) {
        prng.shuffle(media);
        counters.reorderedFrames += 1;
    }
    out.push(...media);
    return out;
}

/** What a heartbeat tick adds on TCP besides the heartbeat, and whether to disconnect after it. */
export interface TcpFaultPlan {
    readonly bytes: Buffer[];
    readonly disconnect: boolean;
}

export function planTcpFaults(faults: SimFaults, prng: Prng, counters: FaultCounters): TcpFaultPlan {
    const bytes: Buffer[] = [];
    if (prng.chance(faults.invalidJson ?? 0)) {
        bytes.push(encodeDeviceJsonPacket('{"code": 100, "uid": "'));
        counters.invalidJson += 1;
    }
    if (prng.chance(faults.unknownCode ?? 0)) {
        bytes.push(encodeDeviceJsonPacket(`{"code": ${UNKNOWN_CODE}, "status": 200}`));
        const unknownCmd = Buffer.alloc(HEADER_LENGTH);
        writeHeader(
            {
                payloadLength: 0,
                command: UNKNOWN_CMD,
                msgFlag: MsgFlag.none,
                dealFlag: 0,
                forwardId: DEVICE_FORWARD_ID,
                packageId: 0,
            },
            unknownCmd,
        );
        bytes.push(unknownCmd);
        counters.unknownCodes += 1;
    }
    if (prng.chance(faults.tcpLengthLie ?? 0)) {
        const packet = encodeDeviceJsonPacket('{"code": 55, "timerStamp": 0}');
        const actual = packet.length - HEADER_LENGTH;
        const claims = prng.chance(0.5) ? actual + 1 + prng.below(4000) : prng.below(actual);
        packet.writeUInt32LE(claims, 0);
        bytes.push(packet);
        counters.tcpLengthLies += 1;
    }
    if (prng.chance(faults.garbageTcp ?? 0)) {
        bytes.push(prng.bytes(1 + prng.below(64)));
        counters.garbageTcp += 1;
    }
    const disconnect = prng.chance(faults.disconnect ?? 0);
    if (disconnect) {
        counters.disconnects += 1;
    }
    return {bytes, disconnect};
}

/** True when `faults` can change what reaches the server (used to skip PRNG work on healthy cameras). */
export function hasMediaFaults(faults: SimFaults): boolean {
    return (
        (faults.fragmentLoss ?? 0) > 0 ||
        (faults.duplicate ?? 0) > 0 ||
        (faults.reorder ?? 0) > 0 ||
        (faults.garbageDatagram ?? 0) > 0 ||
        (faults.udpLengthLie ?? 0) > 0 ||
        (faults.udpBadJson ?? 0) > 0
    );
}

/** Fault keys that are probabilities, for validation and CLI parsing. */
export const PROBABILITY_FAULTS = [
    "fragmentLoss",
    "duplicate",
    "reorder",
    "garbageDatagram",
    "udpLengthLie",
    "udpBadJson",
    "garbageTcp",
    "tcpLengthLie",
    "invalidJson",
    "unknownCode",
    "disconnect",
] as const;

/** Throws RangeError when a probability is outside [0, 1]. */
export function checkFaults(faults: SimFaults): void {
    for (const key of PROBABILITY_FAULTS) {
        const value = faults[key];
        if (value !== undefined && !(value >= 0 && value <= 1)) {
            throw new RangeError(`fault ${key} must be a probability in [0, 1], got ${value}`);
        }
    }
}
