import {describe, expect, it} from "vitest";
import {buildErrorResponse, buildLocalAnswer, decideQuery, findOpt} from "../../../src/dns/dnsAnswers.js";
import {DEFAULT_DNS_ZONES, isZoneName, NAXCLOW_HOST_NAMES, normalizeZones} from "../../../src/dns/dnsZones.js";
import {
    DnsClass,
    type DnsMessage,
    DnsRcode,
    DnsType,
    decodeDnsMessage,
    encodeDnsMessage,
} from "../../../src/protocol/dnsPacket.js";

const zones = normalizeZones(DEFAULT_DNS_ZONES);
const isLocal = (name: string): boolean => isZoneName(name, zones);

function query(name: string, type: number = DnsType.a, extra: Partial<DnsMessage> = {}): DnsMessage {
    return {
        id: 0x4242,
        flags: {qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: 0, rcode: 0},
        questions: [{name, type, dnsClass: DnsClass.in}],
        answers: [],
        authorities: [],
        additionals: [],
        ...extra,
    };
}

describe("zones", () => {
    it.each([...NAXCLOW_HOST_NAMES, "naxclow.com", "NAXCLOW.COM.CN.", "x.y.naxclow.com"])("%s is local", (name) => {
        expect(isLocal(name)).toBe(true);
    });

    it.each(["naxclow.co", "evilnaxclow.com", "naxclow.com.evil", "naxclow.cn", "com", ""])(
        "%s is not local",
        (name) => {
            expect(isLocal(name)).toBe(false);
        },
    );

    it("normalizes configured zones and refuses an empty one", () => {
        expect(normalizeZones([" Example.LAN. "])).toStrictEqual(["example.lan"]);
        expect(() => normalizeZones(["."])).toThrow(RangeError);
    });
});

describe("decideQuery", () => {
    it("answers one-question standard queries for zone names locally", () => {
        expect(decideQuery(query("v720.naxclow.com"), isLocal)).toStrictEqual({
            kind: "local",
            name: "v720.naxclow.com",
            type: DnsType.a,
        });
    });

    it("forwards other names, other opcodes and multi-question queries", () => {
        expect(decideQuery(query("example.org"), isLocal)).toStrictEqual({kind: "forward"});
        const notify = query("v720.naxclow.com", DnsType.a, {flags: {...query("x").flags, opcode: 4}});
        expect(decideQuery(notify, isLocal)).toStrictEqual({kind: "forward"});
        const two = query("v720.naxclow.com", DnsType.a, {
            questions: [...query("v720.naxclow.com").questions, ...query("b.naxclow.com").questions],
        });
        expect(decideQuery(two, isLocal)).toStrictEqual({kind: "forward"});
    });

    it("rejects a standard query without a question as FORMERR", () => {
        expect(decideQuery(query("x", DnsType.a, {questions: []}), isLocal)).toMatchObject({
            kind: "reject",
            rcode: DnsRcode.formErr,
        });
    });
});

describe("buildLocalAnswer", () => {
    it("answers A with the address, authoritative, with the question echoed in its case", () => {
        const answer = buildLocalAnswer(query("V720.naxclow.com"), "10.0.0.5", 60);
        expect(answer).toStrictEqual({
            id: 0x4242,
            flags: {qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, z: 0, rcode: 0},
            questions: [{name: "V720.naxclow.com", type: DnsType.a, dnsClass: DnsClass.in}],
            answers: [
                {
                    name: "V720.naxclow.com",
                    type: DnsType.a,
                    dnsClass: DnsClass.in,
                    ttl: 60,
                    data: Buffer.from([10, 0, 0, 5]),
                },
            ],
            authorities: [],
            additionals: [],
        });
        expect(decodeDnsMessage(encodeDnsMessage(answer))).toStrictEqual(answer);
    });

    it("answers ANY with the A record", () => {
        expect(buildLocalAnswer(query("naxclow.com", DnsType.any), "10.0.0.5", 1).answers).toHaveLength(1);
    });

    it.each([
        ["AAAA", DnsType.aaaa],
        ["HTTPS", DnsType.https],
        ["MX", DnsType.mx],
        ["TXT", DnsType.txt],
    ])("answers %s with NOERROR and no record, so cameras fall back to A", (_name, type) => {
        const answer = buildLocalAnswer(query("v720.naxclow.com", type), "10.0.0.5", 60);
        expect(answer.flags.rcode).toBe(DnsRcode.noError);
        expect(answer.answers).toStrictEqual([]);
    });

    it("answers SERVFAIL when there is no address to advertise", () => {
        const answer = buildLocalAnswer(query("v720.naxclow.com"), undefined, 60);
        expect(answer).toMatchObject({flags: {rcode: DnsRcode.servFail, aa: false}, answers: []});
    });

    it("adds an OPT record when the query had one (RFC 6891 §7)", () => {
        const opt = {name: "", type: DnsType.opt, dnsClass: 4096, ttl: 0, data: Buffer.alloc(0)};
        const withOpt = query("v720.naxclow.com", DnsType.a, {additionals: [opt]});
        expect(findOpt(withOpt)).toBe(opt);
        expect(buildLocalAnswer(withOpt, "10.0.0.5", 60).additionals).toStrictEqual([{...opt, dnsClass: 1232}]);
        expect(buildErrorResponse(withOpt, DnsRcode.formErr).additionals).toHaveLength(1);
        expect(buildErrorResponse(query("x"), DnsRcode.formErr).additionals).toHaveLength(0);
    });

    it("throws RangeError on an address that is not IPv4", () => {
        expect(() => buildLocalAnswer(query("naxclow.com"), "::1", 60)).toThrow(RangeError);
    });
});
