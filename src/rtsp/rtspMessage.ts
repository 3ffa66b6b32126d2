/**
 * PURE RTSP/1.0 request parser and response writer (RFC 2326 §6, §7, §10.12). The parser is
 * incremental and also splits out interleaved binary frames (`$` channel length payload) that
 * clients send on the same connection (RTCP receiver reports).
 *
 * Bad input never throws: it becomes an `error` event with the status to answer and whether the
 * connection can go on (the next message can still be found) or must close (framing is lost).
 */

export interface RtspRequest {
    readonly method: string;
    /** As sent: `rtsp://host:port/path`, a path, or `*`. */
    readonly uri: string;
    /** Lower-case names; repeated headers joined with ", ". */
    readonly headers: ReadonlyMap<string, string>;
    readonly cseq: number;
    readonly body: Buffer;
}

export type RtspParseEvent =
    | {readonly kind: "request"; readonly request: RtspRequest}
    | {readonly kind: "interleaved"; readonly channel: number; readonly payload: Buffer}
    | {
          readonly kind: "error";
          readonly status: number;
          readonly reason: string;
          /** CSeq when it could be read, so the answer can carry it. */
          readonly cseq: number | undefined;
          /** The connection must close after the answer: the next message cannot be found. */
          readonly isFatal: boolean;
      };

export interface RtspParserLimits {
    /** Request line plus headers. Default 8 KiB. */
    readonly maxHeaderBytes?: number | undefined;
    /** Declared Content-Length. Default 64 KiB. */
    readonly maxBodyBytes?: number | undefined;
}

export const DEFAULT_MAX_HEADER_BYTES = 8 * 1024;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

const CR = 0x0d;
const LF = 0x0a;
const DOLLAR = 0x24;
const REQUEST_LINE = /^([A-Z_][A-Z0-9_-]{0,31}) (\S{1,4096}) RTSP\/(\d)\.(\d)$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export class RtspRequestParser {
    readonly #maxHeaderBytes: number;
    readonly #maxBodyBytes: number;
    #pending: Buffer = Buffer.alloc(0);
    #isBroken = false;

    constructor(limits: RtspParserLimits = {}) {
        this.#maxHeaderBytes = limits.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
        this.#maxBodyBytes = limits.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    }

    push(chunk: Buffer): RtspParseEvent[] {
        if (this.#isBroken) {
            return [];
        }
        this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
        const events: RtspParseEvent[] = [];
        let offset = 0;
        const data = this.#pending;
        while (offset < data.length) {
            const first = data[offset];
            if (first === CR || first === LF) {
                offset += 1; // blank lines between messages
                continue;
            }
            if (first === DOLLAR) {
                if (data.length - offset < 4) {
                    break;
                }
                const length = data.readUInt16BE(offset + 2);
                if (data.length - offset < 4 + length) {
                    break;
                }
                events.push({
                    kind: "interleaved",
                    channel: data[offset + 1] ?? 0,
                    payload: Buffer.from(data.subarray(offset + 4, offset + 4 + length)),
                });
                offset += 4 + length;
                continue;
            }
            const headEnd = findHeadEnd(data, offset, this.#maxHeaderBytes);
            if (headEnd === undefined) {
                if (data.length - offset > this.#maxHeaderBytes) {
                    events.push(this.#fatal(400, "request head too long", undefined));
                    return events;
                }
                break;
            }
            if (headEnd.end - offset > this.#maxHeaderBytes) {
                events.push(this.#fatal(400, "request head too long", undefined));
                return events;
            }
            const head = data.toString("latin1", offset, headEnd.headLength + offset);
            const parsed = parseHead(head);
            const contentLength = parsed.contentLength;
            if (contentLength === "invalid") {
                events.push(this.#fatal(400, "bad Content-Length", parsed.cseq));
                return events;
            }
            if (contentLength > this.#maxBodyBytes) {
                events.push(this.#fatal(413, "request body too large", parsed.cseq));
                return events;
            }
            if (data.length - headEnd.end < contentLength) {
                break;
            }
            const body = Buffer.from(data.subarray(headEnd.end, headEnd.end + contentLength));
            offset = headEnd.end + contentLength;
            if ("error" in parsed) {
                events.push({
                    kind: "error",
                    status: parsed.status,
                    reason: parsed.error,
                    cseq: parsed.cseq,
                    isFatal: false,
                });
            } else {
                events.push({kind: "request", request: {...parsed.request, body}});
            }
        }
        this.#pending = offset >= data.length ? Buffer.alloc(0) : Buffer.from(data.subarray(offset));
        return events;
    }

    #fatal(status: number, reason: string, cseq: number | undefined): RtspParseEvent {
        this.#isBroken = true;
        this.#pending = Buffer.alloc(0);
        return {kind: "error", status, reason, cseq, isFatal: true};
    }
}

/** End of the head (after the blank line), accepting CRLF or bare LF line ends. */
function findHeadEnd(data: Buffer, start: number, limit: number): {end: number; headLength: number} | undefined {
    const stop = Math.min(data.length, start + limit + 4);
    for (let i = start; i < stop; i++) {
        if (data[i] !== LF) {
            continue;
        }
        if (data[i + 1] === LF) {
            return {end: i + 2, headLength: i - start};
        }
        if (data[i + 1] === CR && data[i + 2] === LF) {
            return {end: i + 3, headLength: i - start};
        }
    }
    return undefined;
}

type ParsedHead = (
    | {readonly request: Omit<RtspRequest, "body">}
    | {readonly error: string; readonly status: number}
) & {readonly cseq: number | undefined; readonly contentLength: number | "invalid"};

function parseHead(head: string): ParsedHead {
    const lines = head.split(/\r?\n/);
    const headers = new Map<string, string>();
    let headerError: string | undefined;
    for (const line of lines.slice(1)) {
        if (line === "") {
            continue;
        }
        const colon = line.indexOf(":");
        const name = colon > 0 ? line.slice(0, colon).trim() : "";
        if (colon <= 0 || !HEADER_NAME.test(name)) {
            headerError ??= "malformed header line";
            continue;
        }
        const key = name.toLowerCase();
        const value = line.slice(colon + 1).trim();
        const previous = headers.get(key);
        headers.set(key, previous === undefined ? value : `${previous}, ${value}`);
    }
    const cseqText = headers.get("cseq");
    const cseq = cseqText !== undefined && /^\d{1,9}$/.test(cseqText) ? Number(cseqText) : undefined;
    const lengthText = headers.get("content-length");
    let contentLength: number | "invalid" = 0;
    if (lengthText !== undefined) {
        contentLength = /^\d{1,9}$/.test(lengthText) ? Number(lengthText) : "invalid";
    }
    const match = REQUEST_LINE.exec(lines[0] ?? "");
    if (match === null) {
        return {error: "malformed request line", status: 400, cseq, contentLength};
    }
    if (headerError !== undefined) {
        return {error: headerError, status: 400, cseq, contentLength};
    }
    if (cseq === undefined) {
        return {error: cseqText === undefined ? "missing CSeq" : "bad CSeq", status: 400, cseq, contentLength};
    }
    if (match[3] !== "1" || match[4] !== "0") {
        return {error: "RTSP version not supported", status: 505, cseq, contentLength};
    }
    return {request: {method: match[1] ?? "", uri: match[2] ?? "", headers, cseq}, cseq, contentLength};
}

export const STATUS_TEXT: Readonly<Record<number, string>> = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Request Entity Too Large",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
};

export type RtspHeaders = readonly (readonly [name: string, value: string])[];

/** `RTSP/1.0 <status> <text>`, CSeq first (when known), the headers, Content-Length when there is a body. */
export function buildRtspResponse(
    status: number,
    cseq: number | undefined,
    headers: RtspHeaders = [],
    body: Buffer | string = "",
): Buffer {
    const bodyBytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    const lines = [`RTSP/1.0 ${status} ${STATUS_TEXT[status] ?? "Unknown"}`];
    if (cseq !== undefined) {
        lines.push(`CSeq: ${cseq}`);
    }
    for (const [name, value] of headers) {
        lines.push(`${name}: ${value.replace(/[\r\n]/g, " ")}`);
    }
    if (bodyBytes.length > 0) {
        lines.push(`Content-Length: ${bodyBytes.length}`);
    }
    return Buffer.concat([Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1"), bodyBytes]);
}
