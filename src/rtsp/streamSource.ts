/**
 * What the RTSP server needs from the media layer, declared here (house-style §4.3: rtsp/ does not
 * import media/). app/mediaWiring.ts passes the media hub, whose types match these structurally.
 * Times are absolute wall-clock milliseconds.
 */

export interface RtspVideoFrame {
    /** NAL units of one H.264 access unit (no start codes). */
    readonly nalUnits: readonly Buffer[];
    readonly isKeyframe: boolean;
    readonly timestampMs: number;
}

export interface RtspAudioFrame {
    readonly data: Buffer;
    readonly timestampMs: number;
    /** Duration in samples at the track's clock rate. */
    readonly samples: number;
}

export type RtspAudioInfo =
    | {readonly codec: "aac"; readonly sampleRate: number; readonly channels: number; readonly config: Buffer}
    | {readonly codec: "pcma"; readonly sampleRate: 8000; readonly channels: 1}
    | {readonly codec: "opus"; readonly sampleRate: 48000; readonly channels: number};

export interface RtspStreamInfo {
    readonly video: {readonly codec: "h264"; readonly sps: Buffer; readonly pps: Buffer};
    readonly audio: RtspAudioInfo | null;
}

export interface RtspMediaSink {
    onVideo?(frame: RtspVideoFrame): void;
    onAudio?(frame: RtspAudioFrame): void;
    onInfo?(info: RtspStreamInfo): void;
    onEnd?(reason: string): void;
}

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
