import {describe, expect, it} from "vitest";
import {pickAnswerAddress, unmapIpv4} from "../../../src/dns/answerAddress.js";
import {parseUpstream, parseUpstreams} from "../../../src/dns/upstream.js";

describe("parseUpstream", () => {
    it.each([
        ["1.1.1.1", {address: "1.1.1.1", port: 53, family: 4}],
        [" 192.168.1.1:5353 ", {address: "192.168.1.1", port: 5353, family: 4}],
        ["2606:4700::1111", {address: "2606:4700::1111", port: 53, family: 6}],
        ["[2606:4700::1111]:853", {address: "2606:4700::1111", port: 853, family: 6}],
        ["[::1]", {address: "::1", port: 53, family: 6}],
    ])("%s", (text, expected) => {
        expect(parseUpstream(text)).toStrictEqual(expected);
    });

    it.each(["dns.google", "1.1.1.1:0", "1.1.1.1:70000", "[1.1.1.1]x", "", "1.1.1"])("rejects %j", (text) => {
        expect(() => parseUpstream(text)).toThrow(RangeError);
    });

    it("takes one entry or a list, not an empty list", () => {
        expect(parseUpstreams("9.9.9.9")).toHaveLength(1);
        expect(parseUpstreams(["9.9.9.9", "1.1.1.1:53"]).map((server) => server.address)).toStrictEqual([
            "9.9.9.9",
            "1.1.1.1",
        ]);
        expect(() => parseUpstreams([])).toThrow(/at least one/);
    });
});

describe("pickAnswerAddress", () => {
    const interfaces = [
        {address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", internal: true},
        {address: "fe80::1", netmask: "ffff:ffff:ffff:ffff::", family: "IPv6", internal: false},
        {address: "192.168.1.10", netmask: "255.255.255.0", family: "IPv4", internal: false},
        {address: "10.42.0.1", netmask: "255.255.0.0", family: 4, internal: false},
    ];

    it("picks the interface on the client's subnet", () => {
        expect(pickAnswerAddress("192.168.1.77", interfaces)).toBe("192.168.1.10");
        expect(pickAnswerAddress("10.42.9.9", interfaces)).toBe("10.42.0.1");
        expect(pickAnswerAddress("::ffff:10.42.0.22", interfaces)).toBe("10.42.0.1");
        expect(pickAnswerAddress("127.0.0.1", interfaces)).toBe("127.0.0.1");
    });

    it("falls back to the first external IPv4 address, or nothing", () => {
        expect(pickAnswerAddress("172.16.0.5", interfaces)).toBe("192.168.1.10");
        expect(pickAnswerAddress("2001:db8::5", interfaces)).toBe("192.168.1.10");
        expect(pickAnswerAddress("172.16.0.5", interfaces.slice(0, 2))).toBeUndefined();
    });

    it("unmaps IPv4-mapped IPv6 addresses only", () => {
        expect(unmapIpv4("::ffff:1.2.3.4")).toBe("1.2.3.4");
        expect(unmapIpv4("::ffff:abcd")).toBe("::ffff:abcd");
    });
});
