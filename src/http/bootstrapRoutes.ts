/**
 * The fake cloud's bootstrap API (protocol-notes.md §3): a PURE mapping from one camera request to
 * the exact JSON body the real cloud sends. No I/O: ids, passwords and the clock are injected, and
 * httpServer.ts does the framing (status line, Content-Length in UTF-8 bytes, reply without a body).
 *
 * | Path (POST)                                  | `data`                                      |
 * |----------------------------------------------|---------------------------------------------|
 * | /app/api/ApiSysDevicesBatch/registerDevices  | a new 12-char device id                     |
 * | /app/api/ApiSysDevicesBatch/confirm          | null                                        |
 * | /app/api/ApiServer/getA9ConfCheck            | {tcpPort, uid, isBind, domain, …} (§3.4)    |
 * | /app/api/ApiSysDevices/getDevInfo            | {"userInfo_state":1}                        |
 * | /app/api/ApiSysDevices/a9bindingAppDevice    | null                                        |
 * | any other path under /app/                   | null (generic success, reported as unknown) |
 */
import {assertNever} from "../util/assertNever.js";

/** "operation succeeded", what the real cloud sends (protocol-notes.md §3.2); 12 UTF-8 bytes for 4 characters. */
export const CLOUD_MESSAGE_OK = "操作成功";
/** Echoed by the camera in code 100 (protocol-notes.md §3.4). */
export const CLOUD_DOMAIN = "v720.naxclow.com";
/** Every bootstrap path starts with this; anything under it is answered (issue 2 item 3). */
export const BOOTSTRAP_PREFIX = "/app/";

export const BootstrapPath = {
    registerDevices: "/app/api/ApiSysDevicesBatch/registerDevices",
    confirm: "/app/api/ApiSysDevicesBatch/confirm",
    getA9ConfCheck: "/app/api/ApiServer/getA9ConfCheck",
    getDevInfo: "/app/api/ApiSysDevices/getDevInfo",
    a9bindingAppDevice: "/app/api/ApiSysDevices/a9bindingAppDevice",
} as const;

export type BootstrapKind = keyof typeof BootstrapPath | "unknown";

/** One camera request, already taken apart by the HTTP edge. */
export interface BootstrapRequest {
    readonly method: string;
    /** Path without the query string, e.g. `/app/api/ApiServer/getA9ConfCheck`. */
    readonly path: string;
    /** Raw query string without `?` (possibly empty). */
    readonly query: string;
    /** The non-standard `version` header: the firmware build string (protocol-notes.md §3.1). */
    readonly firmware: string | undefined;
    /** Address of the camera (IPv4-mapped prefix stripped by the caller). */
    readonly remoteAddress: string;
    /** Our address on the connection the camera used (IPv4-mapped prefix stripped by the caller). */
    readonly localAddress: string;
}

export interface BootstrapOptions {
    /** Port of the TCP (and UDP) control session, sent as `tcpPort`. */
    readonly tcpPort: number;
    /** Sent as `host` instead of the local address of the connection when set. */
    readonly advertiseHost?: string | undefined;
    /** A fresh 12-character device id for registerDevices (decisions.md 4). */
    issueDeviceId(): string;
    /** The 8-hex-digit `pwd` for a device; the camera returns it as `token` in code 100. */
    passwordFor(deviceId: string): string;
    /** Wall clock in ms (Date.now in production). */
    nowMs(): number;
}

/** What the app records for each bootstrap request (firmware, last contact, unknown paths). */
export interface BootstrapEvent {
    readonly kind: BootstrapKind;
    /** The id handed out (registerDevices) or the `devicesCode` query parameter. */
    readonly deviceId?: string;
    /** The `version` header. */
    readonly firmware?: string;
    readonly remoteAddress: string;
    readonly path: string;
    readonly query: string;
}

export type BootstrapResult =
    | {readonly status: 200; readonly body: string; readonly event: BootstrapEvent}
    | {readonly status: 405; readonly body: string};

/** Generic success: unknown paths and a9bindingAppDevice (protocol-notes.md §3.3 #4, new-firmware-notes.md §4.4). */
const GENERIC_OK = {code: 200, message: "OK", data: null} as const;

/**
 * Maps a request to its reply, or `undefined` when the path is not under `/app/` (not ours).
 * A non-POST under `/app/` is a 405. Never throws on any input.
 */
export function handleBootstrapRequest(
    request: BootstrapRequest,
    options: BootstrapOptions,
): BootstrapResult | undefined {
    if (!request.path.startsWith(BOOTSTRAP_PREFIX)) {
        return undefined;
    }
    if (request.method !== "POST") {
        return {
            status: 405,
            body: JSON.stringify({error: "method not allowed", method: request.method, allow: "POST"}),
        };
    }
    const params = new URLSearchParams(request.query);
    const devicesCode = params.get("devicesCode") ?? undefined;
    const kind = kindOf(request.path);
    let body: unknown;
    let deviceId = devicesCode;
    switch (kind) {
        case "registerDevices":
            deviceId = options.issueDeviceId();
            body = {code: 200, message: CLOUD_MESSAGE_OK, data: deviceId};
            break;
        case "confirm":
            body = {code: 200, message: CLOUD_MESSAGE_OK, data: null};
            break;
        case "getA9ConfCheck":
            body = {code: 200, message: CLOUD_MESSAGE_OK, data: buildConfCheckData(request, devicesCode, options)};
            break;
        case "getDevInfo":
            // intx82 a0ccf58 / issue #51: firmware ≥ 202411 gates the classic flow on this reply (protocol-notes.md §3.3 #5)
            // biome-ignore lint/style/useNamingConvention: the vendor cloud's wire key
            body = {code: 200, message: "OK", data: {userInfo_state: 1}};
            break;
        case "a9bindingAppDevice":
        case "unknown":
            body = GENERIC_OK;
            break;
        default:
            return assertNever(kind);
    }
    const event: BootstrapEvent = {
        kind,
        ...(deviceId === undefined ? {} : {deviceId}),
        ...(request.firmware === undefined ? {} : {firmware: request.firmware}),
        remoteAddress: request.remoteAddress,
        path: request.path,
        query: request.query,
    };
    return {status: 200, body: JSON.stringify(body), event};
}

/** The getA9ConfCheck `data` object, keys in the real cloud's order (protocol-notes.md §3.4). */
function buildConfCheckData(
    request: BootstrapRequest,
    devicesCode: string | undefined,
    options: BootstrapOptions,
): Record<string, unknown> {
    const uid = devicesCode ?? "";
    return {
        tcpPort: options.tcpPort, // number
        uid, // echo of devicesCode, as intx82 does
        isBind: "8", // a string, always "8"
        domain: CLOUD_DOMAIN,
        updateUrl: null, // keep null: a URL would probably start an OTA update
        host: options.advertiseHost ?? request.localAddress, // §12: the address the camera reached us on
        currTime: String(Math.floor(options.nowMs() / 1000)), // a string of unix seconds
        pwd: options.passwordFor(uid),
        version: null, // keep null (OTA)
    };
}

function kindOf(path: string): BootstrapKind {
    for (const [kind, known] of Object.entries(BootstrapPath)) {
        if (path === known) {
            return kind as keyof typeof BootstrapPath;
        }
    }
    return "unknown";
}

/** `::ffff:10.42.0.1` → `10.42.0.1`; anything else unchanged; undefined → "". */
export function stripIpv4Mapped(address: string | undefined): string {
    if (address === undefined) {
        return "";
    }
    return address.startsWith("::ffff:") && address.includes(".") ? address.slice("::ffff:".length) : address;
}
