/** The camera vocabulary shared by camera/, http/, media/ and bridge/. Types only. */
import type {JpegFrame, MediaConsumer, MediaSubscription} from "./media.js";

/** Opaque 12-character id (protocol-notes.md §3.3); never assume a prefix. */
export type CameraId = string;

export type StreamState = "idle" | "starting" | "streaming" | "stopping";

/**
 * Device family by the id's first two characters, case-insensitive (new-firmware-notes.md §2):
 * 56/5b/5c/60 are "mqtt-first" (P3, CloudIpc, monitor2), every other prefix is "classic".
 * protocol/deviceFamily.ts computes it.
 */
export type CameraFamily = "classic" | "mqtt-first";

/** What the API and the bridge know about a camera at one moment. */
export interface CameraView {
    readonly id: CameraId;
    /** "ip:port" of the TCP control session, or null when none. */
    readonly address: string | null;
    /** Firmware build string from the HTTP `version` header, MQTT Info or the code 4 reply. */
    readonly firmware: string | null;
    /** Device family by id prefix; consumers compute it from `id` when a producer leaves it out. */
    readonly family?: CameraFamily;
    /** The vendor app's model name for the id prefix ("A9-4", "P3", …), null when the prefix is unknown. */
    readonly model?: string | null;
    /** Has a TCP control session. */
    readonly online: boolean;
    readonly streamState: StreamState;
    /** Frames per second measured over the last few seconds. */
    readonly fps: number;
    readonly lastFrameAtMs: number | null;
    readonly lastSeenAtMs: number | null;
    /** The last code 4 reply's content, exactly as the camera sent it (protocol-notes.md §6.2). */
    readonly baseInfo: Readonly<Record<string, unknown>> | null;
    /** Live consumers (viewers, transcoders). */
    readonly consumers: number;
    readonly framesDelivered: number;
    readonly framesDropped: number;
}

/** Why a stream could not be had. */
export type StreamUnavailableReason = "unknown-camera" | "offline";

export type SubscribeResult =
    | {readonly ok: true; readonly subscription: MediaSubscription}
    | {readonly ok: false; readonly reason: StreamUnavailableReason};

/** The camera layer as seen by its siblings; app/ wires the real registry in. */
export interface CameraDirectory {
    list(): CameraView[];
    get(id: CameraId): CameraView | undefined;
    /**
     * Adds a live consumer. The first consumer starts the camera's stream (handshake on demand);
     * the stream stops a grace period after the last subscription closes.
     */
    subscribe(id: CameraId, consumer: MediaConsumer): SubscribeResult;
    /** The newest complete frame, whatever its age. */
    latestFrame(id: CameraId): JpegFrame | undefined;
}
