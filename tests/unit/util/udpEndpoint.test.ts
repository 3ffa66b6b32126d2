import {describe, expect, it} from "vitest";
import {isUsableEndpoint} from "../../../src/util/udpEndpoint.js";

describe("isUsableEndpoint", () => {
    it("accepts an IP literal with a port in 1..65535", () => {
        expect(isUsableEndpoint("192.168.1.50", 43_258)).toBe(true);
        expect(isUsableEndpoint("::1", 1)).toBe(true);
        expect(isUsableEndpoint("10.0.0.1", 65_535)).toBe(true);
    });

    it("refuses the 'none' addresses of code 11/12, names, and ports out of range", () => {
        expect(isUsableEndpoint("0.0.0.0", 6123)).toBe(false);
        expect(isUsableEndpoint("255.255.255.255", 6123)).toBe(false);
        expect(isUsableEndpoint("v720.naxclow.com", 6123)).toBe(false);
        expect(isUsableEndpoint("10.0.0.1", 0)).toBe(false);
        expect(isUsableEndpoint("10.0.0.1", 65_536)).toBe(false);
        expect(isUsableEndpoint("10.0.0.1", 80.5)).toBe(false);
    });
});
