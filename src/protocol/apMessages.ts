/**
 * AP mode (protocol-notes.md §11): the camera is the server at 192.168.169.1:6123 and the client speaks
 * the same 20-byte header over TCP. Pure builders and parsers for both sides (the CLI client in `ap/` and
 * the AP personality of the simulator).
 *
 * Session open (§11.1): header-only cmd 115 → the camera answers a cmd 115 packet; then
 * `{"code":501,"target":"deadbeef","token":…,"unixTimer":<local epoch s>}` → `{"code":501,…,"status":200}`.
 * Commands (§11.2): `{"code":502,"content":{"code":N,"devTarget":"deadbeef",…}}`, replies of the same shape.
 * SD card (§11.3): top-level codes 400–413 with `devTarget`; the catalogue arrives as cmd 8 XML and files
 * as cmd 7 AVI payloads.
 */
import {Cmd, ContentCode} from "./commands.js";
import {ProtocolError} from "./errors.js";
import type {WireMessage} from "./messages.js";
import {encodePacket} from "./packet.js";

/** The target/devTarget every AP client sends (§11.1, [CODE]). */
export const AP_DEV_TARGET = "deadbeef";
/** Accepted as the 501 token on firmware 202212011602 and 202509111709 ([CODE v720-ask], §11.1). */
export const AP_TEST_TOKEN = "This is TEST token";
export const AP_STATUS_OK = 200;
/** 405 `fileSize` when the file does not exist (§11.3). */
export const SD_FILE_MISSING = -1;

/** Top-level JSON codes of AP mode (protocol-notes.md §6.1, §11.3). */
export const ApCode = {
    connect: 501,
    command: 502,
    sdDates: 400,
    sdDatesReply: 401,
    sdFiles: 402,
    sdFilesReply: 403,
    sdFileInfo: 404,
    sdFileInfoReply: 405,
    sdDownload: 406,
    sdDownloadReply: 407,
    sdStop: 408,
    sdStopReply: 409,
    sdStreamEnd: 411,
    sdDelete: 412,
    sdDeleteReply: 413,
} as const;
export type ApCode = (typeof ApCode)[keyof typeof ApCode];

/** Wi-Fi password length the camera accepts (§11.2, [CODE]). */
export const WIFI_PASSWORD_MIN_LENGTH = 8;
export const WIFI_PASSWORD_MAX_LENGTH = 36;

/** One SD recording: `/sd/YYYYMMDD/HH/MM.avi` (§11.3). `date` is the number YYYYMMDD. */
export interface SdFileKey {
    readonly date: number;
    readonly hours: number;
    readonly minute: number;
}

/** The decoded cmd 8 catalogue of one day. */
export interface SdCatalogue {
    readonly date: number;
    /** Hours with recordings, in document order; `minutes` ascending. */
    readonly hours: readonly {readonly hour: number; readonly minutes: readonly number[]}[];
}

// ---- client → camera ---------------------------------------------------------------------------

/** The header-only cmd 115 (LIVE_MOTION) that opens a session (§11.1 step 2). */
export function encodeLiveMotionPacket(): Buffer {
    return encodePacket({command: Cmd.liveMotion});
}

/** 501 login; `unixTimer` is local time in seconds (UTC + zone offset, §11.1 step 3). */
export const buildApConnect = (token: string, unixTimer: number): WireMessage => ({
    code: ApCode.connect,
    target: AP_DEV_TARGET,
    token,
    unixTimer,
});

/** 502 wrapping `content`, with `devTarget` added to the content (§6.2 "In AP mode …"). */
export const buildApCommand = (content: WireMessage): WireMessage => ({
    code: ApCode.command,
    content: {...content, devTarget: AP_DEV_TARGET},
});

/** 502 content 204: join the Wi-Fi `ssid` with `password` (§11.2). */
export const buildSetWifiContent = (ssid: string, password: string): WireMessage => ({
    code: ContentCode.setWifi,
    s: ssid,
    p: password,
});

/** 502 content 299: reboot, which intx82 sends after 204 (§11.2). */
export const buildRebootContent = (): WireMessage => ({code: ContentCode.reboot});

/** 502 content 4 with the local clock (§11.1 step 4). */
export const buildApBaseInfoContent = (unixTimer: number): WireMessage => ({code: ContentCode.baseInfo, unixTimer});

/** 502 content 218: is a card present (§11.3)? */
export const buildSdStatusContent = (): WireMessage => ({code: ContentCode.sdCardStatus});

/** 400: the days that have recordings. */
export const buildSdDatesRequest = (): WireMessage => ({code: ApCode.sdDates, devTarget: AP_DEV_TARGET});

/** 402: the catalogue of `date` (YYYYMMDD). */
export const buildSdFilesRequest = (date: number): WireMessage => ({
    code: ApCode.sdFiles,
    devTarget: AP_DEV_TARGET,
    date,
});

/** 404 info, 406 download, 408 stop or 412 delete of one recording. */
export const buildSdFileRequest = (
    code: typeof ApCode.sdFileInfo | typeof ApCode.sdDownload | typeof ApCode.sdStop | typeof ApCode.sdDelete,
    key: SdFileKey,
): WireMessage => ({code, devTarget: AP_DEV_TARGET, date: key.date, hours: key.hours, minute: key.minute});

// ---- camera → client: parsers ------------------------------------------------------------------

/** The 501 reply's status (missing → ProtocolError). */
export function parseApConnectReply(message: WireMessage): {readonly status: number} {
    expectCode(message, ApCode.connect);
    return {status: numberField(message, "status")};
}

/** The content of a 502 reply (unknown keys kept). */
export function parseApCommandReply(message: WireMessage): WireMessage {
    expectCode(message, ApCode.command);
    const content = message["content"];
    if (!isWireMessage(content)) {
        throw new ProtocolError("502 reply without a content object with a numeric code");
    }
    return content;
}

/** 401: `dates` as YYYYMMDD numbers, `status` when present. */
export function parseSdDatesReply(message: WireMessage): {
    readonly status: number | undefined;
    readonly dates: number[];
} {
    expectCode(message, ApCode.sdDatesReply);
    const status = optionalNumber(message, "status");
    const dates = message["dates"];
    if (dates === undefined && status !== undefined && status !== AP_STATUS_OK) {
        return {status, dates: []};
    }
    if (!Array.isArray(dates)) {
        throw new ProtocolError("401 reply without a dates list");
    }
    return {status, dates: dates.map((value, index) => checkDate(value, `dates[${index}]`))};
}

/** 403: `status` and, from the newer app's camera, `fileSize` = XML length in bytes. */
export function parseSdFilesReply(message: WireMessage): {
    readonly status: number | undefined;
    readonly fileSize: number | undefined;
} {
    expectCode(message, ApCode.sdFilesReply);
    return {status: optionalNumber(message, "status"), fileSize: optionalNumber(message, "fileSize")};
}

/** 405: `fileSize` (−1 = missing) and `fileName`. */
export function parseSdFileInfoReply(message: WireMessage): {
    readonly status: number | undefined;
    readonly fileName: string | undefined;
    readonly fileSize: number;
} {
    expectCode(message, ApCode.sdFileInfoReply);
    const fileName = message["fileName"];
    return {
        status: optionalNumber(message, "status"),
        fileName: typeof fileName === "string" ? fileName : undefined,
        fileSize: numberField(message, "fileSize"),
    };
}

/** 407 (download accepted when 200), 409, 413: the status, when present. */
export function parseSdStatusReply(message: WireMessage, code: number): {readonly status: number | undefined} {
    expectCode(message, code);
    return {status: optionalNumber(message, "status")};
}

// ---- the cmd 8 catalogue -----------------------------------------------------------------------

/** Upper bound of a catalogue: 24 options of ~50 bytes; anything far larger is not a catalogue. */
export const MAX_SD_CATALOGUE_BYTES = 64 * 1024;
const MAX_MASK = (1n << 64n) - 1n;

/**
 * `<video><catalogue date="20230124" hNumb="9"><option hours="2" minBin="864409584620273472"/>…</catalogue></video>`
 * → the minutes with a file in each hour (bit m of the 64-bit `minBin` = minute m; bits 60–63 ignored).
 * Attribute order and whitespace are free. Throws ProtocolError when there is no catalogue element, an
 * attribute is missing or out of range, or the text exceeds MAX_SD_CATALOGUE_BYTES.
 */
export function decodeSdCatalogue(xml: Uint8Array): SdCatalogue {
    if (xml.length > MAX_SD_CATALOGUE_BYTES) {
        throw new ProtocolError(
            `SD catalogue of ${xml.length} bytes exceeds ${MAX_SD_CATALOGUE_BYTES}`,
            xml.subarray(0, 64),
        );
    }
    const text = Buffer.from(xml.buffer, xml.byteOffset, xml.length).toString("latin1");
    const catalogue = /<catalogue\b([^>]*)>/.exec(text);
    if (catalogue === null) {
        throw new ProtocolError("SD catalogue XML without a <catalogue> element", xml.subarray(0, 64));
    }
    // Group 1 of a matched /…([^>]*)>/ is always a string.
    const date = checkDate(Number(attribute(catalogue[1] as string, "date", xml)), "catalogue date");
    const hours: {hour: number; minutes: number[]}[] = [];
    for (const option of text.matchAll(/<option\b([^>]*?)\/?>/g)) {
        const attributes = option[1] as string;
        const hourText = attribute(attributes, "hours", xml);
        const maskText = attribute(attributes, "minBin", xml);
        const hour = /^\d{1,2}$/.test(hourText) ? Number(hourText) : Number.NaN;
        if (!(hour >= 0 && hour <= 23)) {
            throw new ProtocolError(`SD catalogue hour "${hourText}" is not 0–23`, xml.subarray(0, 64));
        }
        const mask = /^\d{1,20}$/.test(maskText) ? BigInt(maskText) : -1n;
        if (mask < 0n || mask > MAX_MASK) {
            throw new ProtocolError(`SD catalogue minBin "${maskText}" is not a 64-bit number`, xml.subarray(0, 64));
        }
        hours.push({hour, minutes: minutesFromMask(mask)});
    }
    return {date, hours};
}

/** The camera side: the catalogue XML for `catalogue` (hours with no minutes are left out). */
export function encodeSdCatalogue(catalogue: SdCatalogue): Buffer {
    const options = catalogue.hours
        .filter((entry) => entry.minutes.length > 0)
        .map((entry) => `<option hours="${entry.hour}" minBin="${maskFromMinutes(entry.minutes).toString()}"/>`);
    return Buffer.from(
        `<video><catalogue date="${catalogue.date}" hNumb="${options.length}">${options.join("")}</catalogue></video>`,
        "latin1",
    );
}

/** Minutes 0–59 whose bit is set in `mask`, ascending. */
export function minutesFromMask(mask: bigint): number[] {
    const minutes: number[] = [];
    for (let minute = 0; minute < 60; minute += 1) {
        if (((mask >> BigInt(minute)) & 1n) === 1n) {
            minutes.push(minute);
        }
    }
    return minutes;
}

/** The `minBin` mask of `minutes`. Throws RangeError on a minute outside 0–59. */
export function maskFromMinutes(minutes: readonly number[]): bigint {
    let mask = 0n;
    for (const minute of minutes) {
        if (!Number.isInteger(minute) || minute < 0 || minute > 59) {
            throw new RangeError(`minute must be 0..59, got ${minute}`);
        }
        mask |= 1n << BigInt(minute);
    }
    return mask;
}

/** True for a YYYYMMDD number with a plausible month and day. */
export function isSdDate(value: unknown): value is number {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 19_700_101 || value > 99_991_231) {
        return false;
    }
    const month = Math.floor(value / 100) % 100;
    const day = value % 100;
    return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// ---- internals ---------------------------------------------------------------------------------

function isWireMessage(value: unknown): value is WireMessage {
    return (
        typeof value === "object" &&
        value !== null &&
        !Array.isArray(value) &&
        typeof (value as {code?: unknown}).code === "number"
    );
}

function expectCode(message: WireMessage, code: number): void {
    if (message.code !== code) {
        throw new ProtocolError(`expected code ${code}, got ${message.code}`);
    }
}

function checkDate(value: unknown, what: string): number {
    const date = lenientNumber(value);
    if (!isSdDate(date)) {
        throw new ProtocolError(`${what} is not a YYYYMMDD date: ${String(value)}`);
    }
    return date;
}

function attribute(attributes: string, name: string, xml: Uint8Array): string {
    const match = new RegExp(`\\b${name}\\s*=\\s*"([^"]*)"`).exec(attributes);
    if (match === null) {
        throw new ProtocolError(`SD catalogue element without ${name}="…"`, xml.subarray(0, 64));
    }
    return (match[1] as string).trim();
}

/** A number, or an integer written as a string (the camera writes JSON by hand, §4 "JSON formatting"). */
function lenientNumber(value: unknown): number | undefined {
    if (typeof value === "number" && Number.isFinite(value)) {
        return value;
    }
    return typeof value === "string" && /^-?\d{1,16}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

function numberField(message: WireMessage, key: string): number {
    const value = lenientNumber(message[key]);
    if (value === undefined) {
        throw new ProtocolError(`code ${message.code}: field ${key} is not a number`);
    }
    return value;
}

function optionalNumber(message: WireMessage, key: string): number | undefined {
    return message[key] === undefined ? undefined : numberField(message, key);
}
