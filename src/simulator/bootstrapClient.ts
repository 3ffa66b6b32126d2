/**
 * The camera's HTTP bootstrap call (protocol-notes.md §3): one raw POST per TCP connection, the
 * exact request bytes of the capture, one response read, then the camera closes the connection.
 * Raw `node:net` rather than `node:http`, so no header the camera never sends sneaks in.
 */
import net from "node:net";
import {buildBootstrapRequest, CONF_CHECK_PATH, DEFAULT_DOMAIN, DEV_INFO_PATH} from "./deviceMessages.js";

/** The fields of getA9ConfCheck's `data` the camera uses (§3.4). */
export interface ConfCheck {
    readonly host: string;
    readonly tcpPort: number;
    readonly pwd: string;
    readonly domain: string;
}

export class BootstrapError extends Error {
    override readonly name = "BootstrapError";
}

export interface HttpExchange {
    readonly host: string;
    readonly port: number;
    readonly request: Buffer;
    readonly timeoutMs: number;
    /** Aborting destroys the connection and rejects. */
    readonly signal?: AbortSignal;
    /** Read the reply as a strict firmware might (see parseHttpResponse). */
    readonly strict?: boolean;
}

export interface HttpResponse {
    readonly status: number;
    readonly body: Buffer;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** Sends `request` on a fresh connection and reads one response. Rejects with BootstrapError. */
export function exchangeHttp(exchange: HttpExchange): Promise<HttpResponse> {
    return new Promise((resolve, reject) => {
        const socket = net.connect({host: exchange.host, port: exchange.port});
        let received = Buffer.alloc(0);
        let settled = false;
        const finish = (error: Error | undefined, response?: HttpResponse): void => {
            if (settled) {
                return;
            }
            settled = true;
            clearTimeout(timer);
            exchange.signal?.removeEventListener("abort", onAbort);
            socket.destroy(); // the camera closes right after reading the response (§2 boot step 2)
            if (response !== undefined && error === undefined) {
                resolve(response);
            } else {
                reject(error ?? new BootstrapError("no response"));
            }
        };
        const timer = setTimeout(() => {
            finish(new BootstrapError(`no complete HTTP response within ${exchange.timeoutMs} ms`));
        }, exchange.timeoutMs);
        const onAbort = (): void => finish(new BootstrapError("bootstrap aborted"));
        if (exchange.signal?.aborted === true) {
            onAbort();
            return;
        }
        exchange.signal?.addEventListener("abort", onAbort, {once: true});
        socket.on("error", (error) => {
            finish(new BootstrapError(`bootstrap connection failed: ${error.message}`, {cause: error}));
        });
        socket.on("connect", () => {
            socket.write(exchange.request);
        });
        socket.on("data", (chunk: Buffer) => {
            received = Buffer.concat([received, chunk]);
            if (received.length > MAX_RESPONSE_BYTES) {
                finish(new BootstrapError("HTTP response too large"));
                return;
            }
            try {
                const response = parseHttpResponse(received, false, exchange.strict === true);
                if (response !== undefined) {
                    finish(undefined, response);
                }
            } catch (error) {
                finish(error instanceof Error ? error : new BootstrapError(String(error)));
            }
        });
        socket.on("end", () => {
            try {
                const response = parseHttpResponse(received, true, exchange.strict === true);
                finish(
                    response === undefined ? new BootstrapError("connection closed mid-response") : undefined,
                    response,
                );
            } catch (error) {
                finish(error instanceof Error ? error : new BootstrapError(String(error)));
            }
        });
    });
}

/**
 * A complete response in `bytes`, or undefined when more is needed. Handles Content-Length,
 * chunked bodies and (when `ended`) bodies delimited by the close. Throws BootstrapError on garbage.
 *
 * `strict` reads the way a firmware that gives up on intx82's framing might (new-firmware-notes.md
 * §1.5): a Content-Length is required (no chunked or close-delimited body), the body is exactly
 * that many bytes and starts with `{`, and a 200 body must be a JSON object.
 */
export function parseHttpResponse(bytes: Buffer, ended: boolean, strict = false): HttpResponse | undefined {
    const headerEnd = bytes.indexOf("\r\n\r\n");
    if (headerEnd < 0) {
        if (ended) {
            throw new BootstrapError("connection closed inside the HTTP headers");
        }
        return undefined;
    }
    const lines = bytes.toString("latin1", 0, headerEnd).split("\r\n");
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? "");
    if (statusMatch === null) {
        throw new BootstrapError(`not an HTTP response: ${JSON.stringify((lines[0] ?? "").slice(0, 40))}`);
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        if (colon > 0) {
            headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
    }
    const status = Number(statusMatch[1]);
    const rest = bytes.subarray(headerEnd + 4);
    const length = headers.get("content-length");
    if (length !== undefined) {
        const expected = Number(length);
        if (!Number.isInteger(expected) || expected < 0) {
            throw new BootstrapError(`bad Content-Length ${JSON.stringify(length)}`);
        }
        if (rest.length < expected) {
            if (ended) {
                throw new BootstrapError(`body shorter than Content-Length: ${rest.length} < ${expected}`);
            }
            return undefined;
        }
        const body = Buffer.from(rest.subarray(0, expected));
        if (strict) {
            checkStrictBody(status, body);
        }
        return {status, body};
    }
    if (strict) {
        throw new BootstrapError("strict reader: the reply has no Content-Length");
    }
    if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
        return decodeChunked(rest, status, ended);
    }
    return ended ? {status, body: Buffer.from(rest)} : undefined;
}

function checkStrictBody(status: number, body: Buffer): void {
    if (body.length > 0 && body[0] !== 0x7b) {
        throw new BootstrapError(`strict reader: ${body.length}-byte body does not start with "{"`);
    }
    if (status !== 200) {
        return;
    }
    try {
        const value: unknown = JSON.parse(body.toString("utf8"));
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
            throw new BootstrapError("strict reader: the body is not a JSON object");
        }
    } catch (error) {
        if (error instanceof SyntaxError) {
            throw new BootstrapError("strict reader: the body is not JSON", {cause: error});
        }
        throw error;
    }
}

function decodeChunked(bytes: Buffer, status: number, ended: boolean): HttpResponse | undefined {
    const parts: Buffer[] = [];
    let offset = 0;
    for (;;) {
        const lineEnd = bytes.indexOf("\r\n", offset);
        if (lineEnd < 0) {
            break;
        }
        const size = Number.parseInt(bytes.toString("latin1", offset, lineEnd), 16);
        if (!Number.isInteger(size) || size < 0) {
            throw new BootstrapError("bad chunk size");
        }
        if (size === 0) {
            return {status, body: Buffer.concat(parts)};
        }
        if (bytes.length < lineEnd + 2 + size + 2) {
            break;
        }
        parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
        offset = lineEnd + 2 + size + 2;
    }
    if (ended) {
        throw new BootstrapError("connection closed inside a chunked body");
    }
    return undefined;
}

/** Reads `data.host`, `data.tcpPort`, `data.pwd` and `data.domain` of a getA9ConfCheck body (§3.4). */
export function parseConfCheck(body: Buffer): ConfCheck {
    let value: unknown;
    try {
        value = JSON.parse(body.toString("utf8"));
    } catch (error) {
        throw new BootstrapError("getA9ConfCheck body is not JSON", {cause: error});
    }
    const data = typeof value === "object" && value !== null ? (value as {data?: unknown}).data : undefined;
    if (typeof data !== "object" || data === null) {
        throw new BootstrapError("getA9ConfCheck body has no data object");
    }
    const fields = data as {host?: unknown; tcpPort?: unknown; pwd?: unknown; domain?: unknown};
    const tcpPort = typeof fields.tcpPort === "string" ? Number(fields.tcpPort) : fields.tcpPort;
    if (typeof fields.host !== "string" || fields.host.length === 0) {
        throw new BootstrapError("getA9ConfCheck data.host is not a string");
    }
    if (typeof tcpPort !== "number" || !Number.isInteger(tcpPort) || tcpPort < 1 || tcpPort > 65_535) {
        throw new BootstrapError("getA9ConfCheck data.tcpPort is not a port number");
    }
    return {
        host: fields.host,
        tcpPort,
        pwd: typeof fields.pwd === "string" ? fields.pwd : "",
        domain: typeof fields.domain === "string" && fields.domain.length > 0 ? fields.domain : DEFAULT_DOMAIN,
    };
}

export interface ConfCheckRequest {
    readonly host: string;
    readonly port: number;
    readonly deviceId: string;
    readonly random: string;
    readonly token: string;
    readonly firmware: string;
    readonly timeoutMs: number;
    readonly signal?: AbortSignal;
    /** Read replies strictly (the classic-2024 personality). */
    readonly strict?: boolean;
}

/** POST getA9ConfCheck as the camera does and return where to connect. Rejects with BootstrapError. */
export async function fetchConfCheck(request: ConfCheckRequest): Promise<ConfCheck> {
    const response = await postBootstrap(CONF_CHECK_PATH, request);
    if (response.status !== 200) {
        throw new BootstrapError(`getA9ConfCheck answered HTTP ${response.status}`);
    }
    return parseConfCheck(response.body);
}

/** What a getDevInfo reply said (new-firmware-notes.md §4). */
export interface DevInfo {
    readonly userInfoState: number;
    /** The whole `data` object as received. */
    readonly data: Readonly<Record<string, unknown>>;
}

/**
 * POST getDevInfo as firmware ≥ 2024-11 does (new-firmware-notes.md §4.1). The camera goes on only
 * with `code` 200 and a `data` object with `userInfo_state` 1 (§4.2, #51); otherwise this rejects.
 */
export async function fetchDevInfo(request: ConfCheckRequest): Promise<DevInfo> {
    const response = await postBootstrap(DEV_INFO_PATH, request);
    if (response.status !== 200) {
        throw new BootstrapError(`getDevInfo answered HTTP ${response.status}`);
    }
    return parseDevInfo(response.body);
}

/** Reads a getDevInfo body; rejects anything but code 200 with `data.userInfo_state` 1. */
export function parseDevInfo(body: Buffer): DevInfo {
    let value: unknown;
    try {
        value = JSON.parse(body.toString("utf8"));
    } catch (error) {
        throw new BootstrapError("getDevInfo body is not JSON", {cause: error});
    }
    const reply = typeof value === "object" && value !== null ? (value as {code?: unknown; data?: unknown}) : {};
    if (reply.code !== 200) {
        throw new BootstrapError(`getDevInfo answered code ${JSON.stringify(reply.code)}`);
    }
    const data = reply.data;
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
        throw new BootstrapError("getDevInfo body has no data object");
    }
    const state = (data as Record<string, unknown>)["userInfo_state"];
    if (state !== 1) {
        throw new BootstrapError(`getDevInfo userInfo_state is ${JSON.stringify(state)}, not 1`);
    }
    return {userInfoState: state, data: data as Record<string, unknown>};
}

function postBootstrap(path: string, request: ConfCheckRequest): Promise<HttpResponse> {
    return exchangeHttp({
        host: request.host,
        port: request.port,
        timeoutMs: request.timeoutMs,
        ...(request.signal === undefined ? {} : {signal: request.signal}),
        ...(request.strict === true ? {strict: true} : {}),
        request: buildBootstrapRequest(
            path,
            [
                ["devicesCode", request.deviceId],
                ["random", request.random],
                ["token", request.token],
            ],
            request.firmware,
        ),
    });
}
