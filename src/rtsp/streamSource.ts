/**
 * What the RTSP server needs from the media layer (house-style §4.3: rtsp/ does not import media/; the
 * encoded-media vocabulary both share lives in model/). app/mediaWiring.ts passes the media hub.
 * Times are absolute wall-clock milliseconds.
 */
import type {
    EncodedAudioFrame,
    EncodedAudioInfo,
    EncodedMediaConsumer,
    EncodedStreamInfo,
    EncodedVideoFrame,
} from "../model/encodedMedia.js";

export type RtspVideoFrame = EncodedVideoFrame;
export type RtspAudioFrame = EncodedAudioFrame;
export type RtspAudioInfo = EncodedAudioInfo;
export type RtspStreamInfo = EncodedStreamInfo;
export type RtspMediaSink = EncodedMediaConsumer;

export interface RtspSourceHandle {
    info(): RtspStreamInfo | undefined;
    whenInfo(timeoutMs: number): Promise<RtspStreamInfo | undefined>;
    /** Video frames since the last keyframe (a joining client can start there instead of waiting a GOP). */
    recentVideo?(): readonly RtspVideoFrame[];
    close(): void;
}

export type RtspOpenResult =
    | {readonly ok: true; readonly handle: RtspSourceHandle}
    | {readonly ok: false; readonly reason: "unknown-camera" | "unavailable"};

export interface RtspStreamSource {
    /** Leases the camera's encoded stream (its encoder starts if needed) and delivers it to `sink`. */
    openEncoded(cameraId: string, sink: RtspMediaSink): RtspOpenResult;
}
