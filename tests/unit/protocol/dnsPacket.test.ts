import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {
    canonicalDnsName,
    DnsClass,
    type DnsMessage,
    DnsType,
    decodeDnsHeader,
    decodeDnsMessage,
    decodeIpv4,
    encodeDnsMessage,
    encodeDnsName,
    encodeIpv4,
    withDnsId,
} from "../../../src/protocol/dnsPacket.js";
import {ProtocolError} from "../../../src/protocol/errors.js";
import {thrown} from "./thrown.js";

const QUERY_FLAGS = {qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: 2, rcode: 0};

/** What `dig @server v720.naxclow.com A` sends (dig 9.18: AD set, EDNS 1232, a cookie option). */
const DIG_QUERY = {
    hex: [
        "b1c2", // id
        "0120", // flags: QR 0, opcode 0, RD 1, Z bits 010 (AD), rcode 0
        "0001", // qdcount 1
        "0000", // ancount
        "0000", // nscount
        "0001", // arcount 1 (OPT)
        "0476373230", // "v720"
        "076e6178636c6f77", // "naxclow"
        "03636f6d", // "com"
        "00", // root
        "0001", // type A
        "0001", // class IN
        "00", // OPT owner: root
        "0029", // type 41
        "04d0", // class = UDP payload size 1232
        "00000000", // ttl = extended rcode, version, flags
        "000c", // rdlength 12
        "000a0008", // option 10 (COOKIE), 8 bytes
        "0102030405060708",
    ].join(""),
    message: {
        id: 0xb1c2,
        flags: QUERY_FLAGS,
        questions: [{name: "v720.naxclow.com", type: DnsType.a, dnsClass: DnsClass.in}],
        answers: [],
        authorities: [],
        additionals: [
            {
                name: "",
                type: DnsType.opt,
                dnsClass: 1232,
                ttl: 0,
                data: Buffer.from("000a00080102030405060708", "hex"),
            },
        ],
    } satisfies DnsMessage,
};

/** An answer for v720.naxclow.com A 10.20.30.40, TTL 60, authoritative. */
const ANSWER = {
    hex: [
        "b1c2",
        "8580", // QR 1, AA 1, RD 1, RA 1, rcode 0
        "0001",
        "0001",
        "0000",
        "0000",
        "0476373230076e6178636c6f7703636f6d00", // v720.naxclow.com
        "00010001",
        "0476373230076e6178636c6f7703636f6d00", // the same name again (we never compress)
        "0001", // A
        "0001", // IN
        "0000003c", // ttl 60
        "0004", // rdlength
        "0a141e28", // 10.20.30.40
    ].join(""),
    message: {
        id: 0xb1c2,
        flags: {qr: true, opcode: 0, aa: true, tc: false, rd: true, ra: true, z: 0, rcode: 0},
        questions: [{name: "v720.naxclow.com", type: DnsType.a, dnsClass: DnsClass.in}],
        answers: [
            {
                name: "v720.naxclow.com",
                type: DnsType.a,
                dnsClass: DnsClass.in,
                ttl: 60,
                data: Buffer.from([10, 20, 30, 40]),
            },
        ],
        authorities: [],
        additionals: [],
    } satisfies DnsMessage,
};

const CASES = [
    {name: "dig's A query with EDNS", ...DIG_QUERY},
    {name: "an authoritative A answer", ...ANSWER},
];

describe("DNS messages (RFC 1035)", () => {
    it.each(CASES)("decodes $name", ({hex, message}) => {
        expect(decodeDnsMessage(Buffer.from(hex, "hex"))).toStrictEqual(message);
    });

    it.each(CASES)("encodes $name", ({hex, message}) => {
        expect(encodeDnsMessage(message).toString("hex")).toBe(hex);
    });

    it("decodes every header flag", () => {
        const header = decodeDnsHeader(Buffer.from("ffff7ff30001000200030004", "hex"));
        expect(header).toStrictEqual({
            id: 0xffff,
            flags: {qr: false, opcode: 15, aa: true, tc: true, rd: true, ra: true, z: 7, rcode: 3},
            qdcount: 1,
            ancount: 2,
            nscount: 3,
            arcount: 4,
        });
        const encoded = encodeDnsMessage({
            id: 1,
            flags: header.flags,
            questions: [],
            answers: [],
            authorities: [],
            additionals: [],
        });
        expect(encoded.subarray(2, 4).toString("hex")).toBe("7ff3");
    });

    it("follows compression pointers (RFC 1035 §4.1.4)", () => {
        // question v720.naxclow.com at 12; answer name = pointer to 17 ("naxclow.com") after label "p2p".
        const hex = [
            "00018180000100010000000004",
            "76373230076e6178636c6f7703636f6d00", // name at offset 12
            "00010001",
            "03703270c011", // "p2p" + pointer to offset 17 ("naxclow.com")
            "00010001000000050004c0a80102",
        ].join("");
        const message = decodeDnsMessage(Buffer.from(hex, "hex"));
        expect(message.answers[0]?.name).toBe("p2p.naxclow.com");
        expect(decodeIpv4(message.answers[0]?.data ?? Buffer.alloc(0))).toBe("192.168.1.2");
    });

    it("follows a chain of pointers", () => {
        const hex = [
            "000101000003000000000000",
            "016300", // offset 12: "c"
            "00010001",
            "0162c00c", // offset 19: "b" + pointer to 12
            "00010001",
            "0161c013", // offset 27: "a" + pointer to 19, which ends in a pointer to 12
            "00010001",
        ].join("");
        expect(decodeDnsMessage(Buffer.from(hex, "hex")).questions.map((question) => question.name)).toStrictEqual([
            "c",
            "b.c",
            "a.b.c",
        ]);
    });

    it("encodes all-clear flags", () => {
        const flags = {qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, z: 0, rcode: 0};
        const bytes = encodeDnsMessage({id: 2, flags, questions: [], answers: [], authorities: [], additionals: []});
        expect(bytes.toString("hex")).toBe("000200000000000000000000");
        expect(decodeDnsHeader(bytes).flags).toStrictEqual(flags);
    });

    it("refuses to encode a message over 65535 bytes", () => {
        const record = {name: "", type: DnsType.txt, dnsClass: DnsClass.in, ttl: 0, data: Buffer.alloc(40_000)};
        expect(() => encodeDnsMessage({...ANSWER.message, answers: [record], additionals: [record]})).toThrow(
            "exceeds 65535",
        );
    });

    it.each([
        {name: "a truncated header", hex: "0001010000", text: "truncated DNS header"},
        {
            name: "a count larger than the message",
            hex: "00010100000200000000000001610000010001",
            text: "truncated name",
        },
        {name: "a label running past the end", hex: "000101000001000000000000037777", text: "truncated label"},
        {name: "a pointer to itself", hex: "000101000001000000000000c00c00010001", text: "does not point backwards"},
        {
            name: "a forward pointer",
            hex: "000101000001000000000000c01000010001016100",
            text: "does not point backwards",
        },
        {
            name: "a pointer into a later name (the start of every loop)",
            hex: "00010100000200000000000001610000010001c01e00010001",
            text: "does not point backwards",
        },
        {name: "a reserved label type", hex: "0001010000010000000000004100010001", text: "reserved label type"},
        {
            name: "rdata past the end",
            hex: "00018180000000010000000000000100010000003c00040a14",
            text: "truncated rdata",
        },
        {name: "a cut-off pointer", hex: "000101000001000000000000c0", text: "truncated compression pointer"},
    ])("rejects $name with ProtocolError", ({hex, text}) => {
        const error = thrown(() => decodeDnsMessage(Buffer.from(hex, "hex")));
        expect(error).toBeInstanceOf(ProtocolError);
        expect((error as ProtocolError).message).toContain(text);
    });

    it("rejects a name longer than 255 bytes", () => {
        const label = `3f${"61".repeat(63)}`;
        const hex = `000101000001000000000000${label.repeat(4)}0000010001`; // 4 × 64 + 1 = 257 bytes
        expect(thrown(() => decodeDnsMessage(Buffer.from(hex, "hex")))).toMatchObject({
            name: "ProtocolError",
            message: "name longer than 255 bytes",
        });
    });

    it("only ever throws ProtocolError on random bytes", () => {
        fc.assert(
            fc.property(fc.uint8Array({maxLength: 300}), (bytes) => {
                try {
                    decodeDnsMessage(bytes);
                } catch (error) {
                    expect(error).toBeInstanceOf(ProtocolError);
                }
            }),
            {numRuns: 2000},
        );
    });

    it("only ever throws ProtocolError on mutated valid messages", () => {
        const base = Buffer.from(DIG_QUERY.hex, "hex");
        fc.assert(
            fc.property(
                fc.nat(base.length - 1),
                fc.integer({min: 0, max: 255}),
                fc.nat(base.length),
                (at, value, cut) => {
                    const bytes = Buffer.from(base);
                    bytes[at] = value;
                    try {
                        decodeDnsMessage(bytes.subarray(0, cut));
                    } catch (error) {
                        expect(error).toBeInstanceOf(ProtocolError);
                    }
                },
            ),
        );
    });

    it("round-trips any names, escaped where needed", () => {
        const header = Buffer.from("000101000001000000000000", "hex"); // one question
        const label = fc.uint8Array({minLength: 1, maxLength: 20});
        fc.assert(
            fc.property(fc.array(label, {maxLength: 8}), fc.integer({min: 0, max: 0xffff}), (labels, type) => {
                const name = labels.flatMap((bytes) => [Buffer.from([bytes.length]), Buffer.from(bytes)]);
                const raw = Buffer.concat([header, ...name, Buffer.from([0, type >> 8, type & 0xff, 0, 1])]);
                const message = decodeDnsMessage(raw);
                expect(encodeDnsMessage(message).equals(raw)).toBe(true);
            }),
        );
    });

    it("escapes dots, backslashes and non-printable bytes in labels (RFC 4343 §2.1)", () => {
        const raw = Buffer.from(["000101000001000000000000", "04612e5c20", "00", "00010001"].join(""), "hex");
        const [question] = decodeDnsMessage(raw).questions;
        expect(question?.name).toBe("a\\.\\\\\\032");
        expect(encodeDnsName(question?.name ?? "").toString("hex")).toBe("04612e5c2000");
    });

    it("encodes names with and without a trailing dot and the root", () => {
        expect(encodeDnsName("naxclow.com.").toString("hex")).toBe("076e6178636c6f7703636f6d00");
        expect(encodeDnsName("naxclow.com").toString("hex")).toBe("076e6178636c6f7703636f6d00");
        expect(encodeDnsName("").toString("hex")).toBe("00");
        expect(encodeDnsName(".").toString("hex")).toBe("00");
        expect(encodeDnsName("a\\.").toString("hex")).toBe("02612e00"); // an escaped dot is not the root marker
        expect(encodeDnsName("\\065b").toString("hex")).toBe("02416200");
    });

    it.each([
        {name: "a..b", text: "label of 0 bytes"},
        {name: "x".repeat(64), text: "label of 64 bytes"},
        {name: Array.from({length: 5}, () => "y".repeat(60)).join("."), text: "on the wire"},
        {name: "bad\\", text: "bad escape"},
        {name: "snow☃.com", text: "outside latin1"},
    ])("refuses to encode $name (RangeError)", ({name, text}) => {
        expect(() => encodeDnsName(name)).toThrow(RangeError);
        expect(() => encodeDnsName(name)).toThrow(text);
    });

    it("refuses out-of-range fields when encoding", () => {
        const base = ANSWER.message;
        expect(() => encodeDnsMessage({...base, id: 0x1_0000})).toThrow(RangeError);
        expect(() => encodeDnsMessage({...base, flags: {...base.flags, rcode: 16}})).toThrow(RangeError);
        expect(() =>
            encodeDnsMessage({
                ...base,
                answers: [{...(base.answers[0] as DnsMessage["answers"][0]), data: Buffer.alloc(0x1_0000)}],
            }),
        ).toThrow(RangeError);
    });

    it("rewrites the id and leaves the rest unchanged", () => {
        const raw = Buffer.from(DIG_QUERY.hex, "hex");
        const copy = withDnsId(raw, 0x1234);
        expect(copy.subarray(0, 2).toString("hex")).toBe("1234");
        expect(copy.subarray(2).equals(raw.subarray(2))).toBe(true);
        expect(raw.subarray(0, 2).toString("hex")).toBe("b1c2");
        expect(thrown(() => withDnsId(Buffer.alloc(3), 1))).toBeInstanceOf(ProtocolError);
    });

    it("converts IPv4 addresses", () => {
        expect(encodeIpv4("192.168.169.1").toString("hex")).toBe("c0a8a901");
        expect(decodeIpv4(Buffer.from("0a000001", "hex"))).toBe("10.0.0.1");
        for (const bad of ["1.2.3", "1.2.3.256", "01.2.3.4", "a.b.c.d", "::1"]) {
            expect(() => encodeIpv4(bad)).toThrow(RangeError);
        }
        expect(thrown(() => decodeIpv4(Buffer.alloc(16)))).toBeInstanceOf(ProtocolError);
    });

    it("lower-cases ASCII only for comparisons", () => {
        expect(canonicalDnsName("V720.NaxClow.COM")).toBe("v720.naxclow.com");
        expect(canonicalDnsName("\\065b")).toBe("\\065b");
    });
});
