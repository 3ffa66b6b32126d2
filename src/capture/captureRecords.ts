/**
 * PURE builders of capture records (one JSON object per line). Every record has `t` (ISO 8601),
 * `camera`, `proto` ("http" | "tcp" | "udp" | "mqtt" | "capture") and, for traffic, `dir`
 * ("in" = camera → bridge, "out" = bridge → camera). Secrets are redacted here (redact.ts), so
 * nothing built by this module carries a password or token in clear.
 *
 * | proto     | fields                                                                                  |
 * |-----------|-----------------------------------------------------------------------------------------|
 * | tcp / udp | peer, header {len, cmd, msgFlag, dealFlag, forwardId (hex), pkgId}, then one of:        |
 * |           | json (cmd 0, parsed as UTF-8 with replacement), text + error (cmd 0 that is not JSON),  |
 * |           | hex (a preview of other payloads); `summary` instead for rate-limited media             |
 * | http      | in: peer, method, url (token redacted), path, query, headers, body?; out: status,       |
 * |           | headers, body (JSON) or text                                                            |
 * | mqtt      | packet (connect / subscribe / publish / disconnect), topic, payload (JSON or text), …   |
 * | capture   | event start / end / dropped                                                             |
 */
import type {CaptureDirection, CapturedHeader, CapturePeer, MqttCaptureEvent} from "../model/captureTap.js";
import {assertNever} from "../util/assertNever.js";
import {queryObject, REDACTED, redactJson, redactQuery, redactText} from "./redact.js";

export type CaptureRecord = Record<string, unknown>;

/** Characters of undecodable text kept in a record. */
export const MAX_TEXT_CHARS = 2048;
/** Bytes shown as hex for binary payloads. */
export const HEX_PREVIEW_BYTES = 32;

export function baseRecord(atMs: number, camera: string, proto: string, direction?: CaptureDirection): CaptureRecord {
    const record: CaptureRecord = {t: new Date(atMs).toISOString(), camera, proto};
    if (direction !== undefined) {
        record["dir"] = direction;
    }
    return record;
}

export function headerJson(header: CapturedHeader): Record<string, unknown> {
    return {
        len: header.payloadLength,
        cmd: header.command,
        msgFlag: header.msgFlag,
        dealFlag: header.dealFlag,
        forwardId: Buffer.from(header.forwardId, "latin1").toString("hex"),
        pkgId: header.packageId,
    };
}

/** A TCP or UDP message in full: header, then the payload as JSON, text or hex. */
export function packetRecord(
    atMs: number,
    camera: string,
    transport: "tcp" | "udp",
    direction: CaptureDirection,
    peer: CapturePeer,
    header: CapturedHeader,
    payload: Uint8Array,
): CaptureRecord {
    const record = baseRecord(atMs, camera, transport, direction);
    record["peer"] = `${peer.address}:${peer.port}`;
    record["header"] = headerJson(header);
    if (header.command === 0) {
        Object.assign(record, payloadJson(payload));
    } else if (payload.length > 0) {
        record["hex"] = hexOf(payload);
    }
    return record;
}

/** A device JSON payload: `{json}` when it parses (UTF-8 with replacement), else `{text, error}`. */
export function payloadJson(payload: Uint8Array | string): Record<string, unknown> {
    const text = typeof payload === "string" ? payload : Buffer.from(payload).toString("utf8");
    try {
        return {json: redactJson(JSON.parse(text))};
    } catch (error) {
        if (!(error instanceof SyntaxError)) {
            throw error;
        }
        return {text: clipText(redactText(text)), error: "not valid JSON"};
    }
}

/** Media counted over one window instead of one record per datagram. */
export interface MediaSummary {
    readonly command: number;
    packets: number;
    bytes: number;
    firstPkgId: number;
    lastPkgId: number;
    /** msgFlag 250 (frame heads) for cmd 1. */
    frameHeads: number;
    readonly startedAtMs: number;
}

export function summaryRecord(
    atMs: number,
    camera: string,
    transport: "tcp" | "udp",
    direction: CaptureDirection,
    peer: string,
    summary: MediaSummary,
): CaptureRecord {
    const record = baseRecord(atMs, camera, transport, direction);
    record["peer"] = peer;
    record["summary"] = {
        cmd: summary.command,
        packets: summary.packets,
        bytes: summary.bytes,
        firstPkgId: summary.firstPkgId,
        lastPkgId: summary.lastPkgId,
        ...(summary.command === 1 ? {frameHeads: summary.frameHeads} : {}),
        periodMs: Math.max(0, atMs - summary.startedAtMs),
    };
    return record;
}

export interface HttpRequestInput {
    readonly remoteAddress: string;
    readonly method: string;
    readonly url: string;
    readonly rawHeaders: readonly string[];
    readonly body: Uint8Array | undefined;
    readonly bodyBytes: number;
}

export function httpRequestRecord(atMs: number, camera: string, input: HttpRequestInput): CaptureRecord {
    const record = baseRecord(atMs, camera, "http", "in");
    const mark = input.url.indexOf("?");
    const path = mark < 0 ? input.url : input.url.slice(0, mark);
    const query = mark < 0 ? "" : input.url.slice(mark + 1);
    record["peer"] = input.remoteAddress;
    record["method"] = input.method;
    record["url"] = query === "" ? path : `${path}?${redactQuery(query)}`;
    record["path"] = path;
    record["query"] = queryObject(query);
    record["headers"] = headerPairs(input.rawHeaders);
    if (input.bodyBytes > 0) {
        record["bodyBytes"] = input.bodyBytes;
        if (input.body !== undefined) {
            Object.assign(record, bodyJson(input.body));
        }
    }
    return record;
}

export function httpResponseRecord(
    atMs: number,
    camera: string,
    status: number,
    headers: readonly (readonly [string, string])[],
    body: Uint8Array,
): CaptureRecord {
    const record = baseRecord(atMs, camera, "http", "out");
    record["status"] = status;
    record["headers"] = headers.map(([name, value]) => [name, value]);
    record["bodyBytes"] = body.length;
    if (body.length > 0) {
        Object.assign(record, bodyJson(body));
    }
    return record;
}

export function mqttRecord(
    atMs: number,
    camera: string,
    direction: CaptureDirection,
    event: MqttCaptureEvent,
): CaptureRecord {
    const record = baseRecord(atMs, camera, "mqtt", direction);
    record["packet"] = event.kind;
    switch (event.kind) {
        case "connect":
            record["clientId"] = event.clientId;
            if (event.username !== undefined) {
                record["username"] = event.username;
            }
            record["password"] = event.password === undefined ? null : REDACTED;
            if (event.keepaliveS !== undefined) {
                record["keepaliveS"] = event.keepaliveS;
            }
            if (event.will !== undefined) {
                record["will"] = {topic: event.will.topic, ...payloadJson(event.will.payload)};
            }
            break;
        case "subscribe":
            record["topics"] = [...event.topics];
            break;
        case "publish":
            record["topic"] = event.topic;
            if (event.qos !== undefined) {
                record["qos"] = event.qos;
            }
            if (event.retain !== undefined) {
                record["retain"] = event.retain;
            }
            Object.assign(record, payloadJson(event.payload));
            break;
        case "disconnect":
            if (event.reason !== undefined) {
                record["reason"] = event.reason;
            }
            break;
        default:
            return assertNever(event);
    }
    return record;
}

/** rawHeaders → [[name, value], …] in the order sent; secret header values redacted. */
function headerPairs(rawHeaders: readonly string[]): [string, string][] {
    const pairs: [string, string][] = [];
    for (let index = 0; index + 1 < rawHeaders.length; index += 2) {
        const name = rawHeaders[index] ?? "";
        const value = rawHeaders[index + 1] ?? "";
        const lower = name.toLowerCase();
        pairs.push([name, lower === "authorization" || lower === "cookie" ? REDACTED : value]);
    }
    return pairs;
}

function bodyJson(body: Uint8Array): Record<string, unknown> {
    const parsed = payloadJson(body);
    if ("json" in parsed) {
        return {body: parsed["json"]};
    }
    return {text: parsed["text"], ...(isMostlyBinary(body) ? {hex: hexOf(body)} : {})};
}

function isMostlyBinary(bytes: Uint8Array): boolean {
    let control = 0;
    const length = Math.min(bytes.length, 256);
    for (let index = 0; index < length; index += 1) {
        const byte = bytes[index] ?? 0;
        if (byte < 0x09 || (byte > 0x0d && byte < 0x20)) {
            control += 1;
        }
    }
    return control * 8 > length;
}

function hexOf(bytes: Uint8Array): string {
    const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, HEX_PREVIEW_BYTES));
    return bytes.length > HEX_PREVIEW_BYTES ? `${shown.toString("hex")}…` : shown.toString("hex");
}

function clipText(text: string): string {
    return text.length > MAX_TEXT_CHARS ? `${text.slice(0, MAX_TEXT_CHARS)}…` : text;
}
