import {describe, expect, it} from "vitest";
import {parseSimulateArgs, SimulateUsageError, Simulator, simCameraId} from "../../../src/simulator/simulator.js";

describe("simulator ids", () => {
    it("are 0800c0 plus six upper-case hex digits of the index, unique", () => {
        expect(simCameraId(1)).toBe("0800c0000001");
        expect(simCameraId(26)).toBe("0800c000001A");
        expect(simCameraId(0xff_ffff)).toBe("0800c0FFFFFF");
        expect(() => simCameraId(0x100_0000)).toThrow(RangeError);
        const simulator = new Simulator({cameras: 150, serverHost: "127.0.0.1", tcpPort: 1, width: 64, height: 48});
        const ids = simulator.cameras.map((camera) => camera.id);
        expect(new Set(ids).size).toBe(150);
        expect(ids[0]).toBe("0800c0000001");
        expect(ids.every((id) => id.length === 12)).toBe(true);
        expect(simulator.stats()).toMatchObject({cameras: 150, registered: 0, framesSent: 0});
    });
});

describe("parseSimulateArgs", () => {
    it("parses the documented flags", () => {
        expect(
            parseSimulateArgs([
                "--cameras",
                "20",
                "--server",
                "192.168.1.5",
                "--http-port",
                "8080",
                "--tcp-port",
                "6123",
                "--mqtt-port",
                "1883",
                "--fps",
                "10",
                "--frame-bytes",
                "25775",
                "--loss",
                "0.05",
                "--reorder",
                "0.1",
                "--never-login",
                "--no-audio",
                "--seed",
                "9",
            ]),
        ).toStrictEqual({
            cameras: 20,
            serverHost: "192.168.1.5",
            audio: false,
            httpPort: 8080,
            tcpPort: 6123,
            fps: 10,
            frameBytes: 25_775,
            seed: 9,
            faults: {fragmentLoss: 0.05, reorder: 0.1, neverLogin: true, seed: 9},
        });
    });

    it("defaults to one camera with audio", () => {
        expect(parseSimulateArgs(["--server", "h", "--tcp-port", "7000"])).toStrictEqual({
            cameras: 1,
            serverHost: "h",
            audio: true,
            tcpPort: 7000,
        });
    });

    it.each([
        [[], "--server"],
        [["--server", "h"], "--http-port"],
        [["--server", "h", "--tcp-port", "70000"], "port"],
        [["--server", "h", "--tcp-port", "1", "--loss", "2"], "probability"],
        [["--server", "h", "--tcp-port", "1", "--cameras", "0"], "positive"],
        [["--server", "h", "--tcp-port", "1", "--bogus"], "bogus"],
    ])("rejects %j", (argv, message) => {
        expect(() => parseSimulateArgs(argv)).toThrow(SimulateUsageError);
        expect(() => parseSimulateArgs(argv)).toThrow(message);
    });
});
