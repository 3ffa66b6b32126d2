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

/**
 * Where a camera that wakes on demand stands (issue 6 item 3): "asleep" = online over MQTT without a
 * TCP session (the normal idle state of the MQTT-first family, not a failure); "waking" = a wake was
 * sent and the bridge waits for the TCP registration; "awake" = it has a TCP session; "no-answer" = the
 * last wake got no TCP registration in time; "unreachable" = neither MQTT nor TCP.
 */
export type WakeState = "asleep" | "waking" | "awake" | "no-answer" | "unreachable";

/** A camera that idles on MQTT and opens its TCP session only when woken. */
export interface WakeView {
    readonly mode: "on-demand";
    readonly state: WakeState;
    /** When the last wake message was published, or null. */
    readonly lastWakeAtMs: number | null;
    /** The template of the last wake ("candidate1", …, "custom"), or null. */
    readonly lastTemplate: string | null;
}

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
    /** MQTT Status 1 (or an Info) seen and no Status 0 / will since; undefined when the producer does not know MQTT. */
    readonly mqttOnline?: boolean;
    /** Set for cameras that wake on demand (MQTT-first family, or configured so); null or absent otherwise. */
    readonly wake?: WakeView | null;
    /** The last Info `errStatus` (1 too many viewers, 2 could not connect [GUESS]; 0 none), null when never reported. */
    readonly errStatus?: number | null;
}

/** Why a stream could not be had. */
export type StreamUnavailableReason = "unknown-camera" | "offline";

export type SubscribeResult =
    | {
          readonly ok: true;
          readonly subscription: MediaSubscription;
          /**
           * Set when the camera is being woken first: frames start only after its TCP registration, and
           * the consumer gets onEnd with a WakeEndReason when it does not register within `timeoutMs`.
           */
          readonly waking?: {readonly timeoutMs: number};
      }
    | {readonly ok: false; readonly reason: StreamUnavailableReason};

/** The `onEnd` reasons of a consumer whose camera could not be woken; the text after ": " is a description. */
export const WakeEndReason = {
    /** No TCP registration within the wake timeout. Viewers answer 504. */
    timeout: "wake-timeout",
    /** The wake message could not be published (broker down, camera not on MQTT). */
    failed: "wake-failed",
    /** The camera answered the wake with an Info errStatus ≠ 0. */
    refused: "wake-refused",
} as const;
export type WakeEndReason = (typeof WakeEndReason)[keyof typeof WakeEndReason];

/** The WakeEndReason an onEnd reason starts with, or undefined for any other reason. */
export function wakeEndReasonOf(reason: string): WakeEndReason | undefined {
    for (const value of Object.values(WakeEndReason)) {
        if (reason === value || reason.startsWith(`${value}:`)) {
            return value;
        }
    }
    return undefined;
}

/** What a manual wake (POST /api/cameras/:id/wake) did. */
export type WakeRequestResult =
    | {
          readonly ok: true;
          readonly template: string;
          /** The JSON published on `Naxclow/P2P/Users/Device/sub/<id>`. */
          readonly payload: Readonly<Record<string, unknown>>;
      }
    | {
          readonly ok: false;
          /** unknown-camera: never seen; invalid: bad template or payload; too-soon: rate limit; unavailable: not sent. */
          readonly error: "unknown-camera" | "invalid" | "too-soon" | "unavailable";
          readonly reason: string;
          /** For too-soon: how long until the next wake is allowed. */
          readonly retryAfterMs?: number;
      };

/** Publishes wake messages on request (users experimenting with the §5.2 candidates). */
export interface CameraWaker {
    /** `template` overrides the configured one; `customPayload` is the JSON text for the custom template. */
    wake(
        id: CameraId,
        options: {readonly template?: string | undefined; readonly customPayload?: string | undefined},
    ): Promise<WakeRequestResult>;
}

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
