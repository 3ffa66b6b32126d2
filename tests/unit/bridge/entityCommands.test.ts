import {describe, expect, it} from "vitest";
import {parseBridgeCommand, parseCameraCommand} from "../../../src/bridge/entityCommands.js";

describe("parseCameraCommand", () => {
    it.each([
        ["ir_led", "irLed"],
        ["status_led", "statusLed"],
        ["sd_recording", "sdRecording"],
        ["motion_alert", "motionAlert"],
        ["record_on_motion", "recordOnMotion"],
    ] as const)("maps switch %s to %s", (entity, setting) => {
        expect(parseCameraCommand(entity, "ON")).toStrictEqual({
            kind: "command",
            command: {kind: "switch", setting, on: true},
            optimistic: {stateKey: entity, value: "ON"},
        });
        expect(parseCameraCommand(entity, "OFF")).toMatchObject({command: {on: false}, optimistic: {value: "OFF"}});
    });

    it("maps the live stream switch", () => {
        expect(parseCameraCommand("live_stream", "ON")).toStrictEqual({
            kind: "command",
            command: {kind: "liveStream", on: true},
            optimistic: {stateKey: "live_stream", value: "ON"},
        });
    });

    it("maps numbers in 0..5 and the flip options", () => {
        expect(parseCameraCommand("motion_sensitivity", "3")).toStrictEqual({
            kind: "command",
            command: {kind: "number", setting: "motionSensitivity", value: 3},
            optimistic: {stateKey: "motion_sensitivity", value: 3},
        });
        expect(parseCameraCommand("pir_sensitivity", "5.0")).toMatchObject({command: {value: 5}});
        expect(parseCameraCommand("flip", "flipped")).toStrictEqual({
            kind: "command",
            command: {kind: "flip", value: 4},
            optimistic: {stateKey: "flip", value: "flipped"},
        });
    });

    it("maps the buttons", () => {
        expect(parseCameraCommand("reboot", "PRESS")).toStrictEqual({
            kind: "command",
            command: {kind: "reboot"},
            optimistic: null,
        });
        expect(parseCameraCommand("wifi_scan", "PRESS")).toMatchObject({command: {kind: "wifiScan"}});
        expect(parseCameraCommand("format_sd", "PRESS")).toMatchObject({command: {kind: "formatSd"}});
        expect(parseCameraCommand("take_snapshot", "PRESS")).toStrictEqual({kind: "snapshot"});
    });

    it.each([
        ["ir_led", "on"],
        ["ir_led", "1"],
        ["motion_sensitivity", "6"],
        ["motion_sensitivity", "-1"],
        ["motion_sensitivity", "2.5"],
        ["motion_sensitivity", ""],
        ["pir_sensitivity", "abc"],
        ["flip", "upside down"],
        ["reboot", "NOW"],
        ["take_snapshot", ""],
        ["unknown", "ON"],
    ])("rejects %s = %j", (entity, payload) => {
        expect(parseCameraCommand(entity, payload).kind).toBe("invalid");
    });
});

describe("parseBridgeCommand", () => {
    it("accepts only the re-publish button", () => {
        expect(parseBridgeCommand("republish", "PRESS")).toStrictEqual({kind: "republish"});
        expect(parseBridgeCommand("republish", "x").kind).toBe("invalid");
        expect(parseBridgeCommand("restart", "PRESS").kind).toBe("invalid");
    });
});
