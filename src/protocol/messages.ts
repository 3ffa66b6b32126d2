/**
 * JSON payloads (cmd 0) ↔ typed messages. The camera writes JSON by hand with irregular spacing
 * (protocol-notes.md §4, "JSON formatting"), so only a real parser is used. Device JSON is decoded
 * as UTF-8 with replacement characters; unknown keys are kept.
 */
import {Cmd, Code, ContentCode} from "./commands.js";
import {ProtocolError} from "./errors.js";
import {encodePacket, type PacketFields} from "./packet.js";

/** Any JSON object with a numeric `code`, exactly as the device spelled it. */
export interface WireMessage {
    readonly code: number;
    readonly [key: string]: unknown;
}

/** Parses a cmd 0 payload. Throws ProtocolError on invalid UTF-8 JSON, a non-object or a missing numeric `code`. */
export function decodeJson(payload: Uint8Array): WireMessage {
    const text = Buffer.from(payload.buffer, payload.byteOffset, payload.length).toString("utf8");
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        throw new ProtocolError("invalid JSON payload", payload, {cause: error});
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new ProtocolError("JSON payload is not an object", payload);
    }
    const code = (value as {code?: unknown}).code;
    if (typeof code !== "number" || !Number.isInteger(code)) {
        throw new ProtocolError("JSON payload has no numeric code", payload);
    }
    return value as WireMessage;
}

/** Compact UTF-8 JSON bytes of `message`. */
export function encodeJson(message: WireMessage): Buffer {
    return Buffer.from(JSON.stringify(message), "utf8");
}

/** A whole cmd 0 packet carrying `message`. */
export function encodeJsonPacket(message: WireMessage, fields: Omit<PacketFields, "command"> = {}): Buffer {
    return encodePacket({...fields, command: Cmd.json}, encodeJson(message));
}

// ---- typed views of the messages the server acts on ------------------------------------------

/** Code 100 from the camera (protocol-notes.md §8.1). */
export interface RegisterRequest {
    readonly uid: string;
    readonly token: string;
    readonly domain: string;
}

export function parseRegisterRequest(message: WireMessage): RegisterRequest {
    const uid = message["uid"];
    if (message.code !== Code.registerRequest || typeof uid !== "string" || uid.length === 0 || uid.length > 64) {
        throw new ProtocolError("register request without a usable uid");
    }
    return {uid, token: stringField(message, "token"), domain: stringField(message, "domain")};
}

/** Code 12 from the camera (protocol-notes.md §8.3 step 4). */
export interface NatResponse {
    readonly status: number;
    readonly devIp: string;
    readonly devPort: number;
    readonly devNatIp: string;
    readonly devNatPort: number;
    readonly cliTarget: string;
}

export function parseNatResponse(message: WireMessage): NatResponse {
    return {
        status: numberField(message, "status"),
        devIp: stringField(message, "devIp"),
        devPort: numberField(message, "devPort"),
        devNatIp: stringField(message, "devNatIp"),
        devNatPort: numberField(message, "devNatPort"),
        cliTarget: stringField(message, "cliTarget"),
    };
}

/** Code 51 probe response (UDP, protocol-notes.md §8.3 step 5). */
export interface ProbeResponse {
    readonly devTarget: string;
    readonly status: number;
}

export function parseProbeResponse(message: WireMessage): ProbeResponse {
    const devTarget = message["devTarget"];
    if (message.code !== Code.probeResponse || typeof devTarget !== "string" || devTarget.length === 0) {
        throw new ProtocolError("probe response without devTarget");
    }
    return {devTarget, status: numberField(message, "status")};
}

/** A 301 forward's content (protocol-notes.md §6.2); `content` keeps unknown keys. */
export interface Forward {
    readonly target: string;
    readonly content: WireMessage;
}

export function parseForward(message: WireMessage): Forward {
    const content = message["content"];
    if (
        message.code !== Code.forward ||
        typeof content !== "object" ||
        content === null ||
        Array.isArray(content) ||
        typeof (content as {code?: unknown}).code !== "number"
    ) {
        throw new ProtocolError("301 forward without a content object with a numeric code");
    }
    return {target: stringField(message, "target"), content: content as WireMessage};
}

// ---- builders for what the server sends ------------------------------------------------------

export const buildRegisterResponse = (): WireMessage => ({code: Code.registerResponse, status: 200});

export interface NatRequestFields {
    readonly cliTarget: string;
    readonly cliToken: string;
    readonly cliIp: string;
    readonly cliPort: number;
    readonly cliNatIp: string;
    readonly cliNatPort: number;
}

/** Code 11 (protocol-notes.md §8.3 step 1). */
export const buildNatRequest = (fields: NatRequestFields): WireMessage => ({code: Code.natRequestToDevice, ...fields});

/** Code 21: the camera's observed address, STUN-like (protocol-notes.md §8.3 step 3). */
export const buildUdpResponse = (ip: string, port: number): WireMessage => ({code: Code.udpResponse, ip, port});

/** Code 50 probe (protocol-notes.md §8.3 step 6). */
export const buildProbeRequest = (): WireMessage => ({code: Code.probeRequest});

/** Code 53 (protocol-notes.md §8.3 step 8). */
export const buildDeviceStatus = (): WireMessage => ({code: Code.deviceStatus, status: 1});

/** 301 forward to the camera; `target` is the client id sent in code 11. */
export const buildForward = (target: string, content: WireMessage): WireMessage => ({
    code: Code.forward,
    target,
    content,
});

/** Local time as the app sends it: UTC seconds plus the zone offset (protocol-notes.md §8.3 step 10). */
export function localUnixTimer(nowMs: number, timezoneOffsetMinutes: number): number {
    return Math.floor(nowMs / 1000) - timezoneOffsetMinutes * 60;
}

export const buildBaseInfoRequest = (unixTimer: number): WireMessage => ({code: ContentCode.baseInfo, unixTimer});

function stringField(message: WireMessage, key: string): string {
    const value = message[key];
    if (typeof value !== "string") {
        throw new ProtocolError(`code ${message.code}: field ${key} is not a string`);
    }
    return value;
}

function numberField(message: WireMessage, key: string): number {
    const value = message[key];
    if (typeof value !== "number" || !Number.isFinite(value)) {
        throw new ProtocolError(`code ${message.code}: field ${key} is not a number`);
    }
    return value;
}
