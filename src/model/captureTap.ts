/**
 * The capture tap (issue 6 item 5): camera/ and http/ hand what one camera exchanges with the
 * bridge to the recorder in capture/, and the recorder turns it into redacted JSON lines. Types only.
 *
 * Zero cost while nothing is captured: producers hold a CaptureTapSlot and test
 * `slot.tap?.isActive` (a property read, no allocation) before building anything for the tap.
 * Every call is synchronous and must not throw; buffers passed in are views that the tap copies
 * (or serialises) before returning.
 */
import type {CameraId} from "./camera.js";

/** `in`: camera → bridge; `out`: bridge → camera. */
export type CaptureDirection = "in" | "out";

/** The 20-byte header's fields (protocol-notes.md §4), structurally equal to protocol/header.ts PacketHeader. */
export interface CapturedHeader {
    readonly payloadLength: number;
    readonly command: number;
    readonly msgFlag: number;
    readonly dealFlag: number;
    /** Eight bytes as latin1. */
    readonly forwardId: string;
    readonly packageId: number;
}

export interface CapturePeer {
    readonly address: string;
    readonly port: number;
}

/** One HTTP request from a camera (bootstrap, sinkholed host or unknown path) and the reply it got. */
export interface HttpCaptureExchange {
    /** `devicesCode` of the query (or the id handed out by registerDevices), when there is one. */
    readonly deviceId: string | undefined;
    readonly remoteAddress: string;
    readonly method: string;
    /** The request target as sent (path and query). */
    readonly url: string;
    /** `req.rawHeaders`: name, value, name, value, … as sent. */
    readonly rawHeaders: readonly string[];
    /** At most the first bytes of the request body (the bridge keeps a short preview only). */
    readonly requestBody: Uint8Array | undefined;
    readonly requestBodyBytes: number;
    readonly status: number;
    readonly responseHeaders: readonly (readonly [name: string, value: string])[];
    readonly responseBody: Uint8Array;
}

/** What the camera-facing MQTT side saw (protocol-notes.md §7). Passwords are redacted by the recorder. */
export type MqttCaptureEvent =
    | {
          readonly kind: "connect";
          readonly clientId: string;
          readonly username?: string | undefined;
          /** Replaced by "<redacted>" in the capture; pass it or leave it out. */
          readonly password?: Uint8Array | string | undefined;
          readonly keepaliveS?: number | undefined;
          readonly will?: {readonly topic: string; readonly payload: Uint8Array | string} | undefined;
      }
    | {readonly kind: "subscribe"; readonly topics: readonly string[]}
    | {
          readonly kind: "publish";
          readonly topic: string;
          readonly payload: Uint8Array | string;
          readonly qos?: number | undefined;
          readonly retain?: boolean | undefined;
      }
    | {readonly kind: "disconnect"; readonly reason?: string | undefined};

export interface CaptureTap {
    /** True while at least one capture runs. Producers check it before anything else. */
    readonly isActive: boolean;
    /** True while a capture of `cameraId` runs (a Map lookup). */
    isCapturing(cameraId: CameraId): boolean;
    /**
     * One TCP or UDP message. `cameraId` undefined (UDP code 20 before any binding, for example):
     * the tap attributes it by the JSON's `devTarget`/`uid` or by the peer's IP address.
     */
    packet(
        transport: "tcp" | "udp",
        direction: CaptureDirection,
        cameraId: CameraId | undefined,
        peer: CapturePeer,
        header: CapturedHeader,
        payload: Uint8Array,
    ): void;
    http(exchange: HttpCaptureExchange): void;
    mqtt(cameraId: CameraId, direction: CaptureDirection, event: MqttCaptureEvent): void;
}

/** A mutable holder shared by the producers of one layer, so a tap can be plugged in after construction. */
export interface CaptureTapSlot {
    tap: CaptureTap | undefined;
}

/** Where one running capture's JSON lines go (the HTTP route streams them as NDJSON). */
export interface CaptureSink {
    /** One record as JSON text, without a newline. Must not throw. */
    write(line: string): void;
    /** The capture is over (after its last line). Called once. */
    end(reason: string): void;
}

export interface CaptureHandle {
    /** Writes the closing line and ends the sink; idempotent. */
    stop(reason: string): void;
}

export interface CaptureStartOptions {
    /** The capture ends by itself after this long. */
    readonly durationMs: number;
}

/** Starts captures; implemented in capture/, served over HTTP by http/captureRoutes.ts. */
export interface CaptureService {
    start(cameraId: CameraId, sink: CaptureSink, options: CaptureStartOptions): CaptureHandle;
}
