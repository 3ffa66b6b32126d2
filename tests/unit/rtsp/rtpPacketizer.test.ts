import {describe, expect, it} from "vitest";
import {
    buildRtpHeader,
    buildSenderReport,
    isIdrAccessUnit,
    packetizeAac,
    packetizeH264,
    packetizePcma,
} from "../../../src/rtsp/rtpPacketizer.js";

const SPS = Buffer.from("6742c01e", "hex");
const PPS = Buffer.from("68ce0fc8", "hex");

describe("buildRtpHeader (RFC 3550 §5.1)", () => {
    it("encodes version 2, marker, payload type, sequence, timestamp and SSRC", () => {
        expect(buildRtpHeader(96, 0x1234, 0xdeadbeef, 0x01020304, true).toString("hex")).toBe(
            "80e01234deadbeef01020304",
        );
        expect(buildRtpHeader(8, 0x1_0001, 2 ** 32 + 5, 7, false).toString("hex")).toBe(
            "80080001" + "00000005" + "00000007",
        );
    });
});

describe("packetizeH264 (RFC 6184)", () => {
    it("sends small NAL units as single NAL unit packets, marker on the last", () => {
        const a = Buffer.from("41aabb", "hex");
        const b = Buffer.from("41ccdd", "hex");
        expect(packetizeH264([a, b])).toStrictEqual([
            {payload: a, marker: false, timestampOffset: 0},
            {payload: b, marker: true, timestampOffset: 0},
        ]);
    });

    it("puts SPS and PPS in front of an IDR access unit that lacks them", () => {
        const idr = Buffer.from("6588", "hex");
        expect(packetizeH264([idr], [SPS, PPS]).map((p) => p.payload)).toStrictEqual([SPS, PPS, idr]);
        expect(packetizeH264([SPS, PPS, idr], [SPS, PPS]).map((p) => p.payload)).toStrictEqual([SPS, PPS, idr]);
        expect(packetizeH264([Buffer.from("4188", "hex")], [SPS, PPS])).toHaveLength(1);
    });

    it("fragments a large NAL unit with FU-A: indicator keeps F/NRI, header has S/E and the type", () => {
        // NRI 3, type 5 (IDR): header 0x65; 1 + 2500 bytes of body
        const body = Buffer.alloc(2500);
        for (let i = 0; i < body.length; i++) {
            body[i] = i & 0xff;
        }
        const nal = Buffer.concat([Buffer.from([0x65]), body]);
        const packets = packetizeH264([nal], [], 1000);
        expect(packets).toHaveLength(3); // 998 + 998 + 504 bytes of body
        expect(packets.map((p) => p.payload.subarray(0, 2).toString("hex"))).toEqual(["7c85", "7c05", "7c45"]);
        expect(packets.map((p) => p.marker)).toEqual([false, false, true]);
        expect(packets.every((p) => p.payload.length <= 1000)).toBe(true);
        expect(Buffer.concat(packets.map((p) => p.payload.subarray(2))).equals(body)).toBe(true);
    });

    it("recognises IDR access units", () => {
        expect(isIdrAccessUnit([Buffer.from([0x06]), Buffer.from([0x65])])).toBe(true);
        expect(isIdrAccessUnit([Buffer.from([0x41])])).toBe(false);
    });
});

describe("packetizeAac (RFC 3640 AAC-hbr)", () => {
    it("prefixes one AU header: 16-bit header length, 13-bit size, 3-bit index", () => {
        const frame = Buffer.alloc(300, 0xaa);
        const [packet] = packetizeAac(frame);
        expect(packet?.payload.subarray(0, 4).toString("hex")).toBe("00100960"); // 300 << 3 = 0x0960
        expect(packet?.payload.length).toBe(304);
        expect(packet?.marker).toBe(true);
    });
});

describe("packetizePcma", () => {
    it("splits A-law into packets with sample offsets as timestamp offsets", () => {
        const packets = packetizePcma(Buffer.alloc(800, 0xd5), 320);
        expect(packets.map((p) => [p.payload.length, p.timestampOffset])).toEqual([
            [320, 0],
            [320, 320],
            [160, 640],
        ]);
    });
});

describe("buildSenderReport (RFC 3550 §6.4.1)", () => {
    it("maps wall clock to NTP and carries counts, followed by an SDES CNAME", () => {
        const report = buildSenderReport({
            ssrc: 0x11223344,
            wallClockMs: 1_700_000_000_500,
            rtpTimestamp: 90_000,
            packetCount: 10,
            octetCount: 12_345,
            cname: "cam",
        });
        expect(report.subarray(0, 4).toString("hex")).toBe("80c80006");
        expect(report.readUInt32BE(4)).toBe(0x11223344);
        expect(report.readUInt32BE(8)).toBe(1_700_000_000 + 2_208_988_800);
        expect(report.readUInt32BE(12)).toBe(2 ** 31); // .5 s
        expect(report.readUInt32BE(16)).toBe(90_000);
        expect(report.readUInt32BE(20)).toBe(10);
        expect(report.readUInt32BE(24)).toBe(12_345);
        const sdes = report.subarray(28);
        expect(sdes[1]).toBe(202);
        expect(sdes.length % 4).toBe(0);
        expect(sdes.readUInt16BE(2)).toBe(sdes.length / 4 - 1);
        expect(sdes.subarray(10, 13).toString()).toBe("cam");
    });
});
