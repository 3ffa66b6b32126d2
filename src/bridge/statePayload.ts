/**
 * The `<base>/<id>/state` JSON every camera entity reads with a `value_template`, and the bridge
 * info JSON. Pure. Unknown values are JSON null, which HA's templates render as `None` = unknown.
 * Switch values are `ON`/`OFF` (decisions.md 8).
 */
import type {CameraState} from "../model/cameraState.js";
import {FLIP_OPTIONS} from "./discovery.js";

export type StateValue = string | number | boolean | null | readonly unknown[] | Readonly<Record<string, unknown>>;
export type StatePayload = Readonly<Record<string, StateValue>>;

export const onOff = (value: boolean | null): "ON" | "OFF" | null => {
    if (value === null) {
        return null;
    }
    return value ? "ON" : "OFF";
};

/** `IrLed` 0/1 → OFF/ON; 2 (probably "auto", [GUESS]) and unknown → null. */
export function irLedState(value: number | null): "ON" | "OFF" | null {
    if (value === 1) {
        return "ON";
    }
    return value === 0 ? "OFF" : null;
}

export function flipOption(value: number | null): string | null {
    if (value === null || !Number.isInteger(value)) {
        return null;
    }
    return FLIP_OPTIONS[value] ?? null;
}

/** The flip value of a select option, or undefined for a string that is not an option. */
export function flipValue(option: string): number | undefined {
    const index = (FLIP_OPTIONS as readonly string[]).indexOf(option);
    return index < 0 ? undefined : index;
}

export function buildStatePayload(
    state: CameraState,
    overrides: Readonly<Record<string, StateValue>> = {},
): StatePayload {
    const payload: Record<string, StateValue> = {
        online: state.online,
        tcp_online: state.tcpOnline,
        mqtt_online: state.mqttOnline,
        streaming: state.streaming,
        live_stream: onOff(state.liveStreamHeld),
        motion: onOff(state.motion),
        battery: state.batteryPercent,
        ir_led: irLedState(state.irLed),
        ir_led_raw: state.irLed,
        status_led: onOff(state.statusLed),
        sd_recording: onOff(state.sdRecording),
        motion_alert: onOff(state.motionAlert),
        record_on_motion: onOff(state.recordOnMotion),
        flip: flipOption(state.flip),
        motion_sensitivity: state.motionSensitivity,
        pir_sensitivity: state.pirSensitivity,
        pir_alert: state.pirAlert,
        sd_state: state.sdState,
        sd_free: state.sdFreeMb,
        sd_capacity: state.sdTotalMb,
        sd_capacity_raw: state.sdCapacity,
        wifi_name: state.wifiName,
        firmware: state.firmware,
        family: state.family,
        model: state.model,
        // "on-demand": idles on MQTT without TCP and is woken when a viewer asks (issue 6 item 3)
        wake: state.wakesOnDemand ? "on-demand" : null,
        err_status: state.errStatus,
        wifi_networks: state.wifiScan === null ? null : state.wifiScan.length,
        wifi_scan: state.wifiScan === null ? null : state.wifiScan.map((n) => ({ssid: n.ssid, rssi: n.rssi})),
        last_seen: isoOrNull(state.lastSeenAtMs),
        last_motion: isoOrNull(state.lastMotionAtMs),
        urls: state.urls === null ? {} : {...state.urls},
    };
    for (const [key, value] of Object.entries(overrides)) {
        payload[key] = value;
    }
    return payload;
}

export interface BridgeInfo {
    readonly version: string;
    readonly camerasOnline: number;
    readonly camerasKnown: number;
}

export const buildBridgeInfoPayload = (info: BridgeInfo): StatePayload => ({
    version: info.version,
    cameras_online: info.camerasOnline,
    cameras_known: info.camerasKnown,
});

function isoOrNull(ms: number | null): string | null {
    return ms === null ? null : new Date(ms).toISOString();
}
