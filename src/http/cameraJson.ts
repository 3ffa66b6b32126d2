/**
 * PURE builders for the viewer API's JSON (decisions.md 20: camelCase, ISO 8601 times, absolute
 * `urls`). No I/O; viewerRoutes.ts calls them with the request's Host header.
 */
import type {CameraFamily, CameraView, StreamState, WakeState} from "../model/camera.js";
import {deviceFamilyOf, deviceModelOf} from "../protocol/deviceFamily.js";

/** How stream URLs are built. */
export interface UrlOptions {
    /** Host name or IP clients should use; wins over the request's Host header. */
    readonly advertiseHost?: string | undefined;
    /** The viewer port (http.port). */
    readonly httpPort: number;
    /** RTSP server port; the `rtsp` URL is null while it is not set. */
    readonly rtspPort?: number | undefined;
    /** Whether HLS is served; the `hls` URL is null otherwise. */
    readonly isHlsEnabled?: boolean | undefined;
}

export interface StreamUrls {
    readonly mjpeg: string;
    readonly snapshot: string;
    readonly audio: string;
    readonly rtsp: string | null;
    readonly hls: string | null;
}

export interface CameraJson {
    readonly id: string;
    readonly address: string | null;
    readonly firmware: string | null;
    /** "classic" or "mqtt-first", by the id's first two characters (new-firmware-notes.md §2). */
    readonly family: CameraFamily;
    /** The vendor app's model name for the id prefix ("A9-4", "P3", "CloudIpc", …), or null. */
    readonly model: string | null;
    /** decisions.md 9: a TCP session or MQTT Status 1 (an MQTT-first camera idling on MQTT is online). */
    readonly online: boolean;
    /** Has a TCP control session. */
    readonly tcpOnline: boolean;
    /** MQTT Status 1 seen and not withdrawn; null when the bridge does not follow MQTT. */
    readonly mqttOnline: boolean | null;
    /** "on-demand": idles on MQTT and opens TCP only when woken (a viewer wakes it); null for classic cameras. */
    readonly wake: "on-demand" | null;
    /** asleep / waking / awake / no-answer / unreachable for cameras that wake on demand, else null. */
    readonly wakeState: WakeState | null;
    readonly lastWakeAt: string | null;
    /** The template of the last wake message ("candidate1", …). */
    readonly lastWakeTemplate: string | null;
    /** The last MQTT Info `errStatus` (1 too many viewers, 2 could not connect [GUESS]), null when never sent. */
    readonly errStatus: number | null;
    readonly streaming: boolean;
    readonly streamState: StreamState;
    readonly fps: number;
    readonly lastFrameAt: string | null;
    readonly lastSeenAt: string | null;
    readonly baseInfo: Readonly<Record<string, unknown>> | null;
    readonly consumers: number;
    readonly framesDelivered: number;
    readonly framesDropped: number;
    readonly urls: StreamUrls;
}

/** One entry of the original Python fake server's `/dev/list`. */
export interface DevListEntry {
    readonly uid: string;
    readonly host: string;
    readonly port: number;
}

/** Where clients reach us: `authority` is `host[:port]` for http URLs, `hostname` is for other schemes. */
export interface PublicHost {
    readonly authority: string;
    readonly hostname: string;
}

const HOST_HEADER = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?$/;

/**
 * `advertiseHost` (with `httpPort`) when set, else the request's Host header as sent, else
 * `127.0.0.1:<httpPort>`. A malformed Host header is ignored, never echoed.
 */
export function resolvePublicHost(hostHeader: string | undefined, options: UrlOptions): PublicHost {
    if (options.advertiseHost !== undefined && options.advertiseHost !== "") {
        const hostname = bracketIpv6(options.advertiseHost);
        return {authority: `${hostname}:${options.httpPort}`, hostname};
    }
    const match = hostHeader === undefined ? null : HOST_HEADER.exec(hostHeader);
    if (match?.[1] !== undefined) {
        return {authority: match[0], hostname: match[1]};
    }
    return {authority: `127.0.0.1:${options.httpPort}`, hostname: "127.0.0.1"};
}

export function buildStreamUrls(id: string, host: PublicHost, options: UrlOptions): StreamUrls {
    const base = `http://${host.authority}/api/cameras/${encodeURIComponent(id)}`;
    return {
        mjpeg: `${base}/stream.mjpeg`,
        snapshot: `${base}/snapshot.jpg`,
        audio: `${base}/audio.wav`,
        rtsp:
            options.rtspPort === undefined
                ? null
                : `rtsp://${host.hostname}:${options.rtspPort}/${encodeURIComponent(id)}`,
        hls: options.isHlsEnabled === true ? `${base}/hls/index.m3u8` : null,
    };
}

export function buildCameraJson(view: CameraView, urls: StreamUrls): CameraJson {
    return {
        id: view.id,
        address: view.address,
        firmware: view.firmware,
        family: view.family ?? deviceFamilyOf(view.id),
        model: view.model === undefined ? (deviceModelOf(view.id) ?? null) : view.model,
        online: view.online || view.mqttOnline === true,
        tcpOnline: view.online,
        mqttOnline: view.mqttOnline ?? null,
        wake: view.wake?.mode ?? null,
        wakeState: view.wake?.state ?? null,
        lastWakeAt: isoOrNull(view.wake?.lastWakeAtMs ?? null),
        lastWakeTemplate: view.wake?.lastTemplate ?? null,
        errStatus: view.errStatus ?? null,
        streaming: view.streamState === "streaming",
        streamState: view.streamState,
        fps: view.fps,
        lastFrameAt: isoOrNull(view.lastFrameAtMs),
        lastSeenAt: isoOrNull(view.lastSeenAtMs),
        baseInfo: view.baseInfo,
        consumers: view.consumers,
        framesDelivered: view.framesDelivered,
        framesDropped: view.framesDropped,
        urls,
    };
}

/** Cameras with a TCP session, as `[{"uid","host","port"}]` (host/port = the camera's TCP peer). */
export function buildDevList(views: readonly CameraView[]): DevListEntry[] {
    const entries: DevListEntry[] = [];
    for (const view of views) {
        const peer = view.address === null ? undefined : splitAddress(view.address);
        if (peer !== undefined) {
            entries.push({uid: view.id, host: peer.host, port: peer.port});
        }
    }
    return entries;
}

/** `"10.42.0.22:64365"` or `"[::1]:5000"` → host and port; undefined when there is no numeric port. */
export function splitAddress(address: string): {host: string; port: number} | undefined {
    const colon = address.lastIndexOf(":");
    if (colon <= 0) {
        return undefined;
    }
    const port = Number(address.slice(colon + 1));
    if (!Number.isInteger(port) || port < 0 || port > 65_535) {
        return undefined;
    }
    let host = address.slice(0, colon);
    if (host.startsWith("[") && host.endsWith("]")) {
        host = host.slice(1, -1);
    }
    if (host.startsWith("::ffff:") && host.includes(".")) {
        host = host.slice("::ffff:".length);
    }
    return {host, port};
}

function isoOrNull(ms: number | null): string | null {
    return ms === null || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

function bracketIpv6(host: string): string {
    return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}
