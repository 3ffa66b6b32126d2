/**
 * What a transcoder hands to its consumers (the RTSP server, through app/mediaWiring.ts). Times are
 * absolute wall-clock milliseconds (Date.now() scale) at which ffmpeg read the source packet.
 */

export interface EncodedVideoFrame {
    /** H.264 NAL units of one access unit, without start codes or length prefixes (no AUD). */
    readonly nalUnits: readonly Buffer[];
    readonly isKeyframe: boolean;
    readonly timestampMs: number;
}

export interface EncodedAudioFrame {
    /** One AAC raw frame, one Opus packet, or a run of A-law bytes. */
    readonly data: Buffer;
    readonly timestampMs: number;
    /** Duration in samples at the track's clock rate. */
    readonly samples: number;
}

export type EncodedAudioInfo =
    | {readonly codec: "aac"; readonly sampleRate: number; readonly channels: number; readonly config: Buffer}
    | {readonly codec: "pcma"; readonly sampleRate: 8000; readonly channels: 1}
    | {readonly codec: "opus"; readonly sampleRate: 48000; readonly channels: number};

export interface EncodedStreamInfo {
    readonly video: {readonly codec: "h264"; readonly sps: Buffer; readonly pps: Buffer};
    readonly audio: EncodedAudioInfo | null;
}

/** Callbacks run on the hot path: they must not block or throw. */
export interface EncodedMediaConsumer {
    onVideo?(frame: EncodedVideoFrame): void;
    onAudio?(frame: EncodedAudioFrame): void;
    /** The encoder (re)started with these parameters. */
    onInfo?(info: EncodedStreamInfo): void;
    /** The camera went away for good; the consumer should end. */
    onEnd?(reason: string): void;
}
