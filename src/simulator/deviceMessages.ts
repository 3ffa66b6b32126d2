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
import {assertNever} from "../util/assertNever.js";
import type {Prng} from "./prng.js";

/** Host header the camera always sends, whatever address it resolved (§3.1). */
export const BOOTSTRAP_HOST_HEADER = "v720.naxclow.com";
export const DEFAULT_DOMAIN = "v720.naxclow.com";
export const DEFAULT_FIRMWARE = "202212011602";
export const CONF_CHECK_PATH = "/app/api/ApiServer/getA9ConfCheck";
/** Called first by firmware ≥ 2024-11 (new-firmware-notes.md §4.1); same request form as getA9ConfCheck. */
export const DEV_INFO_PATH = "/app/api/ApiSysDevices/getDevInfo";

/**
 * Firmware personalities (new-firmware-notes.md §5.1, §5.2): "classic-2022" is the camera of the 2023
 * capture; "classic-2024" is a classic (`08…`) camera on firmware ≥ 2024-11: getDevInfo, then
 * getA9ConfCheck, strict HTTP reading, a 301{4} reply with `udpPlayBack` (intx82#54) and a non-ASCII Wi-Fi name;
 * "mqtt-first" is a 56/5b/5c/60 camera (firmware 202411152039, intx82#50): getDevInfo only, then it idles
 * (on MQTT, see mqttFirstCamera.ts) and opens TCP only when woken, dropping it again once idle.
 */
export type SimPersonality = "classic-2022" | "classic-2024" | "mqtt-first";

/** Firmware of the "mqtt-first" personality: the P3 of intx82#50. */
export const FIRMWARE_MQTT_FIRST = "202411152039";

/** Defaults of the "classic-2024" personality: the X6 mini of intx82#54 and a Wi-Fi name that is not ASCII. */
export const FIRMWARE_2024 = "202412061749";
export const WIFI_NAME_2024 = "Café-Wohnzimmer 📶";

/**
 * How the 301{4} reply is spelled: "valid"; "invalid-utf8" writes the Wi-Fi name in an 8-bit code
 * page (each UTF-16 unit's low byte, so "é" is the lone byte E9), the #54 hypothesis; "invalid-json"
 * leaves a trailing comma, so no JSON parser accepts the message.
 */
export type BaseInfoReplyQuirk = "valid" | "invalid-utf8" | "invalid-json";

/** A JSON value list written the camera's way: `{"code": 12, "status": 200, "devIp": "…"}`. */
export function encodeHandJson(fields: readonly (readonly [string, unknown])[]): string {
    return `{${fields.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value)}`).join(", ")}}`;
}

/** A cmd 0 packet from the camera: msgFlag 0, dealFlag 0, forwardId 8 × 0x00, pkgId 0 ([CAP] §8.1). */
export function encodeDeviceJsonPacket(json: string): Buffer {
    return encodeDevicePayloadPacket(Buffer.from(json, "utf8"));
}

/** A cmd 0 packet from the camera with `payload` as is (for payloads that are not valid UTF-8 or JSON). */
export function encodeDevicePayloadPacket(payload: Uint8Array): Buffer {
    return encodePacket({command: Cmd.json, msgFlag: MsgFlag.none, forwardId: DEVICE_FORWARD_ID}, payload);
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
    /** Sent after `version` when set: firmware 202412061749 adds `"udpPlayBack": 1` (intx82#54). */
    udpPlayBack?: number;
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
        ...(info.udpPlayBack === undefined ? [] : [["udpPlayBack", info.udpPlayBack] as [string, unknown]]),
    ];
}

/** The 301 reply to content 4, spelled as `quirk` says (see BaseInfoReplyQuirk). */
export function encodeBaseInfoReplyPacket(target: string, info: BaseInfo, quirk: BaseInfoReplyQuirk = "valid"): Buffer {
    switch (quirk) {
        case "valid":
            return encodeForwardReplyPacket(target, baseInfoContent(info));
        case "invalid-utf8": {
            const marker = "@@wifiName@@"; // replaced by the name's 8-bit bytes below
            const json = `{"code": ${Code.forward}, "target": ${JSON.stringify(target)}, "content": ${encodeHandJson(
                baseInfoContent({...info, wifiName: marker}),
            )}}`;
            const at = json.indexOf(marker);
            return encodeDevicePayloadPacket(
                Buffer.concat([
                    Buffer.from(json.slice(0, at), "utf8"),
                    eightBitName(info.wifiName),
                    Buffer.from(json.slice(at + marker.length), "utf8"),
                ]),
            );
        }
        case "invalid-json": {
            const content = encodeHandJson(baseInfoContent(info));
            const json = `{"code": ${Code.forward}, "target": ${JSON.stringify(target)}, "content": ${content.slice(0, -1)}, }}`;
            return encodeDeviceJsonPacket(json);
        }
        default:
            return assertNever(quirk);
    }
}

/** Each UTF-16 unit's low byte; bytes JSON cannot carry raw (controls, quote, backslash) become `?`. */
function eightBitName(name: string): Buffer {
    const bytes = Buffer.from(name, "latin1");
    for (let index = 0; index < bytes.length; index += 1) {
        const byte = bytes[index] ?? 0;
        if (byte < 0x20 || byte === 0x22 || byte === 0x5c) {
            bytes[index] = 0x3f;
        }
    }
    return bytes;
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
