/**
 * Home Assistant command payloads (`<base>/<id>/<entity>/set`) → domain commands. Pure. Anything
 * that is not exactly what the discovery promised (ON/OFF, one of the options, an integer in range,
 * PRESS) is `invalid` and never forwarded (issue 3 item 5).
 */
import type {CameraCommand, NumericSetting, SwitchableSetting} from "../model/cameraState.js";
import {GRADE_MAX, GRADE_MIN} from "./discovery.js";
import {flipValue, type StateValue} from "./statePayload.js";

export type EntityAction =
    | {
          readonly kind: "command";
          readonly command: CameraCommand;
          /** What the entity shows until the camera confirms (or the confirm timeout reverts it). */
          readonly optimistic: {readonly stateKey: string; readonly value: StateValue} | null;
      }
    | {readonly kind: "snapshot"}
    | {readonly kind: "republish"}
    | {readonly kind: "invalid"; readonly reason: string};

const SWITCHES: Readonly<Record<string, SwitchableSetting>> = {
    ir_led: "irLed",
    status_led: "statusLed",
    sd_recording: "sdRecording",
    motion_alert: "motionAlert",
    record_on_motion: "recordOnMotion",
};

const NUMBERS: Readonly<Record<string, NumericSetting>> = {
    motion_sensitivity: "motionSensitivity",
    pir_sensitivity: "pirSensitivity",
};

export const BUTTON_PAYLOAD = "PRESS";

export function parseCameraCommand(entity: string, payload: string): EntityAction {
    const setting = SWITCHES[entity];
    if (setting !== undefined || entity === "live_stream") {
        const on = parseSwitch(payload);
        if (on === undefined) {
            return invalid(`${entity} expects ON or OFF`);
        }
        const command: CameraCommand = setting === undefined ? {kind: "liveStream", on} : {kind: "switch", setting, on};
        return {kind: "command", command, optimistic: {stateKey: entity, value: on ? "ON" : "OFF"}};
    }
    const numeric = NUMBERS[entity];
    if (numeric !== undefined) {
        const value = parseGrade(payload);
        if (value === undefined) {
            return invalid(`${entity} expects an integer ${GRADE_MIN}..${GRADE_MAX}`);
        }
        return {
            kind: "command",
            command: {kind: "number", setting: numeric, value},
            optimistic: {stateKey: entity, value},
        };
    }
    switch (entity) {
        case "flip": {
            const value = flipValue(payload);
            if (value === undefined) {
                return invalid("flip expects one of the select options");
            }
            return {kind: "command", command: {kind: "flip", value}, optimistic: {stateKey: "flip", value: payload}};
        }
        case "reboot":
            return press(payload, {kind: "reboot"});
        case "wifi_scan":
            return press(payload, {kind: "wifiScan"});
        case "format_sd":
            return press(payload, {kind: "formatSd"});
        case "take_snapshot":
            return payload === BUTTON_PAYLOAD ? {kind: "snapshot"} : invalid(`take_snapshot expects ${BUTTON_PAYLOAD}`);
        default:
            return invalid(`unknown entity ${entity}`);
    }
}

export function parseBridgeCommand(entity: string, payload: string): EntityAction {
    if (entity !== "republish") {
        return invalid(`unknown bridge entity ${entity}`);
    }
    return payload === BUTTON_PAYLOAD ? {kind: "republish"} : invalid(`republish expects ${BUTTON_PAYLOAD}`);
}

function parseSwitch(payload: string): boolean | undefined {
    if (payload === "ON") {
        return true;
    }
    return payload === "OFF" ? false : undefined;
}

/** HA sends numbers as text, e.g. `3` or `3.0`. */
function parseGrade(payload: string): number | undefined {
    if (!/^\d{1,3}(\.0+)?$/.test(payload.trim())) {
        return undefined;
    }
    const value = Number.parseInt(payload.trim(), 10);
    return value >= GRADE_MIN && value <= GRADE_MAX ? value : undefined;
}

function press(payload: string, command: CameraCommand): EntityAction {
    if (payload !== BUTTON_PAYLOAD) {
        return invalid(`button expects ${BUTTON_PAYLOAD}`);
    }
    return {kind: "command", command, optimistic: null};
}

const invalid = (reason: string): EntityAction => ({kind: "invalid", reason});
