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
 * | /app/api/ApiSysDevices/getDevInfo            | the new-firmware-notes.md §4.4 superset     |
 * | /app/api/ApiSysDevices/a9bindingAppDevice    | null                                        |
 * | any other path under /app/                   | null (generic success, reported as unknown) |
 *
 * Hosts newer firmware looks up besides the cloud (new-firmware-notes.md §8 "Safety", §2 of
 * protocol-notes.md): any method and path for `dl2.*` (download, probably OTA) gets an empty 404, so
 * no byte we send can ever be taken for a firmware image; `home.*` and `logo.*` (purpose unknown,
 * probably logging) get the generic success every unknown cloud call gets (§4.4), so a logger has
 * no reason to retry. Both are reported as `sinkhole` events.
 *
 * OTA safety: `ota_url`, `updateUrl` and `version` are null in every reply (new-firmware-notes.md §1.4, §8).
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

export type BootstrapKind = keyof typeof BootstrapPath | "unknown" | "sinkhole";

/**
 * getDevInfo reply variant (new-firmware-notes.md §8 E1): "superset" (§4.4, default) or "minimal"
 * (`{"userInfo_state":1}` only, what intx82 a0ccf58 sends and 202411201737 accepted).
 */
export type DevInfoReply = "superset" | "minimal";

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
    /** getDevInfo variant; default "superset". */
    readonly devInfoReply?: DevInfoReply | undefined;
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
    /** The Host header (lower case, port removed), when the request had one; set for sinkhole events. */
    readonly host?: string;
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
            body = buildDevInfoBody(request, devicesCode, options);
            break;
        case "a9bindingAppDevice":
        case "unknown":
        case "sinkhole": // not a path kind: sinkholes are matched by host (handleSinkholeRequest)
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

/**
 * getDevInfo (new-firmware-notes.md §4.4): the three fields the real cloud sends [proven, second-hand],
 * then the getA9ConfCheck fields [guess] so a camera that caches server parameters at boot has them.
 * `ota_url`, `updateUrl` and `version` are always null: a camera is never offered an update.
 */
function buildDevInfoBody(
    request: BootstrapRequest,
    devicesCode: string | undefined,
    options: BootstrapOptions,
): Record<string, unknown> {
    if (options.devInfoReply === "minimal") {
        // biome-ignore lint/style/useNamingConvention: the vendor cloud's wire key
        return {code: 200, message: "OK", data: {userInfo_state: 1}};
    }
    const uid = devicesCode ?? "";
    return {
        code: 200,
        message: CLOUD_MESSAGE_OK,
        /* biome-ignore-start lint/style/useNamingConvention: the vendor cloud's wire keys */
        data: {
            userInfo_state: 1, // 1 = bound / normal (§4.3)
            userInfo_userId: " ", // as quoted from the real cloud (§4.2); possibly the quoter's redaction
            ota_url: null, // never an update
            uid,
            host: options.advertiseHost ?? request.localAddress,
            tcpPort: options.tcpPort,
            domain: CLOUD_DOMAIN,
            pwd: options.passwordFor(uid),
            isBind: "8",
            currTime: String(Math.floor(options.nowMs() / 1000)),
            updateUrl: null,
            version: null,
        },
        /* biome-ignore-end lint/style/useNamingConvention: the vendor cloud's wire keys */
    };
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

// ---- sinkholed hosts ---------------------------------------------------------------------------

/** What a sinkholed host is taken for. */
export type SinkholeKind = "download" | "logging";

/**
 * Hosts newer firmware resolves (intx82#51 DNS log, readme a0ccf58; new-firmware-notes.md §8 "Safety"),
 * with the .com / .com.cn variants of each.
 */
export const SINKHOLE_HOSTS: Readonly<Record<string, SinkholeKind>> = {
    "dl2.naxclow.com": "download",
    "dl2.naxclow.com.cn": "download",
    "home.naxclow.com": "logging",
    "home.naxclow.com.cn": "logging",
    "logo.naxclow.com": "logging",
    "logo.naxclow.com.cn": "logging",
};

/** `"DL2.Naxclow.com:80"` → `"dl2.naxclow.com"`: lower case, no port, no trailing dot; undefined stays undefined. */
export function normalizeHost(hostHeader: string | undefined): string | undefined {
    if (hostHeader === undefined) {
        return undefined;
    }
    let host = hostHeader.trim().toLowerCase();
    if (host.startsWith("[")) {
        const close = host.indexOf("]");
        return close < 0 ? host : host.slice(0, close + 1);
    }
    const colon = host.indexOf(":");
    if (colon >= 0) {
        host = host.slice(0, colon);
    }
    return host.endsWith(".") ? host.slice(0, -1) : host;
}

/** The sinkhole kind of a Host header, or undefined when the host is not sinkholed. */
export function sinkholeKindOf(hostHeader: string | undefined): SinkholeKind | undefined {
    const host = normalizeHost(hostHeader);
    return host !== undefined && Object.hasOwn(SINKHOLE_HOSTS, host) ? SINKHOLE_HOSTS[host] : undefined;
}

export interface SinkholeResult {
    readonly status: 200 | 404;
    /** Empty for the download host. */
    readonly body: string;
    readonly event: BootstrapEvent;
}

/**
 * Answers any request to a sinkholed host, or returns undefined when the Host is not one.
 * download → 404 with an empty body ("serve nothing there", §8); logging → 200 generic success (§4.4).
 */
export function handleSinkholeRequest(
    request: BootstrapRequest,
    hostHeader: string | undefined,
): SinkholeResult | undefined {
    const kind = sinkholeKindOf(hostHeader);
    const host = normalizeHost(hostHeader);
    if (kind === undefined || host === undefined) {
        return undefined;
    }
    const deviceId = new URLSearchParams(request.query).get("devicesCode") ?? undefined;
    const event: BootstrapEvent = {
        kind: "sinkhole",
        ...(deviceId === undefined ? {} : {deviceId}),
        ...(request.firmware === undefined ? {} : {firmware: request.firmware}),
        remoteAddress: request.remoteAddress,
        path: request.path,
        query: request.query,
        host,
    };
    return kind === "download"
        ? {status: 404, body: "", event}
        : {status: 200, body: JSON.stringify(GENERIC_OK), event};
}

// ---- byte-exact reply head -------------------------------------------------------------------------

/** What the real cloud and the fake server in the capture sent (protocol-notes.md §3.2); kept for fidelity. */
export const CLOUD_SERVER_HEADER = "nginx/1.14.0 (Ubuntu)";

export interface CloudReplyHeadOptions {
    readonly bodyBytes: number;
    /** `Content-Type` is sent only with a non-empty body. Default application/json. */
    readonly contentType?: string | undefined;
    readonly nowMs: number;
    /** `Connection: keep-alive` instead of `close`. */
    readonly isKeepAlive?: boolean | undefined;
    /** Extra headers after Connection (e.g. Allow). */
    readonly extra?: readonly (readonly [string, string])[] | undefined;
}

/**
 * The header lines of a reply to a camera, in the real cloud's order (protocol-notes.md §3.2, capture
 * frame 30): Server, Date, Content-Type, Content-Length (UTF-8 bytes), Connection. Nothing else: no
 * Keep-Alive, no Transfer-Encoding. `Connection: close` by default (new-firmware-notes.md §4.4): the
 * camera sends one request per connection and closes it itself [CAP], so closing after the reply
 * costs nothing and also serves a parser that reads until the close.
 */
export function buildCloudReplyHeaders(options: CloudReplyHeadOptions): [string, string][] {
    const headers: [string, string][] = [
        ["Server", CLOUD_SERVER_HEADER],
        ["Date", new Date(options.nowMs).toUTCString()],
    ];
    if (options.bodyBytes > 0) {
        headers.push(["Content-Type", options.contentType ?? "application/json"]);
    }
    headers.push(["Content-Length", String(options.bodyBytes)]);
    headers.push(["Connection", options.isKeepAlive === true ? "keep-alive" : "close"]);
    for (const header of options.extra ?? []) {
        headers.push([header[0], header[1]]);
    }
    return headers;
}

/** `::ffff:10.42.0.1` → `10.42.0.1`; anything else unchanged; undefined → "". */
export function stripIpv4Mapped(address: string | undefined): string {
    if (address === undefined) {
        return "";
    }
    return address.startsWith("::ffff:") && address.includes(".") ? address.slice("::ffff:".length) : address;
}
