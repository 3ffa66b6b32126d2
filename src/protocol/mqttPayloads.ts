/**
 * The camera's own MQTT leg (protocol-notes.md §7): topics, Status / Info parsing, the Wi-Fi scan
 * field, the MQTT command codes and validated command builders. Pure: bytes in, typed values out.
 *
 * MQTT command codes are their own namespace (protocol-notes.md §7.4): 213–215 mean different things
 * in the TCP `ContentCode` table. Never mix the two maps.
 *
 * Payload shapes [CAP] (capture-dump.md frames 50, 54, 58), note the space after `:` before numbers:
 *   Status  {"device":"0800c00128F8","token":"NAXCLOW","status": 1}
 *   Info    {"apStatus": 0,"devPower": 100,...,"wifiName":"intl-laptop","version":"202212011602"}
 */
import {ProtocolError} from "./errors.js";

/** Topics the camera uses [CAP] (protocol-notes.md §7.1–7.3). */
export const NaxclowTopic = {
    status: "Naxclow/P2P/Users/Device/Status",
    info: "Naxclow/P2P/Users/Device/Info",
    commandPrefix: "Naxclow/P2P/Users/Device/sub/",
} as const;

/** `Naxclow/P2P/Users/Device/sub/<id>`: the only topic a camera subscribes to. */
export const naxclowCommandTopic = (deviceId: string): string => `${NaxclowTopic.commandPrefix}${deviceId}`;

/** The device id in a command topic, or undefined when `topic` is not one. */
export function parseNaxclowCommandTopic(topic: string): string | undefined {
    if (!topic.startsWith(NaxclowTopic.commandPrefix)) {
        return undefined;
    }
    const id = topic.slice(NaxclowTopic.commandPrefix.length);
    return isDeviceId(id) ? id : undefined;
}

/** Device ids are opaque 12-character strings (protocol-notes.md §3.3); seen ones are alphanumeric. */
const DEVICE_ID = /^[0-9A-Za-z]{12}$/;
export const isDeviceId = (value: string): boolean => DEVICE_ID.test(value);

/** Upper bound for a Status / Info payload; real ones are ~330 bytes. */
export const MAX_DEVICE_PAYLOAD_BYTES = 64 * 1024;

// ---- camera state fields ----------------------------------------------------------------------

/** One network from a 211 scan. */
export interface WifiNetwork {
    readonly ssid: string;
    /** dBm when the camera reported one. */
    readonly rssi: number | null;
}

export interface WifiScanResult {
    readonly networks: readonly WifiNetwork[];
}

/**
 * What a Status, Info or code 4 base-info payload says about the camera, in domain names.
 * A key is present only when the camera reported it (any firmware: missing keys are fine).
 */
export interface CameraFields {
    /** `devPower`, percent. */
    readonly batteryPercent?: number;
    /** `IrLed`: 0 off, 1 on; firmware 202411152039 reports 2, probably "auto" [GUESS]. */
    readonly irLed?: number;
    /** `instLed`. */
    readonly statusLed?: boolean;
    /** `sdCardReco`. */
    readonly sdRecording?: boolean;
    /** `sdMoveMode`: record only on motion. */
    readonly recordOnMotion?: boolean;
    /** `moveAlert`. */
    readonly motionAlert?: boolean;
    /** `moveGrade` (some firmware only). */
    readonly motionSensitivity?: number;
    /** `pirAlert` (PIR firmware only). */
    readonly pirAlert?: number;
    /** `pirGrade` (PIR firmware only). */
    readonly pirSensitivity?: number;
    /** `mirrorFlip` 0..4 (code 4 reply only). */
    readonly flip?: number;
    /** `sd_State` (MQTT) or `sdDevStatus` (code 4): > 0 means a card is mounted. */
    readonly sdState?: number;
    /** `sdCapacity` as sent (60 for a 64 GB card, so probably GB [GUESS]). */
    readonly sdCapacity?: number;
    /** `SD_freeDisk`, probably MB [GUESS]; null when the camera says -1 (no card). */
    readonly sdFreeMb?: number | null;
    /** `SD_blockDisk`, probably MB (uart `diskb = 60334`) [GUESS]; null when -1. */
    readonly sdTotalMb?: number | null;
    readonly wifiName?: string;
    /** `version`. */
    readonly firmware?: string;
    /** Decoded `scanWifiBase64` (after a 211). */
    readonly wifiScan?: WifiScanResult;
    /**
     * `errStatus` of an Info (new-firmware-notes.md §3.1, live.nvue:3614): after a 240 wake, 1 probably
     * means "too many viewers" and 2 "could not connect" [GUESS]; 0 = no error.
     */
    readonly errStatus?: number;
}

type MutableFields = {-readonly [K in keyof CameraFields]: CameraFields[K]};

/** A parsed `Naxclow/P2P/Users/Device/Status`. */
export interface StatusReport {
    /** `device`, or null when missing. */
    readonly deviceId: string | null;
    /** status 1 = online; 0 (power-off or the will) = offline. */
    readonly online: boolean;
    readonly status: number;
    readonly token: string | null;
    readonly fields: CameraFields;
}

/** A parsed `Naxclow/P2P/Users/Device/Info`. */
export interface InfoReport {
    /** `devicesCode`, or null when missing. */
    readonly deviceId: string | null;
    readonly fields: CameraFields;
    /** The whole object as sent, unknown keys included. */
    readonly raw: Readonly<Record<string, unknown>>;
}

/** Device JSON → object. UTF-8 with replacement characters; trailing NULs/whitespace ignored. */
export function decodeDeviceJson(payload: Uint8Array): Record<string, unknown> {
    if (payload.length > MAX_DEVICE_PAYLOAD_BYTES) {
        throw new ProtocolError(`device payload too large (${payload.length} B)`, payload.subarray(0, 64));
    }
    // Buffer#toString("utf8") replaces invalid sequences with U+FFFD.
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length)
        .toString("utf8")
        .replace(/[\s\0]+$/u, "");
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        throw new ProtocolError("device payload is not JSON", payload, {cause: error});
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ProtocolError("device payload is not a JSON object", payload);
    }
    return value as Record<string, unknown>;
}

/** Parses a Status publish (or the will). Throws ProtocolError when there is no numeric `status`. */
export function parseStatus(payload: Uint8Array): StatusReport {
    const object = decodeDeviceJson(payload);
    const status = readInteger(object["status"]);
    if (status === undefined) {
        throw new ProtocolError("Status payload without a numeric status", payload);
    }
    return {
        deviceId: readDeviceId(object["device"]),
        online: status === 1,
        status,
        token: typeof object["token"] === "string" ? object["token"] : null,
        fields: readCameraFields(object),
    };
}

/** Parses an Info publish. Any JSON object is accepted; unknown keys are kept in `raw`. */
export function parseInfo(payload: Uint8Array): InfoReport {
    const object = decodeDeviceJson(payload);
    return {deviceId: readDeviceId(object["devicesCode"]), fields: readCameraFields(object), raw: object};
}

/** The fields of a code 4 base-info reply's content (protocol-notes.md §6.2), as sent over TCP. */
export function parseBaseInfo(content: Readonly<Record<string, unknown>>): CameraFields {
    return readCameraFields(content);
}

/**
 * Reads every known state key from a device object. Numbers may arrive as numeric strings on
 * unknown firmware; anything else of the wrong type is ignored, never thrown.
 */
export function readCameraFields(object: Readonly<Record<string, unknown>>): CameraFields {
    const out: MutableFields = {};
    setNumber(out, "batteryPercent", object["devPower"]);
    setNumber(out, "irLed", object["IrLed"]);
    setBoolean(out, "statusLed", object["instLed"]);
    setBoolean(out, "sdRecording", object["sdCardReco"]);
    setBoolean(out, "recordOnMotion", object["sdMoveMode"]);
    setBoolean(out, "motionAlert", object["moveAlert"]);
    setNumber(out, "motionSensitivity", object["moveGrade"]);
    setNumber(out, "pirAlert", object["pirAlert"]);
    setNumber(out, "pirSensitivity", object["pirGrade"]);
    setNumber(out, "flip", object["mirrorFlip"]);
    setNumber(out, "sdState", object["sd_State"] ?? object["sdDevStatus"]);
    setNumber(out, "sdCapacity", object["sdCapacity"]);
    setDisk(out, "sdFreeMb", object["SD_freeDisk"]);
    setDisk(out, "sdTotalMb", object["SD_blockDisk"]);
    setNumber(out, "errStatus", object["errStatus"]);
    const wifiName = object["wifiName"];
    if (typeof wifiName === "string") {
        out.wifiName = wifiName;
    }
    const version = object["version"];
    if (typeof version === "string" && version.length > 0) {
        out.firmware = version;
    }
    const scan = object["scanWifiBase64"];
    // A scan that is not base64 is dropped; the rest of the report still counts.
    if (typeof scan === "string" && BASE64.test(scan)) {
        out.wifiScan = decodeWifiScan(scan);
    }
    return out;
}

function setNumber(out: MutableFields, key: NumberKey, value: unknown): void {
    const number = readNumber(value);
    if (number !== undefined) {
        out[key] = number;
    }
}

function setBoolean(out: MutableFields, key: BooleanKey, value: unknown): void {
    const number = readNumber(value);
    if (number !== undefined) {
        out[key] = number !== 0;
    }
}

function setDisk(out: MutableFields, key: "sdFreeMb" | "sdTotalMb", value: unknown): void {
    const number = readNumber(value);
    if (number !== undefined) {
        out[key] = number < 0 ? null : number;
    }
}

type NumberKey =
    | "batteryPercent"
    | "irLed"
    | "motionSensitivity"
    | "pirAlert"
    | "pirSensitivity"
    | "flip"
    | "sdState"
    | "sdCapacity"
    | "errStatus";
type BooleanKey = "statusLed" | "sdRecording" | "recordOnMotion" | "motionAlert";

function readNumber(value: unknown): number | undefined {
    if (typeof value === "number") {
        return Number.isFinite(value) ? value : undefined;
    }
    if (typeof value === "string" && /^-?\d{1,15}(\.\d+)?$/.test(value.trim())) {
        return Number(value.trim());
    }
    return undefined;
}

function readInteger(value: unknown): number | undefined {
    const number = readNumber(value);
    return number !== undefined && Number.isInteger(number) ? number : undefined;
}

function readDeviceId(value: unknown): string | null {
    return typeof value === "string" && value.length > 0 && value.length <= 64 ? value : null;
}

// ---- Wi-Fi scan (211) -------------------------------------------------------------------------

const MAX_SCAN_NETWORKS = 64;
const BASE64 = /^[A-Za-z0-9+/=\s_-]*$/;

/**
 * Decodes `scanWifiBase64` (protocol-notes.md §6.2 code 211). The decoded layout is not documented
 * [UNKNOWN]; this accepts a JSON array (of strings or of objects with `ssid`/`s`/`name` and an
 * optional `rssi`/`signal`) or text with one network per line, optionally `<ssid>\t<rssi>`.
 * At most 64 networks are kept. Throws ProtocolError when the field is not base64.
 */
export function decodeWifiScan(base64: string): WifiScanResult {
    if (!BASE64.test(base64)) {
        throw new ProtocolError("scanWifiBase64 is not base64", Buffer.from(base64.slice(0, 64), "utf8"));
    }
    const text = Buffer.from(base64, "base64").toString("utf8").replace(/\0+$/u, "");
    const fromJson = networksFromJson(text);
    const networks = fromJson ?? networksFromLines(text);
    return {networks: networks.slice(0, MAX_SCAN_NETWORKS)};
}

/** The simulator's scan layout: base64 of `<ssid>\t<rssi>` lines. */
export function encodeWifiScan(networks: readonly WifiNetwork[]): string {
    const text = networks.map((n) => (n.rssi === null ? n.ssid : `${n.ssid}\t${n.rssi}`)).join("\n");
    return Buffer.from(text, "utf8").toString("base64");
}

function networksFromJson(text: string): WifiNetwork[] | undefined {
    const trimmed = text.trim();
    if (!trimmed.startsWith("[")) {
        return undefined;
    }
    let value: unknown[];
    try {
        // Text that starts with "[" parses to an array or not at all.
        value = JSON.parse(trimmed) as unknown[];
    } catch {
        return undefined;
    }
    const out: WifiNetwork[] = [];
    for (const item of value) {
        if (typeof item === "string") {
            out.push({ssid: item, rssi: null});
        } else if (typeof item === "object" && item !== null) {
            const record = item as Record<string, unknown>;
            const ssid = record["ssid"] ?? record["s"] ?? record["name"];
            if (typeof ssid === "string") {
                out.push({ssid, rssi: readInteger(record["rssi"] ?? record["signal"]) ?? null});
            }
        }
    }
    return out;
}

function networksFromLines(text: string): WifiNetwork[] {
    const out: WifiNetwork[] = [];
    for (const line of text.split(/[\r\n\0]+/u)) {
        if (line.trim().length === 0) {
            continue;
        }
        const match = /^(.*)\t(-?\d{1,3})$/u.exec(line);
        if (match?.[1] !== undefined && match[2] !== undefined) {
            out.push({ssid: match[1], rssi: Number(match[2])});
        } else {
            out.push({ssid: line, rssi: null});
        }
    }
    return out;
}

// ---- MQTT command codes (protocol-notes.md §7.4) -----------------------------------------------

/** Every MQTT command code, named once. A separate namespace from the TCP `ContentCode`. */
export const MqttCommandCode = {
    irLed: 202,
    moveMode: 203,
    setWifi: 204,
    moveAlert: 205,
    moveGrade: 206,
    sdCardFormat: 207,
    apMode: 208,
    sdCardReco: 209,
    instLed: 210,
    wifiScan: 211,
    pirSysMode: 212,
    pirAlert: 213,
    lightGrade: 214,
    pirGrade: 215,
    rf433Dev: 218,
    doorVolume: 219,
    ledEi: 220,
    cloudStorage: 221,
    unbinding: 222,
    cloudStorageReco: 225,
    sysPowerRun: 227,
    /**
     * Sent by the cloud when a viewer opens live view of a 56/5b/5c/60 camera ("56、5c 发送240",
     * new-firmware-notes.md §1.2); it presumably makes the camera open its TCP session. Payload unknown
     * [GUESS]: see buildWakeCommand. Never accepted by validateMqttCommand (the wake path builds it).
     */
    liveWake: 240,
    wake: 242,
    onlineProbe: 249,
    reboot: 299,
} as const;
export type MqttCommandCode = (typeof MqttCommandCode)[keyof typeof MqttCommandCode];

/** The JSON published to `Naxclow/P2P/Users/Device/sub/<id>`. */
export interface WireMqttCommand {
    readonly code: number;
    readonly [key: string]: unknown;
}

/** An outbound command that fails validation (unknown code, value out of range). Never sent. */
export class CommandValidationError extends Error {
    override readonly name = "CommandValidationError";
}

interface SettingSpec {
    readonly field: string;
    readonly min: number;
    readonly max: number;
}

/**
 * Settings with one numeric field. Ranges: 0/1 where the notes say so; `pirSysMode` 0..2
 * (new-firmware-notes.md §3.2); undocumented grades 0..5 (decisions.md 10).
 */
const SETTINGS: ReadonlyMap<number, SettingSpec> = new Map([
    [MqttCommandCode.irLed, {field: "IrLed", min: 0, max: 1}],
    [MqttCommandCode.moveMode, {field: "sdMoveMode", min: 0, max: 1}],
    [MqttCommandCode.moveAlert, {field: "moveAlert", min: 0, max: 1}],
    [MqttCommandCode.moveGrade, {field: "moveGrade", min: 0, max: 5}],
    [MqttCommandCode.sdCardReco, {field: "sdCardReco", min: 0, max: 1}],
    [MqttCommandCode.instLed, {field: "instLed", min: 0, max: 1}],
    [MqttCommandCode.pirSysMode, {field: "pirSysMode", min: 0, max: 2}],
    [MqttCommandCode.pirAlert, {field: "pirAlert", min: 0, max: 5}],
    [MqttCommandCode.lightGrade, {field: "lightGrade", min: 0, max: 5}],
    [MqttCommandCode.pirGrade, {field: "pirGrade", min: 0, max: 5}],
    [MqttCommandCode.sysPowerRun, {field: "sysPowerRun", min: 0, max: 1}],
]);

/** Codes without a value. 222 (unbinding) is destructive and never built (new-firmware-notes.md §3.2). */
const ACTIONS: ReadonlySet<number> = new Set([
    MqttCommandCode.sdCardFormat,
    MqttCommandCode.apMode,
    MqttCommandCode.wifiScan,
    MqttCommandCode.wake,
    MqttCommandCode.onlineProbe,
    MqttCommandCode.reboot,
]);

export type MqttSettingCode =
    | typeof MqttCommandCode.irLed
    | typeof MqttCommandCode.moveMode
    | typeof MqttCommandCode.moveAlert
    | typeof MqttCommandCode.moveGrade
    | typeof MqttCommandCode.sdCardReco
    | typeof MqttCommandCode.instLed
    | typeof MqttCommandCode.pirSysMode
    | typeof MqttCommandCode.pirAlert
    | typeof MqttCommandCode.lightGrade
    | typeof MqttCommandCode.pirGrade
    | typeof MqttCommandCode.sysPowerRun;

export type MqttActionCode =
    | typeof MqttCommandCode.sdCardFormat
    | typeof MqttCommandCode.apMode
    | typeof MqttCommandCode.wifiScan
    | typeof MqttCommandCode.wake
    | typeof MqttCommandCode.onlineProbe
    | typeof MqttCommandCode.reboot;

/** `{"code":<code>,"<field>":<value>}`. Throws CommandValidationError for an unknown code or a value out of range. */
export function buildMqttSetting(code: MqttSettingCode, value: number): WireMqttCommand {
    const spec = SETTINGS.get(code);
    if (spec === undefined) {
        throw new CommandValidationError(`MQTT code ${code} is not a known setting`);
    }
    if (!Number.isInteger(value) || value < spec.min || value > spec.max) {
        throw new CommandValidationError(`${spec.field} must be an integer ${spec.min}..${spec.max}, got ${value}`);
    }
    return {code, [spec.field]: value};
}

/** A command without a value; 299 carries `reboot: 1` as the app sends it (protocol-notes.md §7.4). */
export function buildMqttAction(code: MqttActionCode): WireMqttCommand {
    if (!ACTIONS.has(code)) {
        throw new CommandValidationError(`MQTT code ${code} is not a known action`);
    }
    return code === MqttCommandCode.reboot ? {code, reboot: 1} : {code};
}

/** 204 join Wi-Fi: SSID 1..32 UTF-8 bytes, password empty (open) or 8..63 characters. */
export function buildSetWifi(ssid: string, password: string): WireMqttCommand {
    const ssidBytes = Buffer.byteLength(ssid, "utf8");
    if (ssidBytes < 1 || ssidBytes > 32) {
        throw new CommandValidationError(`SSID must be 1..32 bytes, got ${ssidBytes}`);
    }
    if (password.length !== 0 && (password.length < 8 || password.length > 63)) {
        throw new CommandValidationError("Wi-Fi password must be empty or 8..63 characters");
    }
    return {code: MqttCommandCode.setWifi, s: ssid, p: password};
}

/**
 * Validates any command object against the table: a known code, exactly the documented field with
 * an in-range integer value. Used for commands that arrive as raw JSON (API, simulator).
 */
export function validateMqttCommand(value: unknown): WireMqttCommand {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new CommandValidationError("command is not a JSON object");
    }
    const record = value as Record<string, unknown>;
    const code = record["code"];
    if (typeof code !== "number" || !Number.isInteger(code)) {
        throw new CommandValidationError("command has no integer code");
    }
    const spec = SETTINGS.get(code);
    if (spec !== undefined) {
        const field = record[spec.field];
        if (typeof field !== "number") {
            throw new CommandValidationError(`code ${code} needs a numeric ${spec.field}`);
        }
        return buildMqttSetting(code as MqttSettingCode, field);
    }
    if (ACTIONS.has(code)) {
        return buildMqttAction(code as MqttActionCode);
    }
    if (code === MqttCommandCode.setWifi) {
        const ssid = record["s"];
        const password = record["p"];
        if (typeof ssid !== "string" || typeof password !== "string") {
            throw new CommandValidationError("code 204 needs string s and p");
        }
        return buildSetWifi(ssid, password);
    }
    throw new CommandValidationError(`MQTT code ${code} is not allowed`);
}

/** Decodes a command received on `sub/<id>` (the device side, e.g. the simulator). Throws ProtocolError. */
export function parseMqttCommand(payload: Uint8Array): WireMqttCommand {
    const object = decodeDeviceJson(payload);
    const code = readInteger(object["code"]);
    if (code === undefined) {
        throw new ProtocolError("MQTT command without a numeric code", payload);
    }
    return {...object, code};
}

/** `mirrorFlip` 0..4 (0 normal, 4 flipped; protocol-notes.md §6.2). */
export const FLIP_MIN = 0;
export const FLIP_MAX = 4;

/** Content of the TCP 301 forward for 216 (the only path for flip). */
export function buildFlipForwardContent(value: number): {readonly code: 216; readonly mirrorFlip: number} {
    if (!Number.isInteger(value) || value < FLIP_MIN || value > FLIP_MAX) {
        throw new CommandValidationError(`mirrorFlip must be an integer ${FLIP_MIN}..${FLIP_MAX}, got ${value}`);
    }
    return {code: 216, mirrorFlip: value};
}

// ---- wake for live (MQTT-first family) -------------------------------------------------------

/**
 * Templates for the 240 wake message (new-firmware-notes.md §5.2, all [GUESS] until experiment E3
 * confirms one). S = the server address, P = the camera TCP port:
 *
 * | template   | payload                                                                                 |
 * |------------|-----------------------------------------------------------------------------------------|
 * | candidate1 | getA9ConfCheck data re-coded: `{"code":240,"host":S,"tcpPort":P,"uid","pwd","domain","isBind":"8","currTime","updateUrl":null,"version":null}` |
 * | candidate2 | the minimum: `{"code":240,"host":S,"tcpPort":P}`                                        |
 * | candidate3 | bare `{"code":240}` (the camera cached host/tcpPort from getDevInfo)                   |
 * | candidate4 | code-11-shaped: `{"code":240,"cliTarget","cliToken","cliIp":S,"cliPort":P,"cliNatIp":S,"cliNatPort":P,"host":S,"tcpPort":P}` |
 * | candidate5 | candidate1 plus `"userId"` (getLiveViewCfg takes a userId; the cloud may forward it)    |
 * | custom     | `cameras.wake.custom_payload`, a JSON object with `{{placeholders}}` (WAKE_PLACEHOLDERS) |
 */
export const WAKE_TEMPLATES = ["candidate1", "candidate2", "candidate3", "candidate4", "candidate5", "custom"] as const;
export type WakeTemplate = (typeof WAKE_TEMPLATES)[number];
export const DEFAULT_WAKE_TEMPLATE: WakeTemplate = "candidate1";

export const isWakeTemplate = (value: string): value is WakeTemplate =>
    (WAKE_TEMPLATES as readonly string[]).includes(value);

/**
 * Codes a custom wake payload may carry: 240 and the neighbours experiment E4 tries (230–249). None of
 * the destructive codes (207 format SD, 208 AP mode, 222 unbind, 227 power, 299 reboot) is in the range.
 */
export const WAKE_CODE_MIN = 230;
export const WAKE_CODE_MAX = 249;

/** Everything a wake template may use. */
export interface WakeParams {
    readonly deviceId: string;
    /** Where the camera should open TCP (the address it reached us at, or advertise_host). */
    readonly host: string;
    readonly tcpPort: number;
    /** The camera's pwd; the camera returns it as `token` in code 100 (protocol-notes.md §3.4). */
    readonly pwd: string;
    readonly domain: string;
    /** Unix seconds, sent as a string like getA9ConfCheck's `currTime`. */
    readonly nowS: number;
    /** `userInfo_userId` of the getDevInfo reply (candidate5). */
    readonly userId: string;
    /** 32 hex digits and 8 hex digits for candidate4, fresh per wake like code 11's. */
    readonly cliTarget: string;
    readonly cliToken: string;
}

/** `{{name}}` placeholders of a custom payload and what they become (strings are JSON-escaped, not quoted). */
export const WAKE_PLACEHOLDERS = [
    "id",
    "host",
    "tcpPort",
    "pwd",
    "domain",
    "time",
    "userId",
    "cliTarget",
    "cliToken",
] as const;

/**
 * The wake message for `template`. Throws CommandValidationError for a custom payload that is not a
 * JSON object after substitution, uses an unknown placeholder, or has a code outside 230..249.
 */
export function buildWakeCommand(
    template: WakeTemplate,
    params: WakeParams,
    customPayload?: string | null,
): WireMqttCommand {
    return WAKE_BUILDERS[template](params, customPayload ?? null);
}

const confCheckWake = (params: WakeParams): WireMqttCommand => ({
    code: MqttCommandCode.liveWake,
    host: params.host,
    tcpPort: params.tcpPort,
    uid: params.deviceId,
    pwd: params.pwd,
    domain: params.domain,
    isBind: "8",
    currTime: String(params.nowS),
    updateUrl: null,
    version: null,
});

const WAKE_BUILDERS: Readonly<
    Record<WakeTemplate, (params: WakeParams, customPayload: string | null) => WireMqttCommand>
> = {
    candidate1: confCheckWake,
    candidate2: (params) => ({code: MqttCommandCode.liveWake, host: params.host, tcpPort: params.tcpPort}),
    candidate3: () => ({code: MqttCommandCode.liveWake}),
    candidate4: (params) => ({
        code: MqttCommandCode.liveWake,
        cliTarget: params.cliTarget,
        cliToken: params.cliToken,
        cliIp: params.host,
        cliPort: params.tcpPort,
        cliNatIp: params.host,
        cliNatPort: params.tcpPort,
        host: params.host,
        tcpPort: params.tcpPort,
    }),
    candidate5: (params) => ({...confCheckWake(params), userId: params.userId}),
    custom: (params, customPayload) => buildCustomWake(customPayload, params),
};

function buildCustomWake(payload: string | null, params: WakeParams): WireMqttCommand {
    if (payload === null || payload.trim() === "") {
        throw new CommandValidationError("the custom wake template needs cameras.wake.custom_payload");
    }
    const values: Readonly<Record<(typeof WAKE_PLACEHOLDERS)[number], string>> = {
        id: params.deviceId,
        host: params.host,
        tcpPort: String(params.tcpPort),
        pwd: params.pwd,
        domain: params.domain,
        time: String(params.nowS),
        userId: params.userId,
        cliTarget: params.cliTarget,
        cliToken: params.cliToken,
    };
    const text = payload.replace(/\{\{\s*([A-Za-z]+)\s*\}\}/g, (_match, name: string) => {
        if (!Object.hasOwn(values, name)) {
            throw new CommandValidationError(
                `unknown placeholder {{${name}}} in the custom wake payload (known: ${WAKE_PLACEHOLDERS.join(", ")})`,
            );
        }
        return JSON.stringify(values[name as keyof typeof values]).slice(1, -1);
    });
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch {
        throw new CommandValidationError(
            `the custom wake payload is not JSON after substitution: ${text.slice(0, 120)}`,
        );
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new CommandValidationError("the custom wake payload must be a JSON object");
    }
    const record = value as Record<string, unknown>;
    const code = record["code"] ?? MqttCommandCode.liveWake;
    if (typeof code !== "number" || !Number.isInteger(code) || code < WAKE_CODE_MIN || code > WAKE_CODE_MAX) {
        throw new CommandValidationError(
            `the custom wake payload's code must be an integer ${WAKE_CODE_MIN}..${WAKE_CODE_MAX}, got ${JSON.stringify(code)}`,
        );
    }
    return {...record, code};
}

// ---- device-style encoders (simulator, fixtures) ----------------------------------------------

/**
 * JSON the way the camera writes it by hand [CAP]: `"key": <number>` with a space, `"key":"<string>"`
 * without one, no other whitespace. Key order is kept.
 */
export function encodeDeviceJson(entries: ReadonlyArray<readonly [string, string | number]>): Buffer {
    const parts = entries.map(([key, value]) =>
        typeof value === "number"
            ? `${JSON.stringify(key)}: ${value}`
            : `${JSON.stringify(key)}:${JSON.stringify(value)}`,
    );
    return Buffer.from(`{${parts.join(",")}}`, "utf8");
}

/** Status / will payload [CAP]: `{"device":"<id>","token":"NAXCLOW","status": <0|1>}`. */
export function buildStatusPayload(deviceId: string, online: boolean, token = "NAXCLOW"): Buffer {
    return encodeDeviceJson([
        ["device", deviceId],
        ["token", token],
        ["status", online ? 1 : 0],
    ]);
}
