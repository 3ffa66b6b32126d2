/** The web UI's controls and commands take Home Assistant's path: its entity table, parser and commander. */
import {describe, expect, it} from "vitest";
import {controlsFor, entityControlSource} from "../../../src/app/webWiring.js";
import {
    type CameraCommand,
    type CameraCommander,
    type CameraState,
    type CameraStateSource,
    emptyCameraState,
} from "../../../src/model/cameraState.js";

const ID = "0800c00128F8";

function source(state: CameraState, result: {ok: true} | {ok: false; reason: string} = {ok: true}) {
    const sent: CameraCommand[] = [];
    const states: CameraStateSource = {
        list: () => [state],
        get: (id) => (id === state.id ? state : undefined),
        onChange: () => () => undefined,
    };
    const commander: CameraCommander = {
        send: (_id, command) => {
            sent.push(command);
            return Promise.resolve(result);
        },
    };
    return {controls: entityControlSource({states, commander}), sent};
}

const MQTT_CAMERA: CameraState = {...emptyCameraState(ID), online: true, mqttOnline: true, irLed: 1, statusLed: false};

describe("controlsFor", () => {
    it("lists the commandable entities HA has for this camera, with HA's values", () => {
        const controls = controlsFor(MQTT_CAMERA);
        const entities = controls.map((control) => control.entity);
        expect(entities).toEqual(
            expect.arrayContaining(["ir_led", "status_led", "sd_recording", "motion_alert", "record_on_motion"]),
        );
        expect(entities).toEqual(expect.arrayContaining(["reboot", "wifi_scan", "format_sd"]));
        // needs a TCP session / a reported mirrorFlip / moveGrade: not offered, as in HA
        expect(entities).not.toContain("flip");
        expect(entities).not.toContain("live_stream");
        expect(entities).not.toContain("motion_sensitivity");
        expect(entities).not.toContain("take_snapshot");
        expect(controls.find((control) => control.entity === "ir_led")).toStrictEqual({
            entity: "ir_led",
            kind: "switch",
            name: "Night mode (IR)",
            value: "ON",
            category: null,
        });
        expect(controls.find((control) => control.entity === "status_led")?.value).toBe("OFF");
    });

    it("offers flip and the sensitivity once the camera reported them over TCP", () => {
        const controls = controlsFor({...MQTT_CAMERA, tcpKnown: true, flip: 4, motionSensitivity: 2});
        expect(controls.find((control) => control.entity === "flip")).toMatchObject({
            kind: "select",
            value: "flipped",
            options: ["normal", "mode 1", "mode 2", "mode 3", "flipped"],
        });
        expect(controls.find((control) => control.entity === "motion_sensitivity")).toMatchObject({
            kind: "number",
            value: 2,
            min: 0,
            max: 5,
        });
    });
});

describe("entityControlSource", () => {
    it("parses the payload like an HA command and hands the domain command to the commander", async () => {
        const {controls, sent} = source(MQTT_CAMERA);
        expect(await controls.run(ID, "ir_led", "OFF")).toStrictEqual({ok: true});
        expect(await controls.run(ID, "reboot", "PRESS")).toStrictEqual({ok: true});
        expect(sent).toStrictEqual([{kind: "switch", setting: "irLed", on: false}, {kind: "reboot"}]);
    });

    it("refuses what HA would refuse, without sending anything", async () => {
        const {controls, sent} = source(MQTT_CAMERA);
        expect(await controls.run(ID, "ir_led", "on")).toMatchObject({ok: false, error: "invalid"});
        expect(await controls.run(ID, "reboot", "ON")).toMatchObject({ok: false, error: "invalid"});
        expect(await controls.run(ID, "flip", "flipped")).toMatchObject({ok: false, error: "unsupported"});
        expect(await controls.run(ID, "battery", "1")).toMatchObject({ok: false, error: "unsupported"});
        expect(await controls.run(ID, "take_snapshot", "PRESS")).toMatchObject({ok: false, error: "unsupported"});
        expect(await controls.run("0800c0FFFFFF", "ir_led", "ON")).toMatchObject({ok: false, error: "unknown-camera"});
        expect(sent).toStrictEqual([]);
    });

    it("reports the commander's failure", async () => {
        const {controls} = source(MQTT_CAMERA, {ok: false, reason: "camera offline"});
        expect(await controls.run(ID, "ir_led", "ON")).toStrictEqual({
            ok: false,
            error: "failed",
            reason: "camera offline",
        });
    });
});
