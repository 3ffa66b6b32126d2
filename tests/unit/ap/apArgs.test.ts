import {describe, expect, it} from "vitest";
import {ApError} from "../../../src/ap/apClient.js";
import {describeApFailure, parseCameraEndpoint, parseSdArgs, parseWifiArgs} from "../../../src/ap/apCommands.js";
import {formatSdDate, formatSdFileKey, parseSdDate, parseSdFileKey} from "../../../src/ap/sdFileKey.js";

describe("wifi arguments", () => {
    it("defaults to the camera at 192.168.169.1:6123 and a 6 s timeout", () => {
        expect(parseWifiArgs(["--ssid", "Home", "--password", "12345678"])).toStrictEqual({
            ssid: "Home",
            password: "12345678",
            reboot: true,
            camera: {host: "192.168.169.1", port: 6123},
            timeoutMs: 6000,
        });
    });

    it("counts password characters, not bytes", () => {
        expect(parseWifiArgs(["--ssid", "x", "--password", "ääääääää"])).toMatchObject({password: "ääääääää"});
        expect(() => parseWifiArgs(["--ssid", "x", "--password", "🔑🔑🔑🔑🔑🔑🔑"])).toThrow("this one has 7");
    });

    it("rejects an SSID over 32 bytes and stray arguments", () => {
        expect(() => parseWifiArgs(["--ssid", "é".repeat(17), "--password", "12345678"])).toThrow("32 bytes");
        expect(() => parseWifiArgs(["--ssid", "x", "--password", "12345678", "extra"])).toThrow(
            'unexpected argument "extra"',
        );
    });

    it("returns help", () => {
        expect(parseWifiArgs(["-h"])).toBe("help");
    });
});

describe("sd arguments", () => {
    it("parses list and download", () => {
        expect(parseSdArgs(["list", "--date", "20230124", "--json", "--timeout", "1.5"])).toStrictEqual({
            action: "list",
            camera: {host: "192.168.169.1", port: 6123},
            timeoutMs: 1500,
            date: 20230124,
            json: true,
        });
        expect(parseSdArgs(["download", "20230124-02-05", "-o", "a.avi", "--camera", "10.0.0.9"])).toStrictEqual({
            action: "download",
            camera: {host: "10.0.0.9", port: 6123},
            timeoutMs: 6000,
            key: {date: 20230124, hours: 2, minute: 5},
            output: "a.avi",
        });
    });

    it.each([
        [["list", "extra"], "unexpected argument"],
        [["list", "-o", "x"], "belongs to sd download"],
        [["download", "20230124-02-05", "-o", "x", "--json"], "belong to sd list"],
        [["download", "20230124-02-05", "x", "-o", "y"], 'unexpected argument "x"'],
        [["download"], "needs the recording"],
        [[], "missing action"],
        [["list", "--timeout", "0"], "--timeout expects seconds"],
        [["list", "--timeout", "601"], "--timeout expects seconds"],
        [["list", "--timeout", "abc"], "--timeout expects seconds"],
    ])("rejects %j", (args, text) => {
        expect(() => parseSdArgs(args)).toThrow(text);
    });
});

describe("camera endpoint", () => {
    it.each([
        ["192.168.169.1", {host: "192.168.169.1", port: 6123}],
        ["127.0.0.1:40000", {host: "127.0.0.1", port: 40000}],
        ["camera.local:6123", {host: "camera.local", port: 6123}],
        ["[fe80::1]:6123", {host: "fe80::1", port: 6123}],
        ["::1", {host: "::1", port: 6123}],
    ])("%s", (text, expected) => {
        expect(parseCameraEndpoint(text)).toStrictEqual(expected);
    });

    it.each(["", "host:0", "host:port", "a b", "[::1]:99999"])("rejects %j", (text) => {
        expect(() => parseCameraEndpoint(text)).toThrow("--camera expects HOST[:PORT]");
    });
});

describe("recording names", () => {
    it("round-trips YYYYMMDD-HH-MM", () => {
        const key = parseSdFileKey("20230124-02-05");
        expect(key).toStrictEqual({date: 20230124, hours: 2, minute: 5});
        expect(formatSdFileKey(key)).toBe("20230124-02-05");
        expect(formatSdDate(20230124)).toBe("2023-01-24");
    });

    it.each(["20230124-2-5", "20230124-24-00", "20230124-00-60", "20231324-00-00", "2023-01-24-02-05", "x"])(
        "rejects %s",
        (text) => {
            expect(() => parseSdFileKey(text)).toThrow(RangeError);
        },
    );

    it("parses --date in both spellings", () => {
        expect(parseSdDate("2024-02-29")).toBe(20240229);
        expect(parseSdDate("20240229")).toBe(20240229);
        expect(() => parseSdDate("2024-2-29")).toThrow(RangeError);
    });
});

describe("failure messages", () => {
    const camera = {host: "192.168.169.1", port: 6123};

    it("tells the user to join the camera's Wi-Fi when the connect times out", () => {
        const error = new ApError("connect", "timeout", "no answer from 192.168.169.1:6123 within 6 s (TCP connect)");
        expect(describeApFailure(error, camera)).toContain("connected to the camera's own Wi-Fi");
    });

    it("names the step that timed out after connecting", () => {
        const error = new ApError("login", "timeout", "the camera did not answer the login (code 501) within 6 s");
        expect(describeApFailure(error, camera)).toBe(
            "the camera at 192.168.169.1:6123 accepted the connection but did not answer the login (code 501) within 6 s. " +
                "The camera serves one client at a time: close the V720 app, wait a few seconds and try again; " +
                "if it keeps failing, unplug and replug the camera.",
        );
    });

    it.each([
        ["closed", "while waiting for the SD card check"],
        ["refused", "nothing listens on port 6123"],
        ["unreachable", "own Wi-Fi"],
        ["missing", "v720-bridge sd list"],
        ["protocol", "msg"],
    ] as const)("explains %s", (failure, text) => {
        expect(describeApFailure(new ApError("sdStatus", failure, "msg"), camera)).toContain(text);
    });
});
