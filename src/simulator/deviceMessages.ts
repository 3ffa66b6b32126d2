/**
 * The bytes a camera sends, exactly as the real one spells them (protocol-notes.md §3.1, §8, §9).
 * Pure builders on top of the protocol encoders; the simulator's sockets only write what these return.
 *
 * The camera writes JSON by hand with spaces after colons and commas (§4 "JSON formatting"), and
 * the registration even has a stray space before a comma: `"token": "91edf41f" ,"domain": …` [CAP].
 */
import {Cmd, Code, MsgFlag} from "../protocol/commands.js";
import {DEVICE_FORWARD_ID} from "../protocol/jpegFragments.js";
import {encodePacket} from "../protocol/packet.js";
import type {Prng} from "./prng.js";

/** Host header the camera always sends, whatever address it resolved (§3.1). */
export const BOOTSTRAP_HOST_HEADER = "v720.naxclow.com";
export const DEFAULT_DOMAIN = "v720.naxclow.com";
export const DEFAULT_FIRMWARE = "202212011602";
export const CONF_CHECK_PATH = "/app/api/ApiServer/getA9ConfCheck";

/** A JSON value list written the camera's way: `{"code": 12, "status": 200, "devIp": "…"}`. */
export function encodeHandJson(fields: readonly (readonly [string, unknown])[]): string {
    return `{${fields.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(", ")}}`;
}

/** A cmd 0 packet from the camera: msgFlag 0, dealFlag 0, forwardId 8 × 0x00, pkgId 0 ([CAP] §8.1). */
export function encodeDeviceJsonPacket(json: string): Buffer {
    return encodePacket(
        {command: Cmd.json, msgFlag: MsgFlag.none, forwardId: DEVICE_FORWARD_ID},
        Buffer.from(json, "utf8"),
    );
}

/**
 * Code 100 registration, byte for byte as captured (§8.1, 107 bytes for the captured values):
 * `{"code": 100, "uid": "<uid>", "token": "<token>" ,"domain": "<domain>"}`.
 */
export function encodeRegisterPacket(uid: string, token: string, domain: string): Buffer {
    const json = `{"code": ${Code.registerRequest}, "uid": ${JSON.stringify(uid)}, "token": ${JSON.stringify(token)} ,"domain": ${JSON.stringify(domain)}}`;
    return encodeDeviceJsonPacket(json);
}

/** The 20-byte cmd 100 heartbeat: len 0, forwardId 00×8, pkgId 0 (§8.2). */
export function encodeHeartbeatPacket(): Buffer {
    return encodePacket({command: Cmd.heartbeat, forwardId: DEVICE_FORWARD_ID});
}

/** The exact bootstrap request (§3.1): POST, query only, `Host` and `version` headers, no body. */
export function buildBootstrapRequest(
    path: string,
    query: readonly (readonly [string, string])[],
    firmware: string,
): Buffer {
    const search = query.map(([key, value]) => `${key}=${encodeURIComponent(value)}`).join("&");
    return Buffer.from(
        `POST ${path}?${search} HTTP/1.1\r\nHost: ${BOOTSTRAP_HOST_HEADER}\r\nversion: ${firmware}\r\n\r\n`,
        "latin1",
    );
}

/** Six consecutive upper-case letters, like `OPQRST` (§3.1). */
export function randomLetters(prng: Prng): string {
    const start = prng.below(21);
    return Array.from({length: 6}, (_, index) => String.fromCharCode(65 + start + index)).join("");
}

/** `length` lower-case hex digits (the bootstrap `token` has 10, `pwd` 8). */
export function randomHex(prng: Prng, length: number): string {
    return Array.from({length}, () => prng.below(16).toString(16)).join("");
}

/** Code 20 on UDP: `{"code": 20}`, 32 bytes with the header (§6.1). */
export function encodeUdpRequestPacket(): Buffer {
    return encodeDeviceJsonPacket(encodeHandJson([["code", Code.udpRequest]]));
}

export interface NatResponseFields {
    readonly devIp: string;
    readonly devPort: number;
    readonly devNatIp: string;
    readonly devNatPort: number;
    readonly cliTarget: string;
    readonly cliToken: string;
}

/** Code 12 on TCP (§8.3 step 4). */
export function encodeNatResponsePacket(fields: NatResponseFields): Buffer {
    return encodeDeviceJsonPacket(
        encodeHandJson([
            ["code", Code.natResponseFromDevice],
            ["status", 200],
            ["devIp", fields.devIp],
            ["devPort", fields.devPort],
            ["devNatIp", fields.devNatIp],
            ["devNatPort", fields.devNatPort],
            ["cliTarget", fields.cliTarget],
            ["cliToken", fields.cliToken],
        ]),
    );
}

/** Code 51 on UDP: `{"code":51,"devTarget":"<id>","status":200}` (§8.3 step 5). */
export function encodeProbeResponsePacket(deviceId: string): Buffer {
    return encodeDeviceJsonPacket(JSON.stringify({code: Code.probeResponse, devTarget: deviceId, status: 200}));
}

/** A 301 forward from the camera: `{"code": 301, "target": "<cliTarget>", "content": {…}}`. */
export function encodeForwardReplyPacket(target: string, content: readonly (readonly [string, unknown])[]): Buffer {
    const json = `{"code": ${Code.forward}, "target": ${JSON.stringify(target)}, "content": ${encodeHandJson(content)}}`;
    return encodeDeviceJsonPacket(json);
}

/** Settings reported in the 301 content 4 reply (§6.2); `irLed` is the wire's `IrLed`. */
export interface BaseInfo {
    irLed: number;
    devPower: number;
    speedGrade: number;
    moveAlert: number;
    sdMoveMode: number;
    wifiName: string;
    instLed: number;
    sdDevStatus: number;
    mirrorFlip: number;
    version: string;
}

/** The reply content in firmware 202212011602's field order. */
export function baseInfoContent(info: BaseInfo): [string, unknown][] {
    return [
        ["code", 4],
        ["IrLed", info.irLed],
        ["devPower", info.devPower],
        ["speedGrade", info.speedGrade],
        ["moveAlert", info.moveAlert],
        ["sdMoveMode", info.sdMoveMode],
        ["wifiName", info.wifiName],
        ["instLed", info.instLed],
        ["sdDevStatus", info.sdDevStatus],
        ["mirrorFlip", info.mirrorFlip],
        ["version", info.version],
    ];
}

/**
 * One cmd 4 G.711 A-law packet, msgFlag 255 (§9.4). With `trailer`, the 5-byte video-style trailer
 * `[0][u32 LE alaw length]` is appended (whether the camera does this is open, §13.1).
 */
export function encodeAudioPacket(alaw: Uint8Array, packageId: number, trailer: boolean): Buffer {
    let payload: Uint8Array = alaw;
    if (trailer) {
        const withTrailer = Buffer.allocUnsafe(alaw.length + 5);
        withTrailer.set(alaw, 0);
        withTrailer.writeUInt8(0, alaw.length);
        withTrailer.writeUInt32LE(alaw.length, alaw.length + 1);
        payload = withTrailer;
    }
    return encodePacket(
        {command: Cmd.g711, msgFlag: MsgFlag.whole, forwardId: DEVICE_FORWARD_ID, packageId: packageId >>> 0},
        payload,
    );
}

/** An empty packet of `command` (cmd 100 heartbeat reply on UDP, cmd 102 pong). */
export function encodeEmptyPacket(command: number): Buffer {
    return encodePacket({command, forwardId: DEVICE_FORWARD_ID});
}
