import {describe, expect, it} from "vitest";
import {Cmd} from "../../../src/protocol/commands.js";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {decodeHeader, HEADER_LENGTH} from "../../../src/protocol/header.js";
import {encodeJpegFragments} from "../../../src/protocol/jpegFragments.js";
import {decodeJson} from "../../../src/protocol/messages.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {TcpFramer} from "../../../src/protocol/tcpFramer.js";
import {
    checkFaults,
    emptyFaultCounters,
    planMediaDatagrams,
    planTcpFaults,
    type SimFaults,
    UNKNOWN_CMD,
    UNKNOWN_CODE,
} from "../../../src/simulator/faults.js";
import {Prng, seedFromString} from "../../../src/simulator/prng.js";

const FRAME = encodeJpegFragments(Buffer.alloc(25_000, 0x5a), 1000);
const EVERYTHING: SimFaults = {
    fragmentLoss: 0.1,
    duplicate: 0.1,
    reorder: 0.5,
    garbageDatagram: 0.5,
    udpLengthLie: 0.5,
    udpBadJson: 0.5,
};

/** Which FRAME datagram (by identity) each output is; −1 for injected ones. */
function indexes(datagrams: readonly Buffer[]): number[] {
    return datagrams.map((datagram) => FRAME.indexOf(datagram));
}

function run(
    faults: SimFaults,
    seed: number,
    frames: number,
): {out: Buffer[][]; counters: ReturnType<typeof emptyFaultCounters>} {
    const prng = new Prng(seed);
    const counters = emptyFaultCounters();
    const out: Buffer[][] = [];
    for (let index = 0; index < frames; index += 1) {
        out.push(planMediaDatagrams(FRAME, faults, prng, counters));
    }
    return {out, counters};
}

describe("media fault planning", () => {
    it("is deterministic for a seed and differs between seeds", () => {
        const first = run(EVERYTHING, 42, 50);
        const again = run(EVERYTHING, 42, 50);
        expect(Buffer.concat(again.out.flat()).equals(Buffer.concat(first.out.flat()))).toBe(true);
        expect(again.counters).toStrictEqual(first.counters);
        const other = run(EVERYTHING, 43, 50);
        expect(Buffer.concat(other.out.flat()).equals(Buffer.concat(first.out.flat()))).toBe(false);
    });

    it("passes a frame through untouched without faults", () => {
        const {out, counters} = run({}, 1, 3);
        for (const datagrams of out) {
            expect(indexes(datagrams)).toStrictEqual(FRAME.map((_, index) => index));
        }
        expect(counters).toStrictEqual(emptyFaultCounters());
    });

    it("drops about the configured share of fragments and counts them", () => {
        const {out, counters} = run({fragmentLoss: 0.05}, 7, 400);
        const total = 400 * FRAME.length;
        const sent = out.reduce((sum, datagrams) => sum + datagrams.length, 0);
        expect(total - sent).toBe(counters.lost);
        expect(counters.lost / total).toBeGreaterThan(0.03);
        expect(counters.lost / total).toBeLessThan(0.07);
    });

    it("reorders within a frame without changing which datagrams are sent", () => {
        const {out, counters} = run({reorder: 1}, 3, 5);
        expect(counters.reorderedFrames).toBe(5);
        const inOrder = FRAME.map((_, index) => index);
        for (const datagrams of out) {
            expect(indexes(datagrams)).not.toStrictEqual(inOrder);
            expect(indexes(datagrams).sort((a, b) => a - b)).toStrictEqual(inOrder);
        }
    });

    it("duplicates datagrams next to the original", () => {
        const {out, counters} = run({duplicate: 1}, 3, 1);
        expect(counters.duplicated).toBe(FRAME.length);
        expect(indexes(out[0] ?? [])).toStrictEqual(FRAME.flatMap((_, index) => [index, index]));
    });

    it("adds a datagram whose header claims more payload than it carries", () => {
        const {out, counters} = run({udpLengthLie: 1}, 5, 20);
        expect(counters.udpLengthLies).toBe(20);
        for (const datagrams of out) {
            expect(datagrams.length).toBe(FRAME.length + 1);
            const lie = datagrams[0] as Buffer;
            expect(decodeHeader(lie).payloadLength).toBeGreaterThan(lie.length - HEADER_LENGTH);
            expect(() => decodeDatagram(lie)).toThrow(ProtocolError);
        }
    });

    it("adds garbage and bad-JSON datagrams before the frame", () => {
        const {out, counters} = run({garbageDatagram: 1, udpBadJson: 1}, 9, 1);
        expect(counters.garbageDatagrams).toBe(1);
        expect(counters.udpBadJson).toBe(1);
        const [garbage, invalid, unknown, ...rest] = out[0] ?? [];
        expect(garbage?.length).toBeGreaterThan(0);
        expect(() => decodeJson(decodeDatagram(invalid as Buffer).payload)).toThrow(ProtocolError);
        expect(decodeJson(decodeDatagram(unknown as Buffer).payload).code).toBe(UNKNOWN_CODE);
        expect(indexes(rest)).toStrictEqual(FRAME.map((_, index) => index));
    });

    it("applies only loss and duplicates to audio packets", () => {
        const prng = new Prng(1);
        const counters = emptyFaultCounters();
        const audio = [Buffer.from("audio")];
        const out = planMediaDatagrams(audio, {...EVERYTHING, duplicate: 1, fragmentLoss: 0}, prng, counters, false);
        expect(out).toStrictEqual([audio[0], audio[0]]);
        expect(counters.garbageDatagrams + counters.udpLengthLies + counters.reorderedFrames).toBe(0);
    });
});

describe("TCP fault planning", () => {
    it("emits invalid JSON, an unknown code and an unknown cmd as well-framed packets", () => {
        const counters = emptyFaultCounters();
        const plan = planTcpFaults({invalidJson: 1, unknownCode: 1}, new Prng(1), counters);
        const packets = new TcpFramer().push(Buffer.concat(plan.bytes));
        expect(packets.map((packet) => packet.header.command)).toStrictEqual([Cmd.json, Cmd.json, UNKNOWN_CMD]);
        expect(() => decodeJson(packets[0]?.payload ?? Buffer.alloc(0))).toThrow(ProtocolError);
        expect(decodeJson(packets[1]?.payload ?? Buffer.alloc(0)).code).toBe(UNKNOWN_CODE);
        expect(plan.disconnect).toBe(false);
        expect(counters.invalidJson).toBe(1);
        expect(counters.unknownCodes).toBe(1);
    });

    it("emits packets whose length field lies, both ways, over many ticks", () => {
        const prng = new Prng(11);
        const counters = emptyFaultCounters();
        let more = 0;
        let less = 0;
        for (let tick = 0; tick < 50; tick += 1) {
            const [packet] = planTcpFaults({tcpLengthLie: 1}, prng, counters).bytes;
            const claimed = packet?.readUInt32LE(0) ?? 0;
            const actual = (packet?.length ?? 0) - HEADER_LENGTH;
            expect(claimed).not.toBe(actual);
            if (claimed > actual) {
                more += 1;
            } else {
                less += 1;
            }
        }
        expect(more).toBeGreaterThan(0);
        expect(less).toBeGreaterThan(0);
    });

    it("decides disconnects and garbage deterministically", () => {
        const plans = (seed: number) => {
            const prng = new Prng(seed);
            return Array.from({length: 40}, () =>
                planTcpFaults({garbageTcp: 0.3, disconnect: 0.2}, prng, emptyFaultCounters()),
            );
        };
        const first = plans(5);
        expect(plans(5)).toStrictEqual(first);
        expect(first.some((plan) => plan.disconnect)).toBe(true);
        expect(first.some((plan) => plan.bytes.length > 0)).toBe(true);
    });

    it("rejects probabilities outside [0, 1]", () => {
        expect(() => checkFaults({fragmentLoss: 1.5})).toThrow(RangeError);
        expect(() => checkFaults({disconnect: -0.1})).toThrow(RangeError);
        expect(() => checkFaults({fragmentLoss: Number.NaN})).toThrow(RangeError);
        expect(() => checkFaults({fragmentLoss: 0, reorder: 1})).not.toThrow();
    });
});

describe("Prng", () => {
    it("repeats its sequence for a seed and stays in [0, 1)", () => {
        const a = new Prng(seedFromString("0800c0000001"));
        const b = new Prng(seedFromString("0800c0000001"));
        const values = Array.from({length: 1000}, () => a.next());
        expect(Array.from({length: 1000}, () => b.next())).toStrictEqual(values);
        expect(values.every((value) => value >= 0 && value < 1)).toBe(true);
        expect(new Set(values).size).toBeGreaterThan(990);
        expect(seedFromString("0800c0000001")).not.toBe(seedFromString("0800c0000002"));
    });
});
