/**
 * One typed state per camera (issue 3 item 2), joined from MQTT Status/Info, the TCP session and
 * its code 4 base info, plus the interfaces the Home Assistant bridge uses to read state, send
 * commands and get snapshots. app/ implements them; bridge/ only sees these types.
 */
import type {CameraFamily, CameraId} from "./camera.js";
import type {JpegFrame} from "./media.js";

export interface WifiNetworkState {
    readonly ssid: string;
    readonly rssi: number | null;
}

/**
 * Partial update from any source; a key is present only when the source reported it. The field
 * names match protocol/mqttPayloads.ts `CameraFields`, so a parsed report can be passed as is.
 */
export interface CameraReport {
    readonly batteryPercent?: number;
    readonly irLed?: number;
    readonly statusLed?: boolean;
    readonly sdRecording?: boolean;
    readonly recordOnMotion?: boolean;
    readonly motionAlert?: boolean;
    readonly motionSensitivity?: number;
    readonly pirAlert?: number;
    readonly pirSensitivity?: number;
    readonly flip?: number;
    readonly sdState?: number;
    readonly sdCapacity?: number;
    readonly sdFreeMb?: number | null;
    readonly sdTotalMb?: number | null;
    readonly wifiName?: string;
    readonly firmware?: string;
    readonly wifiScan?: {readonly networks: readonly WifiNetworkState[]};
    /** Info `errStatus` (new-firmware-notes.md §3.1): 1 too many viewers, 2 could not connect [GUESS]. */
    readonly errStatus?: number;
}

/** Stream URLs published as camera attributes (decisions.md 20 names). */
export interface CameraUrls {
    readonly mjpeg?: string;
    readonly snapshot?: string;
    readonly audio?: string;
    readonly rtsp?: string;
    readonly hls?: string;
}

export interface CameraState {
    readonly id: CameraId;
    /** Display name (cameras.overrides.<id>.name) or null for the default. */
    readonly name: string | null;
    /** Suggested area (cameras.overrides.<id>.area) or null. */
    readonly area: string | null;
    /** By id prefix or cameras.overrides.<id>.family (new-firmware-notes.md §2). */
    readonly family: CameraFamily;
    /** The vendor app's model name for the id prefix ("A9-4", "P3", …), or null. */
    readonly model: string | null;
    /** Idles on MQTT and opens TCP only when woken (the MQTT-first family): video wakes it on demand. */
    readonly wakesOnDemand: boolean;
    /** The last Info `errStatus`, null when never reported. */
    readonly errStatus: number | null;
    /** decisions.md 9: TCP session OR MQTT Status 1. */
    readonly online: boolean;
    readonly tcpOnline: boolean;
    readonly mqttOnline: boolean;
    /** A TCP 301 forward path exists (the camera is known to the TCP layer). */
    readonly tcpKnown: boolean;
    readonly streaming: boolean;
    /** The "Live stream" switch holds a stream open. */
    readonly liveStreamHeld: boolean;
    readonly batteryPercent: number | null;
    readonly irLed: number | null;
    readonly statusLed: boolean | null;
    readonly sdRecording: boolean | null;
    readonly recordOnMotion: boolean | null;
    readonly motionAlert: boolean | null;
    readonly motionSensitivity: number | null;
    readonly pirAlert: number | null;
    readonly pirSensitivity: number | null;
    readonly flip: number | null;
    readonly sdState: number | null;
    readonly sdCapacity: number | null;
    readonly sdFreeMb: number | null;
    readonly sdTotalMb: number | null;
    readonly wifiName: string | null;
    readonly firmware: string | null;
    readonly wifiScan: readonly WifiNetworkState[] | null;
    readonly wifiScanAtMs: number | null;
    /** Motion reported within the motion hold time. */
    readonly motion: boolean;
    readonly lastMotionAtMs: number | null;
    readonly lastSeenAtMs: number | null;
    readonly urls: CameraUrls | null;
}

export function emptyCameraState(id: CameraId): CameraState {
    return {
        id,
        name: null,
        area: null,
        family: "classic",
        model: null,
        wakesOnDemand: false,
        errStatus: null,
        online: false,
        tcpOnline: false,
        mqttOnline: false,
        tcpKnown: false,
        streaming: false,
        liveStreamHeld: false,
        batteryPercent: null,
        irLed: null,
        statusLed: null,
        sdRecording: null,
        recordOnMotion: null,
        motionAlert: null,
        motionSensitivity: null,
        pirAlert: null,
        pirSensitivity: null,
        flip: null,
        sdState: null,
        sdCapacity: null,
        sdFreeMb: null,
        sdTotalMb: null,
        wifiName: null,
        firmware: null,
        wifiScan: null,
        wifiScanAtMs: null,
        motion: false,
        lastMotionAtMs: null,
        lastSeenAtMs: null,
        urls: null,
    };
}

/** The state after `report`; keys the report does not carry keep their value. Pure. */
export function applyCameraReport(state: CameraState, report: CameraReport, nowMs: number): CameraState {
    const next: {-readonly [K in keyof CameraState]: CameraState[K]} = {...state};
    for (const key of REPORT_SCALAR_KEYS) {
        const value = report[key];
        if (value !== undefined) {
            (next as Record<string, unknown>)[key] = value;
        }
    }
    if (report.wifiScan !== undefined) {
        next.wifiScan = report.wifiScan.networks;
        next.wifiScanAtMs = nowMs;
    }
    return next;
}

/** With the derived `online` flag recomputed (decisions.md 9). Pure. */
export function withPresence(state: CameraState, presence: {tcpOnline?: boolean; mqttOnline?: boolean}): CameraState {
    const tcpOnline = presence.tcpOnline ?? state.tcpOnline;
    const mqttOnline = presence.mqttOnline ?? state.mqttOnline;
    return {...state, tcpOnline, mqttOnline, online: tcpOnline || mqttOnline};
}

const REPORT_SCALAR_KEYS = [
    "batteryPercent",
    "irLed",
    "statusLed",
    "sdRecording",
    "recordOnMotion",
    "motionAlert",
    "motionSensitivity",
    "pirAlert",
    "pirSensitivity",
    "flip",
    "sdState",
    "sdCapacity",
    "sdFreeMb",
    "sdTotalMb",
    "wifiName",
    "firmware",
    "errStatus",
] as const satisfies readonly (keyof CameraReport & keyof CameraState)[];

// ---- what the bridge talks to ---------------------------------------------------------------

export interface CameraStateSource {
    /** Every camera the bridge may publish (already filtered by cameras.allow). */
    list(): CameraState[];
    get(id: CameraId): CameraState | undefined;
    /** Called after every change, with the previous state (undefined for a new camera). Returns an unsubscribe function. */
    onChange(listener: (state: CameraState, previous: CameraState | undefined) => void): () => void;
}

export type SwitchableSetting = "irLed" | "statusLed" | "sdRecording" | "motionAlert" | "recordOnMotion";
export type NumericSetting = "motionSensitivity" | "pirSensitivity";

/** A command from Home Assistant in domain terms; app/ maps it to MQTT JSON or a TCP forward. */
export type CameraCommand =
    | {readonly kind: "switch"; readonly setting: SwitchableSetting; readonly on: boolean}
    | {readonly kind: "number"; readonly setting: NumericSetting; readonly value: number}
    | {readonly kind: "flip"; readonly value: number}
    | {readonly kind: "liveStream"; readonly on: boolean}
    | {readonly kind: "reboot"}
    | {readonly kind: "wifiScan"}
    | {readonly kind: "formatSd"};

export type CommandResult = {readonly ok: true} | {readonly ok: false; readonly reason: string};

export interface CameraCommander {
    /** Validates and sends; never throws for a bad command or an offline camera (ok: false instead). */
    send(id: CameraId, command: CameraCommand): Promise<CommandResult>;
}

export interface SnapshotSource {
    /**
     * The newest frame if it is at most `maxAgeMs` old, else wakes the stream and waits for one
     * (up to the source's own timeout). Undefined when none could be had.
     */
    capture(id: CameraId, maxAgeMs: number): Promise<JpegFrame | undefined>;
}
