/**
 * The `v720-bridge wifi` and `v720-bridge sd` commands (issue 5 item 3): AP-mode Wi-Fi provisioning and SD
 * card listing/download against a camera at 192.168.169.1:6123 (protocol-notes.md §11). main.ts calls
 * `runWifiCommand(args, io)` / `runSdCommand(args, io)` with the arguments after the command name and
 * exits with the returned code: 0 done, 1 the camera did not answer / refused / the download failed,
 * 2 usage error, 130 interrupted. Results go to stdout; progress and errors to stderr.
 */
import {createWriteStream, type WriteStream} from "node:fs";
import {rename} from "node:fs/promises";
import {isIP} from "node:net";
import {finished} from "node:stream/promises";
import {parseArgs} from "node:util";
import {
    AP_TEST_TOKEN,
    type SdCatalogue,
    type SdFileKey,
    WIFI_PASSWORD_MAX_LENGTH,
    WIFI_PASSWORD_MIN_LENGTH,
} from "../protocol/apMessages.js";
import {localUnixTimer} from "../protocol/messages.js";
import {assertNever} from "../util/assertNever.js";
import {type Logger, silentLogger} from "../util/log.js";
import {
    AP_DEFAULT_HOST,
    AP_DEFAULT_PORT,
    AP_DEFAULT_TIMEOUT_MS,
    AP_STEP_DESCRIPTIONS,
    ApClient,
    ApError,
    describeSdStatus,
    formatEndpoint,
} from "./apClient.js";
import {DownloadProgress, formatBytes, type ProgressSink} from "./downloadProgress.js";
import {formatSdDate, formatSdFileKey, pad2, parseSdDate, parseSdFileKey} from "./sdFileKey.js";

export interface CliIo {
    readonly stdout: {write(text: string): unknown};
    /** Progress and errors; a bar is drawn only when `isTTY`. */
    readonly stderr: ProgressSink;
    /** Aborting stops a running command (SIGINT); a download keeps its .part file. */
    readonly signal?: AbortSignal;
    /** Debug details (framing, skipped messages); default silent. */
    readonly log?: Logger;
    /** Wall clock; default Date.now. */
    readonly now?: () => number;
}

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_INTERRUPTED = 130;

const MAX_TIMEOUT_S = 600;
/** 802.11: an SSID is at most 32 bytes. */
const MAX_SSID_BYTES = 32;

export const WIFI_USAGE = `Usage: v720-bridge wifi --ssid NAME --password SECRET [--camera HOST[:PORT]] [--timeout SECONDS]

Joins a camera in AP mode to your Wi-Fi. First connect this computer to the camera's own open
Wi-Fi (named Nax_<camera id>), then run this command; the camera restarts and joins NAME.

Options:
  --ssid NAME           the Wi-Fi network to join (required)
  --password SECRET     its password, ${WIFI_PASSWORD_MIN_LENGTH} to ${WIFI_PASSWORD_MAX_LENGTH} characters (required)
  --camera HOST[:PORT]  the camera in AP mode (default ${AP_DEFAULT_HOST}:${AP_DEFAULT_PORT})
  --timeout SECONDS     wait this long for the connection and for each answer (default ${AP_DEFAULT_TIMEOUT_MS / 1000})
  --no-reboot           do not send the restart (502 code 299) after the Wi-Fi settings
  -h, --help            show this help

Exit codes: 0 settings sent, 1 the camera did not answer or refused, 2 usage error.
`;

export const SD_USAGE = `Usage: v720-bridge sd list [--date YYYYMMDD] [--json] [--camera HOST[:PORT]] [--timeout SECONDS]
       v720-bridge sd download YYYYMMDD-HH-MM -o FILE [--camera HOST[:PORT]] [--timeout SECONDS]

Lists and downloads the recordings on a camera's SD card in AP mode (connect this computer to the
camera's Wi-Fi Nax_<camera id> first). Recordings are one AVI file per minute, named by date, hour
and minute as "sd list" prints them. A download is written to FILE.part and renamed to FILE when
complete; a failed download leaves FILE.part and exits 1 (run the command again to start over).

Options:
  --date YYYYMMDD       list only this day
  --json                print the listing as JSON
  -o, --output FILE     where to save the recording (required for download)
  --camera HOST[:PORT]  the camera in AP mode (default ${AP_DEFAULT_HOST}:${AP_DEFAULT_PORT})
  --timeout SECONDS     wait this long for the connection, for each answer and for download data
                        (default ${AP_DEFAULT_TIMEOUT_MS / 1000})
  -h, --help            show this help

Exit codes: 0 done, 1 the camera did not answer, refused or the download failed, 2 usage error.
`;

class UsageError extends Error {
    override readonly name = "UsageError";
}

interface Endpoint {
    readonly host: string;
    readonly port: number;
}

interface CommonOptions {
    readonly camera: Endpoint;
    readonly timeoutMs: number;
}

// ---- wifi --------------------------------------------------------------------------------------

export interface WifiRequest extends CommonOptions {
    readonly ssid: string;
    readonly password: string;
    readonly reboot: boolean;
}

/** Parses and validates `wifi` arguments without any I/O. Throws UsageError-like RangeError on bad input. */
export function parseWifiArgs(args: readonly string[]): WifiRequest | "help" {
    const {values, positionals} = parseArgs({
        args: [...args],
        options: {
            ssid: {type: "string"},
            password: {type: "string"},
            camera: {type: "string"},
            timeout: {type: "string"},
            "no-reboot": {type: "boolean"},
            help: {type: "boolean", short: "h"},
        },
        strict: true,
        allowPositionals: true,
    });
    if (values.help === true) {
        return "help";
    }
    if (positionals.length > 0) {
        throw new UsageError(`unexpected argument "${positionals[0]}"`);
    }
    if (values.ssid === undefined || values.ssid.length === 0) {
        throw new UsageError("--ssid is required and must not be empty");
    }
    if (Buffer.byteLength(values.ssid, "utf8") > MAX_SSID_BYTES) {
        throw new UsageError(`--ssid is longer than ${MAX_SSID_BYTES} bytes, which no Wi-Fi network name can be`);
    }
    if (values.password === undefined) {
        throw new UsageError("--password is required");
    }
    const length = [...values.password].length;
    if (length < WIFI_PASSWORD_MIN_LENGTH || length > WIFI_PASSWORD_MAX_LENGTH) {
        throw new UsageError(
            `the camera accepts Wi-Fi passwords of ${WIFI_PASSWORD_MIN_LENGTH} to ${WIFI_PASSWORD_MAX_LENGTH} characters; this one has ${length}`,
        );
    }
    return {
        ssid: values.ssid,
        password: values.password,
        reboot: values["no-reboot"] !== true,
        camera: parseCameraEndpoint(values.camera),
        timeoutMs: parseTimeout(values.timeout),
    };
}

/** `v720-bridge wifi …`: 115, 501, 502 {204}, 502 {299}. Resolves to the exit code; never rejects on camera errors. */
export async function runWifiCommand(args: readonly string[], io: CliIo): Promise<number> {
    let request: WifiRequest | "help";
    try {
        request = parseWifiArgs(args);
    } catch (error) {
        return usageFailure("wifi", error, io);
    }
    if (request === "help") {
        io.stdout.write(WIFI_USAGE);
        return EXIT_OK;
    }
    const where = formatEndpoint(request.camera.host, request.camera.port);
    return await withSession("wifi", request, io, async (client) => {
        const wifi = await client.setWifi(request.ssid, request.password);
        const lines = [`Sent the Wi-Fi settings for "${request.ssid}" to the camera at ${where}.`];
        if (wifi === "confirmed") {
            lines.push("The camera confirmed them.");
        } else if (wifi === "dropped") {
            lines.push(
                "The camera closed its access point right away, as newer firmware does when it joins a network.",
            );
        } else {
            lines.push("The camera did not confirm them (some firmware never does).");
        }
        if (request.reboot && wifi !== "dropped") {
            const reboot = await client.reboot();
            lines.push(
                reboot === "confirmed"
                    ? "It confirmed the restart."
                    : "Restart requested (502 code 299); the camera closes its access point while it restarts.",
            );
        }
        lines.push(
            `In about a minute the camera should join "${request.ssid}" (its DHCP host name is rtthread) and look up v720.naxclow.com.`,
            `If its Nax_… network comes back instead, the password was probably wrong: join it again and rerun this command.`,
        );
        io.stdout.write(`${lines.join("\n")}\n`);
        return EXIT_OK;
    });
}

// ---- sd ----------------------------------------------------------------------------------------

export interface SdListRequest extends CommonOptions {
    readonly action: "list";
    readonly date: number | undefined;
    readonly json: boolean;
}

export interface SdDownloadRequest extends CommonOptions {
    readonly action: "download";
    readonly key: SdFileKey;
    readonly output: string;
}

/** Parses and validates `sd` arguments without any I/O. Throws on bad input. */
export function parseSdArgs(args: readonly string[]): SdListRequest | SdDownloadRequest | "help" {
    const {values, positionals} = parseArgs({
        args: [...args],
        options: {
            date: {type: "string"},
            json: {type: "boolean"},
            output: {type: "string", short: "o"},
            camera: {type: "string"},
            timeout: {type: "string"},
            help: {type: "boolean", short: "h"},
        },
        strict: true,
        allowPositionals: true,
    });
    if (values.help === true) {
        return "help";
    }
    const [action, ...rest] = positionals;
    const common = {camera: parseCameraEndpoint(values.camera), timeoutMs: parseTimeout(values.timeout)};
    switch (action) {
        case "list":
            if (rest.length > 0) {
                throw new UsageError(`unexpected argument "${rest[0]}" (use --date YYYYMMDD to list one day)`);
            }
            if (values.output !== undefined) {
                throw new UsageError("-o/--output belongs to sd download");
            }
            return {
                action,
                ...common,
                date: values.date === undefined ? undefined : parseOrUsage(() => parseSdDate(values.date ?? "")),
                json: values.json === true,
            };
        case "download": {
            const [name, ...extra] = rest;
            if (name === undefined) {
                throw new UsageError("sd download needs the recording, e.g. sd download 20230124-02-05 -o clip.avi");
            }
            if (extra.length > 0) {
                throw new UsageError(`unexpected argument "${extra[0]}"`);
            }
            if (values.output === undefined || values.output.length === 0) {
                throw new UsageError("sd download needs -o FILE");
            }
            if (values.date !== undefined || values.json === true) {
                throw new UsageError("--date and --json belong to sd list");
            }
            return {action, ...common, key: parseOrUsage(() => parseSdFileKey(name)), output: values.output};
        }
        case undefined:
            throw new UsageError("missing action: sd list or sd download");
        default:
            throw new UsageError(`unknown action "${action}": use sd list or sd download`);
    }
}

/** `v720-bridge sd list|download …`. Resolves to the exit code; never rejects on camera or file errors. */
export async function runSdCommand(args: readonly string[], io: CliIo): Promise<number> {
    let request: SdListRequest | SdDownloadRequest | "help";
    try {
        request = parseSdArgs(args);
    } catch (error) {
        return usageFailure("sd", error, io);
    }
    if (request === "help") {
        io.stdout.write(SD_USAGE);
        return EXIT_OK;
    }
    if (request.action === "list") {
        const list = request;
        return await withSession("sd", list, io, (client) => listRecordings(client, list, io));
    }
    const download = request;
    return await withSession("sd", download, io, (client) => downloadRecording(client, download, io));
}

async function listRecordings(client: ApClient, request: SdListRequest, io: CliIo): Promise<number> {
    await requireCard(client);
    const dates = request.date === undefined ? await client.listDates() : [request.date];
    const days: SdCatalogue[] = [];
    for (const date of [...dates].sort((a, b) => a - b)) {
        days.push(await client.listFiles(date));
    }
    const where = formatEndpoint(request.camera.host, request.camera.port);
    if (request.json) {
        const json = {
            camera: where,
            days: days.map((day) => ({
                date: formatSdDate(day.date),
                recordings: recordingKeys(day).map((key) => ({
                    name: formatSdFileKey(key),
                    time: `${pad2(key.hours)}:${pad2(key.minute)}`,
                })),
            })),
        };
        io.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
        return EXIT_OK;
    }
    if (days.length === 0) {
        io.stdout.write(`No recordings on the SD card of the camera at ${where}.\n`);
        return EXIT_OK;
    }
    const lines: string[] = [];
    for (const day of days) {
        const keys = recordingKeys(day);
        lines.push(`${formatSdDate(day.date)}  ${keys.length} recording${keys.length === 1 ? "" : "s"}`);
        const times = keys.map((key) => `${pad2(key.hours)}:${pad2(key.minute)}`);
        for (let index = 0; index < times.length; index += 12) {
            lines.push(`  ${times.slice(index, index + 12).join(" ")}`);
        }
    }
    const example = days.flatMap(recordingKeys)[0];
    if (example !== undefined) {
        lines.push(
            "",
            `Download one with: v720-bridge sd download ${formatSdFileKey(example)} -o ${formatSdFileKey(example)}.avi`,
        );
    }
    io.stdout.write(`${lines.join("\n")}\n`);
    return EXIT_OK;
}

async function downloadRecording(client: ApClient, request: SdDownloadRequest, io: CliIo): Promise<number> {
    const name = formatSdFileKey(request.key);
    await requireCard(client);
    const info = await client.fileInfo(request.key);
    const partPath = `${request.output}.part`;
    const output = createWriteStream(partPath, {flags: "w"});
    try {
        await opened(output);
    } catch (error) {
        io.stderr.write(`v720-bridge sd: cannot write ${partPath}: ${errorMessage(error)}\n`);
        return EXIT_FAILURE;
    }
    io.stderr.write(`Downloading ${name} (${formatBytes(info.fileSize)}) to ${request.output}\n`);
    const progress = new DownloadProgress({
        label: name,
        totalBytes: info.fileSize > 0 ? info.fileSize : undefined,
        sink: io.stderr,
        ...(io.now === undefined ? {} : {now: io.now}),
    });
    let bytes = 0;
    try {
        const result = await client.download(request.key, output, {
            expectedBytes: info.fileSize > 0 ? info.fileSize : undefined,
            onProgress: (received) => progress.update(received),
        });
        bytes = result.bytes;
        progress.finish();
    } catch (error) {
        progress.interrupt();
        output.end();
        await finished(output).catch(() => undefined);
        if (error instanceof ApError) {
            const kept = `The ${formatBytes(error.bytes ?? 0)} received so far are in ${partPath}; run the same command again to start over.`;
            if (error.failure === "aborted") {
                io.stderr.write(`v720-bridge sd: interrupted. ${kept}\n`);
                return EXIT_INTERRUPTED;
            }
            io.stderr.write(`v720-bridge sd: download of ${name} failed: ${error.message}. ${kept}\n`);
            return EXIT_FAILURE;
        }
        throw error;
    }
    output.end();
    try {
        await finished(output);
        await rename(partPath, request.output);
    } catch (error) {
        io.stderr.write(`v720-bridge sd: cannot save ${request.output}: ${errorMessage(error)}\n`);
        return EXIT_FAILURE;
    }
    io.stdout.write(`Saved ${name} to ${request.output} (${bytes} bytes).\n`);
    return EXIT_OK;
}

/** Fails when the camera says there is no card; carries on when it does not answer 218. */
async function requireCard(client: ApClient): Promise<void> {
    const status = await client.sdCardStatus();
    if (status !== undefined && status <= 0) {
        throw new ApError(
            "sdStatus",
            "rejected",
            `the camera reports ${describeSdStatus(status)} (sdDevStatus ${status})`,
        );
    }
}

function recordingKeys(day: SdCatalogue): SdFileKey[] {
    return [...day.hours]
        .sort((a, b) => a.hour - b.hour)
        .flatMap((entry) => entry.minutes.map((minute) => ({date: day.date, hours: entry.hour, minute})));
}

// ---- shared ------------------------------------------------------------------------------------

/** Connects, opens the session (115, 501), runs `body`, closes; maps ApError to a message and exit code 1. */
async function withSession(
    command: "wifi" | "sd",
    request: CommonOptions,
    io: CliIo,
    body: (client: ApClient) => Promise<number>,
): Promise<number> {
    const {host, port} = request.camera;
    const now = io.now ?? Date.now;
    let client: ApClient | undefined;
    try {
        client = await ApClient.connect({
            host,
            port,
            connectTimeoutMs: request.timeoutMs,
            replyTimeoutMs: request.timeoutMs,
            log: io.log ?? silentLogger,
            ...(io.signal === undefined ? {} : {signal: io.signal}),
        });
        const nowMs = now();
        await client.openSession(AP_TEST_TOKEN, localUnixTimer(nowMs, new Date(nowMs).getTimezoneOffset()));
        return await body(client);
    } catch (error) {
        if (!(error instanceof ApError)) {
            throw error;
        }
        if (error.failure === "aborted") {
            io.stderr.write(`v720-bridge ${command}: interrupted\n`);
            return EXIT_INTERRUPTED;
        }
        io.stderr.write(`v720-bridge ${command}: ${describeApFailure(error, request.camera)}\n`);
        return EXIT_FAILURE;
    } finally {
        await client?.close();
    }
}

/** The user-facing explanation of a failed step, with what to do about it. */
export function describeApFailure(error: ApError, camera: Endpoint): string {
    const where = formatEndpoint(camera.host, camera.port);
    const joinHint =
        "Is this computer connected to the camera's own Wi-Fi (an open network named Nax_<camera id>)? " +
        "A camera that is already on your network does not offer it.";
    const busyHint =
        "The camera serves one client at a time: close the V720 app, wait a few seconds and try again; " +
        "if it keeps failing, unplug and replug the camera.";
    switch (error.failure) {
        case "timeout":
            return error.step === "connect"
                ? `${error.message}. ${joinHint}`
                : `the camera at ${where} accepted the connection but ${error.message.replace(/^the camera /, "")}. ${busyHint}`;
        case "unreachable":
            return `${error.message}. ${joinHint}`;
        case "refused":
            return `${error.message}: nothing listens on port ${camera.port} there. In AP mode the camera is ${AP_DEFAULT_HOST}:${AP_DEFAULT_PORT}.`;
        case "closed":
            return `${error.message} (while waiting for ${AP_STEP_DESCRIPTIONS[error.step]}). ${busyHint}`;
        case "rejected":
            return error.step === "login"
                ? `${error.message}: the camera did not accept the AP session. Restart the camera and try again.`
                : error.message;
        case "missing":
            return `${error.message}. List the recordings with: v720-bridge sd list`;
        case "protocol":
        case "stalled":
        case "incomplete":
        case "aborted":
        case "io":
            return error.message;
        default:
            return assertNever(error.failure);
    }
}

function usageFailure(command: "wifi" | "sd", error: unknown, io: CliIo): number {
    if (error instanceof UsageError || error instanceof RangeError || isParseArgsError(error)) {
        io.stderr.write(
            `v720-bridge ${command}: ${errorMessage(error)}\nRun "v720-bridge ${command} --help" for the options.\n`,
        );
        return EXIT_USAGE;
    }
    throw error;
}

function isParseArgsError(error: unknown): error is Error {
    return error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS");
}

/** `HOST`, `HOST:PORT`, `[IPv6]:PORT` or a bare IPv6 address; default 192.168.169.1:6123. */
export function parseCameraEndpoint(text: string | undefined): Endpoint {
    if (text === undefined) {
        return {host: AP_DEFAULT_HOST, port: AP_DEFAULT_PORT};
    }
    const trimmed = text.trim();
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
    const hostPort = /^([^:[\]\s]+)(?::(\d+))?$/.exec(trimmed);
    let host: string | undefined;
    let portText: string | undefined;
    if (bracketed !== null) {
        host = bracketed[1];
        portText = bracketed[2];
    } else if (hostPort !== null) {
        host = hostPort[1];
        portText = hostPort[2];
    } else if (isIP(trimmed) === 6) {
        host = trimmed;
    }
    const port = portText === undefined ? AP_DEFAULT_PORT : Number(portText);
    if (host === undefined || host.length === 0 || !Number.isInteger(port) || port < 1 || port > 65535) {
        throw new UsageError(`--camera expects HOST[:PORT], e.g. ${AP_DEFAULT_HOST}:${AP_DEFAULT_PORT}; got "${text}"`);
    }
    return {host, port};
}

function parseTimeout(text: string | undefined): number {
    if (text === undefined) {
        return AP_DEFAULT_TIMEOUT_MS;
    }
    const value = /^\d+(\.\d+)?$/.test(text.trim()) ? Number(text) : Number.NaN;
    if (!(value > 0 && value <= MAX_TIMEOUT_S)) {
        throw new UsageError(`--timeout expects seconds between 0 and ${MAX_TIMEOUT_S}, got "${text}"`);
    }
    return Math.round(value * 1000);
}

function parseOrUsage<T>(parse: () => T): T {
    try {
        return parse();
    } catch (error) {
        if (error instanceof RangeError) {
            throw new UsageError(error.message);
        }
        throw error;
    }
}

function opened(stream: WriteStream): Promise<void> {
    return new Promise((resolve, reject) => {
        stream.once("open", () => {
            stream.off("error", reject);
            resolve();
        });
        stream.once("error", reject);
    });
}

function errorMessage(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
