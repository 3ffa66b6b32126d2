/**
 * The camera's HTTP bootstrap call (protocol-notes.md §3): one raw POST per TCP connection, the
 * exact request bytes of the capture, one response read, then the camera closes the connection.
 * Raw `node:net` rather than `node:http`, so no header the camera never sends sneaks in.
 */
import net from "node:net";
import {buildBootstrapRequest, CONF_CHECK_PATH, DEFAULT_DOMAIN} from "./deviceMessages.js";

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
                const response = parseHttpResponse(received, false);
                if (response !== undefined) {
                    finish(undefined, response);
                }
            } catch (error) {
                finish(error instanceof Error ? error : new BootstrapError(String(error)));
            }
        });
        socket.on("end", () => {
            try {
                const response = parseHttpResponse(received, true);
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
 */
export function parseHttpResponse(bytes: Buffer, ended: boolean): HttpResponse | undefined {
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
        return {status, body: Buffer.from(rest.subarray(0, expected))};
    }
    if ((headers.get("transfer-encoding") ?? "").toLowerCase().includes("chunked")) {
        return decodeChunked(rest, status, ended);
    }
    return ended ? {status, body: Buffer.from(rest)} : undefined;
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
}

/** POST getA9ConfCheck as the camera does and return where to connect. Rejects with BootstrapError. */
export async function fetchConfCheck(request: ConfCheckRequest): Promise<ConfCheck> {
    const response = await exchangeHttp({
        host: request.host,
        port: request.port,
        timeoutMs: request.timeoutMs,
        ...(request.signal === undefined ? {} : {signal: request.signal}),
        request: buildBootstrapRequest(
            CONF_CHECK_PATH,
            [
                ["devicesCode", request.deviceId],
                ["random", request.random],
                ["token", request.token],
            ],
            request.firmware,
        ),
    });
    if (response.status !== 200) {
        throw new BootstrapError(`getA9ConfCheck answered HTTP ${response.status}`);
    }
    return parseConfCheck(response.body);
}
