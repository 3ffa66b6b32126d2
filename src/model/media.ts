/** Media units the camera layer produces and every consumer (HTTP, ffmpeg, MQTT snapshot) reads. */

/** One reassembled JPEG. `data` is shared by every consumer: never mutate it. */
export interface JpegFrame {
    readonly cameraId: string;
    readonly data: Buffer;
    /** Increasing per camera, from 1, counting delivered frames. */
    readonly sequence: number;
    /** Wall clock (Date.now()) when the last fragment arrived. */
    readonly receivedAtMs: number;
    /** performance.now() when the last fragment arrived (for latency figures). */
    readonly receivedAtHr: number;
}

export type AudioCodec = "alaw" | "pcm_s16le";

/** One audio packet: cmd 4 is G.711 A-law 8 kHz mono; cmd 6 is PCM, format guessed (protocol-notes.md §9.4). */
export interface AudioChunk {
    readonly cameraId: string;
    readonly codec: AudioCodec;
    readonly data: Buffer;
    readonly receivedAtMs: number;
}

/** A consumer of one camera's live media. Callbacks run on the hot path: they must not block or throw. */
export interface MediaConsumer {
    onFrame?(frame: JpegFrame): void;
    onAudio?(chunk: AudioChunk): void;
    /** The camera went away for good (offline or forgotten); the consumer should end. */
    onEnd?(reason: string): void;
}

/** Handle returned by a subscription. close() is idempotent. */
export interface MediaSubscription {
    close(): void;
}
