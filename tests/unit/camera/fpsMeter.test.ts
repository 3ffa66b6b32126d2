import {describe, expect, it} from "vitest";
import {FpsMeter} from "../../../src/camera/fpsMeter.js";

describe("FpsMeter", () => {
    it("measures 10 fps over the 3 s window", () => {
        const meter = new FpsMeter();
        for (let index = 0; index < 100; index++) {
            meter.record(index * 100);
        }
        expect(meter.fps(9950)).toBe(10);
    });

    it("does not underestimate right after the stream starts", () => {
        const meter = new FpsMeter();
        for (let index = 0; index < 15; index++) {
            meter.record(1000 + index * 100);
        }
        expect(meter.fps(2500)).toBe(10);
    });

    it("falls to 0 when frames stop for a whole window", () => {
        const meter = new FpsMeter();
        for (let index = 0; index < 30; index++) {
            meter.record(index * 100);
        }
        expect(meter.fps(3000)).toBeGreaterThan(9);
        expect(meter.fps(6000)).toBe(0);
    });
});
