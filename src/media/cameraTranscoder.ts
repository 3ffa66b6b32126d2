/**
 * One camera's transcoding while someone watches (issue 4 item 2): subscribes to the camera's frames
 * and audio and feeds them to two supervised ffmpeg processes (ffmpegArgs.ts): JPEG parts → H.264
 * (FLV), A-law → AAC/PCMA (FLV) or Opus (Ogg), and turns their output back into timestamped access
 * units and audio frames for its consumers. While HLS is watched a third ffmpeg remuxes the H.264 and
 * AAC tags into segments (startHls/stopHls). Each process restarts on its own when it dies.
 *
 * The frame fan-out is never blocked: a frame or audio chunk is dropped (and counted) when ffmpeg's
 * pipe already queues more than `maxQueuedBytes`. While frames flow, silence fills audio gaps so
 * the audio encoder never starves when the camera sends no sound.
 */
import {mkdir, rm} from "node:fs/promises";
import type {Readable} from "node:stream";
import type {CameraDirectory} from "../model/camera.js";
import type {
    EncodedAudioInfo,
    EncodedMediaConsumer,
    EncodedStreamInfo,
    EncodedVideoFrame,
} from "../model/encodedMedia.js";
import type {AudioChunk, JpegFrame, MediaSubscription} from "../model/media.js";
import {encodeAlaw} from "../protocol/g711.js";
import type {Logger} from "../util/log.js";
import {
    AAC_SAMPLE_RATE,
    aacAudioSpecificConfig,
    buildAudioArgs,
    buildHlsArgs,
    buildVideoArgs,
    type FfmpegFlavor,
    type FfmpegLogLevel,
    HLS_AUDIO_OUTPUT_FD,
    MPJPEG_BOUNDARY,
    type RtspAudioCodec,
    type VideoEncoding,
} from "./ffmpegArgs.js";
import {FfmpegProcess, type FfmpegRun} from "./ffmpegProcess.js";
import {buildFlvHeader, FlvDemuxer, type FlvTag, unwrapFlvTimestamp} from "./flvDemuxer.js";
import {OggDemuxer, opusPacketSamples} from "./oggDemuxer.js";

export interface TranscoderOptions {
    readonly ffmpegPath: string;
    readonly flavor: FfmpegFlavor;
    readonly video: VideoEncoding;
    /** Audio codec of the encoded output; null = video only. */
    readonly audio: RtspAudioCodec | null;
    /** Where this camera's HLS files go (HLS runs only between startHls and stopHls), or null for no HLS. */
    readonly hls: {readonly dir: string; readonly segmentSeconds: number; readonly window: number} | null;
    /** A frame or audio chunk is dropped while ffmpeg's pipe queues more than this. */
    readonly maxQueuedBytes: number;
    readonly restartInitialDelayMs: number;
    readonly restartMaxDelayMs: number;
    readonly killTimeoutMs: number;
    /** ffmpeg's stderr level. */
    readonly logLevel: FfmpegLogLevel;
}

export interface TranscoderStats {
    framesIn: number;
    framesDropped: number;
    audioChunksIn: number;
    audioChunksDropped: number;
    videoFramesOut: number;
    audioFramesOut: number;
    runs: number;
    crashes: number;
    hlsRuns: number;
}

const ALAW_SILENCE = 0xd5;
const ALAW_BYTES_PER_MS = 8;
const SILENCE_TICK_MS = 100;
/** Audio is padded with silence only while a frame arrived this recently. */
const SILENCE_NEEDS_FRAME_WITHIN_MS = 2000;
const AUDIO_GAP_MS = 150;
const MAX_SILENCE_MS = 400;
const NAL_AUD = 9;
const PART_TRAILER = Buffer.from("\r\n", "latin1");
/** The audio ffmpeg starts at the latest this long after the video one. */
const AUDIO_START_DELAY_MS = 1500;
/** GOP cache bound (a 1–2 s GOP at up to 30 fps). */
const MAX_GOP_FRAMES = 90;

export class CameraTranscoder {
    readonly cameraId: string;
    readonly stats: TranscoderStats = {
        framesIn: 0,
        framesDropped: 0,
        audioChunksIn: 0,
        audioChunksDropped: 0,
        videoFramesOut: 0,
        audioFramesOut: 0,
        runs: 0,
        crashes: 0,
        hlsRuns: 0,
    };
    readonly #options: TranscoderOptions;
    readonly #directory: CameraDirectory;
    readonly #log: Logger;
    /** JPEG → H.264. */
    readonly #process: FfmpegProcess;
    /** A-law → RTSP audio (+ HLS AAC); undefined without audio. */
    readonly #audio: FfmpegProcess | undefined;
    readonly #hls: FfmpegProcess | undefined;
    readonly #consumers = new Set<EncodedMediaConsumer>();
    readonly #onEnd: (reason: string) => void;
    #subscription: MediaSubscription | undefined;
    #info: EncodedStreamInfo | undefined;
    #audioInfo: EncodedAudioInfo | null;
    #infoWaiters: ((info: EncodedStreamInfo | undefined) => void)[] = [];
    #silenceTimer: NodeJS.Timeout | undefined;
    #audioStartTimer: NodeJS.Timeout | undefined;
    #lastAudioWriteMs = 0;
    #lastFrameMs = 0;
    #isStopped = false;
    /** The current run's sequence headers, replayed at the start of every HLS run. */
    #videoConfigTag: Buffer | undefined;
    #aacConfigTag: Buffer | undefined;
    #isHlsWanted = false;
    #hlsNeedsKeyframe = true;
    /** FLV timestamp of the keyframe the current HLS run started with. */
    #hlsStartMs: number | undefined;
    /** Frames since the last keyframe, so a viewer that joins just after it need not wait a whole GOP. */
    #gop: EncodedVideoFrame[] = [];

    constructor(
        cameraId: string,
        options: TranscoderOptions,
        directory: CameraDirectory,
        log: Logger,
        onEnd: (reason: string) => void = () => undefined,
    ) {
        this.cameraId = cameraId;
        this.#options = options;
        this.#directory = directory;
        this.#log = log;
        this.#onEnd = onEnd;
        this.#audioInfo = staticAudioInfo(options.audio);
        const supervision = {
            restartInitialDelayMs: options.restartInitialDelayMs,
            restartMaxDelayMs: options.restartMaxDelayMs,
            killTimeoutMs: options.killTimeoutMs,
            // nothing to finalize (no files): a short EOF wait, then SIGTERM
            inputEofGraceMs: 200,
        };
        this.#process = new FfmpegProcess(
            {
                ffmpegPath: options.ffmpegPath,
                args: buildVideoArgs({flavor: options.flavor, logLevel: options.logLevel, video: options.video}),
                ...supervision,
            },
            log.child("ffmpeg"),
        );
        this.#process.on("runStarted", (run) => this.#handleRun(run));
        this.#process.on("runExited", (exit) => {
            if (!exit.isExpected) {
                this.stats.crashes += 1;
            }
        });
        if (options.audio !== null) {
            const hasHlsAudio = options.hls !== null && options.audio !== "aac";
            this.#audio = new FfmpegProcess(
                {
                    ffmpegPath: options.ffmpegPath,
                    args: buildAudioArgs({
                        flavor: options.flavor,
                        logLevel: options.logLevel,
                        audio: options.audio,
                        hasHlsAudio,
                    }),
                    extraPipes: hasHlsAudio ? ["read"] : [],
                    ...supervision,
                },
                log.child("ffmpeg:audio"),
            );
            this.#audio.on("runStarted", (run) => this.#handleAudioRun(run));
            this.#audio.on("runExited", (exit) => {
                if (!exit.isExpected) {
                    this.stats.crashes += 1;
                }
            });
        }
        if (options.hls !== null) {
            const hls = options.hls;
            this.#hls = new FfmpegProcess(
                {
                    ffmpegPath: options.ffmpegPath,
                    args: buildHlsArgs({logLevel: options.logLevel, ...hls}),
                    ...supervision,
                    inputEofGraceMs: 0,
                },
                log.child("hls"),
            );
            this.#hls.on("runStarted", () => this.#handleHlsRun());
        }
    }

    get info(): EncodedStreamInfo | undefined {
        return this.#info;
    }

    /** The video ffmpeg's pid, if one runs. */
    get pid(): number | undefined {
        return this.#process.pid;
    }

    /** The audio ffmpeg's pid, if one runs. */
    get audioPid(): number | undefined {
        return this.#audio?.pid;
    }

    /** The HLS remuxer's pid, if one runs. */
    get hlsPid(): number | undefined {
        return this.#hls?.pid;
    }

    get hlsDir(): string | undefined {
        return this.#options.hls?.dir;
    }

    /** Kills the video ffmpeg as a crash would (tests and bench); the supervisor restarts it. */
    killEncoder(): boolean {
        return this.#process.kill();
    }

    /** Subscribes to the camera and starts ffmpeg. False when the camera is unknown. */
    async start(): Promise<boolean> {
        if (this.#options.hls !== null) {
            await mkdir(this.#options.hls.dir, {recursive: true});
        }
        if (this.#isStopped) {
            return false;
        }
        const result = this.#directory.subscribe(this.cameraId, {
            onFrame: (frame) => this.#handleFrame(frame),
            onAudio: (chunk) => this.#handleAudio(chunk),
            onEnd: (reason) => this.#handleCameraEnd(reason),
        });
        if (!result.ok) {
            return false;
        }
        this.#subscription = result.subscription;
        this.#process.start();
        // the audio ffmpeg starts once the video one has produced its headers (viewers wait for
        // those; process start-up is CPU-bound), or after AUDIO_START_DELAY_MS at the latest
        this.#audioStartTimer = setTimeout(() => this.#startAudio(), AUDIO_START_DELAY_MS);
        if (this.#options.audio !== null) {
            this.#silenceTimer = setInterval(() => this.#fillSilence(), SILENCE_TICK_MS);
        }
        this.#log.info(`transcoder started (${this.#options.audio ?? "no"} audio)`);
        return true;
    }

    async stop(): Promise<void> {
        if (this.#isStopped) {
            return;
        }
        this.#isStopped = true;
        this.#isHlsWanted = false;
        clearInterval(this.#silenceTimer);
        clearTimeout(this.#audioStartTimer);
        this.#subscription?.close();
        this.#subscription = undefined;
        await Promise.all([this.#process.stop(), this.#audio?.stop(), this.#hls?.stop()]);
        for (const waiter of this.#infoWaiters.splice(0)) {
            waiter(undefined);
        }
        if (this.#options.hls !== null) {
            await rm(this.#options.hls.dir, {recursive: true, force: true});
        }
        this.#log.info("transcoder stopped");
    }

    /** Starts writing HLS segments (idempotent). */
    startHls(): void {
        if (this.#hls === undefined || this.#isStopped || this.#isHlsWanted) {
            return;
        }
        this.#isHlsWanted = true;
        this.#hls.start();
        this.#log.info("HLS started");
    }

    /** Stops the HLS remuxer; its files stay until stop() (a new HLS viewer may come back). */
    async stopHls(): Promise<void> {
        if (this.#hls === undefined || !this.#isHlsWanted) {
            return;
        }
        this.#isHlsWanted = false;
        await this.#hls.stop();
        this.#log.info("HLS stopped");
    }

    /** The frames since the last keyframe (empty when none is cached). */
    recentVideo(): readonly EncodedVideoFrame[] {
        return this.#gop;
    }

    addConsumer(consumer: EncodedMediaConsumer): () => void {
        this.#consumers.add(consumer);
        return () => {
            this.#consumers.delete(consumer);
        };
    }

    /** Resolves with the stream parameters once ffmpeg wrote them, or undefined after `timeoutMs` / stop. */
    whenInfo(timeoutMs: number): Promise<EncodedStreamInfo | undefined> {
        if (this.#info !== undefined) {
            return Promise.resolve(this.#info);
        }
        return new Promise((resolve) => {
            const timer = setTimeout(() => {
                this.#infoWaiters = this.#infoWaiters.filter((waiter) => waiter !== done);
                resolve(undefined);
            }, timeoutMs);
            const done = (info: EncodedStreamInfo | undefined): void => {
                clearTimeout(timer);
                resolve(info);
            };
            this.#infoWaiters.push(done);
        });
    }

    // ---- input ---------------------------------------------------------------------------------

    #handleFrame(frame: JpegFrame): void {
        this.stats.framesIn += 1;
        this.#lastFrameMs = Date.now();
        const head = Buffer.from(
            `--${MPJPEG_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${frame.data.length}\r\n\r\n`,
            "latin1",
        );
        if (!this.#process.write(0, [head, frame.data, PART_TRAILER], this.#options.maxQueuedBytes)) {
            this.stats.framesDropped += 1;
        }
    }

    #handleAudio(chunk: AudioChunk): void {
        if (this.#options.audio === null) {
            return;
        }
        this.stats.audioChunksIn += 1;
        const alaw = chunk.codec === "alaw" ? chunk.data : pcm16ToAlawBytes(chunk.data);
        if (this.#audio?.write(0, [alaw], this.#options.maxQueuedBytes) === true) {
            this.#lastAudioWriteMs = Date.now();
        } else {
            this.stats.audioChunksDropped += 1;
        }
    }

    #fillSilence(): void {
        const nowMs = Date.now();
        if (nowMs - this.#lastFrameMs > SILENCE_NEEDS_FRAME_WITHIN_MS) {
            return;
        }
        const gapMs = nowMs - this.#lastAudioWriteMs;
        if (gapMs >= AUDIO_GAP_MS) {
            this.#writeSilence(Math.min(gapMs, MAX_SILENCE_MS));
        }
    }

    #writeSilence(durationMs: number): void {
        const bytes = Buffer.alloc(Math.round(durationMs * ALAW_BYTES_PER_MS), ALAW_SILENCE);
        if (this.#audio?.write(0, [bytes], this.#options.maxQueuedBytes) === true) {
            this.#lastAudioWriteMs = Date.now();
        }
    }

    #handleCameraEnd(reason: string): void {
        this.#subscription = undefined;
        for (const consumer of [...this.#consumers]) {
            try {
                consumer.onEnd?.(reason);
            } catch (error) {
                this.#log.error("encoded consumer onEnd threw", {error});
            }
        }
        this.#consumers.clear();
        this.#onEnd(reason);
    }

    // ---- output --------------------------------------------------------------------------------

    #handleRun(run: FfmpegRun): void {
        this.stats.runs += 1;
        this.#info = undefined;
        this.#gop = [];
        this.#videoConfigTag = undefined;
        if (this.#isHlsWanted && this.stats.runs > 1) {
            // new sequence headers: the remuxer starts over with them
            this.#restartHls();
        }
        this.#readFlv(run.stdout, (tag, nowMs) => this.#handleVideoTag(tag, nowMs), this.#process);
    }

    #handleAudioRun(run: FfmpegRun): void {
        const audio = this.#audio;
        if (audio === undefined) {
            return;
        }
        if (this.#options.audio === "opus") {
            this.#readOgg(run.stdout, audio);
        } else {
            this.#readFlv(run.stdout, (tag, nowMs) => this.#handleAudioTag(tag, nowMs, true), audio);
        }
        const hlsAudio = run.pipes[HLS_AUDIO_OUTPUT_FD];
        if (hlsAudio !== undefined) {
            this.#readFlv(hlsAudio, (tag, nowMs) => this.#handleAudioTag(tag, nowMs, false), audio);
        }
        // the encoder starts with the first bytes; do not wait for the camera's first packet
        this.#writeSilence(SILENCE_TICK_MS);
    }

    #readFlv(stream: unknown, onTag: (tag: FlvTag, nowMs: number) => void, owner: FfmpegProcess): void {
        if (!isReadable(stream)) {
            return;
        }
        const flv = new FlvDemuxer();
        stream.on("data", (chunk: Buffer) => {
            let tags: FlvTag[];
            try {
                tags = flv.push(chunk);
            } catch (error) {
                this.#log.warn(`unreadable ffmpeg output; restarting it: ${String(error)}`);
                owner.kill();
                return;
            }
            const nowMs = Date.now();
            for (const tag of tags) {
                onTag(tag, nowMs);
            }
        });
    }

    #readOgg(stream: unknown, owner: FfmpegProcess): void {
        if (!isReadable(stream)) {
            return;
        }
        const ogg = new OggDemuxer();
        stream.on("data", (chunk: Buffer) => {
            try {
                for (const packet of ogg.push(chunk)) {
                    this.#handleOpus(packet.data, packet.pageGranule, packet.laterPacketsOnPage);
                }
            } catch (error) {
                this.#log.warn(`unreadable Opus output; restarting ffmpeg: ${String(error)}`);
                owner.kill();
            }
        });
    }

    #handleVideoTag(tag: FlvTag, nowMs: number): void {
        if (tag.kind === "videoConfig") {
            const [sps] = tag.sps;
            const [pps] = tag.pps;
            this.#videoConfigTag = tag.raw;
            this.#forwardToHls(tag.raw, "config");
            if (sps !== undefined && pps !== undefined) {
                this.#setInfo({video: {codec: "h264", sps, pps}, audio: this.#audioInfo});
            }
            return;
        }
        if (tag.kind !== "video") {
            return;
        }
        this.#forwardToHls(tag.raw, tag.isKeyframe ? "keyframe" : "frame");
        const nalUnits = tag.nalUnits.filter((nal) => ((nal[0] ?? 0) & 0x1f) !== NAL_AUD);
        if (nalUnits.length === 0) {
            return;
        }
        const timestampMs = unwrapFlvTimestamp(tag.timestampMs + tag.compositionOffsetMs, nowMs);
        const frame: EncodedVideoFrame = {nalUnits, isKeyframe: tag.isKeyframe, timestampMs};
        if (frame.isKeyframe) {
            this.#gop = [frame];
        } else if (this.#gop.length > 0 && this.#gop.length < MAX_GOP_FRAMES) {
            this.#gop.push(frame);
        } else {
            this.#gop = [];
        }
        this.stats.videoFramesOut += 1;
        this.#emit((consumer) => consumer.onVideo?.(frame));
    }

    /** `isRtsp`: the tag is the RTSP audio (the audio ffmpeg's stdout), else the HLS-only AAC (its fd 3). */
    #handleAudioTag(tag: FlvTag, nowMs: number, isRtsp: boolean): void {
        const isAac = tag.kind === "audioConfig" || (tag.kind === "audio" && tag.codec === "aac");
        if (tag.kind === "audioConfig") {
            if (isRtsp && this.#audioInfo?.codec === "aac" && !this.#audioInfo.config.equals(tag.config)) {
                this.#audioInfo = {...this.#audioInfo, config: tag.config};
                if (this.#info !== undefined) {
                    this.#setInfo({...this.#info, audio: this.#audioInfo});
                }
            }
            this.#aacConfigTag = tag.raw;
            this.#forwardToHls(tag.raw, "config");
            return;
        }
        if (tag.kind !== "audio") {
            return;
        }
        if (isAac) {
            this.#forwardToHls(tag.raw, "frame");
        }
        if (!isRtsp) {
            return;
        }
        const samples = tag.codec === "aac" ? 1024 : tag.data.length;
        const timestampMs = unwrapFlvTimestamp(tag.timestampMs, nowMs);
        this.stats.audioFramesOut += 1;
        this.#emit((consumer) => consumer.onAudio?.({data: tag.data, timestampMs, samples}));
    }

    #handleOpus(data: Buffer, pageGranule: bigint, later: readonly Buffer[]): void {
        const magic = data.toString("latin1", 0, 8);
        if (magic === "OpusHead" || magic === "OpusTags" || pageGranule < 0n) {
            return;
        }
        const samples = opusPacketSamples(data);
        const laterSamples = later.reduce((sum, packet) => sum + opusPacketSamples(packet), 0);
        const startSamples = Number(pageGranule) - laterSamples - samples;
        this.stats.audioFramesOut += 1;
        const timestampMs = startSamples / 48;
        this.#emit((consumer) => consumer.onAudio?.({data, timestampMs, samples}));
    }

    // ---- HLS remuxer ---------------------------------------------------------------------------

    #handleHlsRun(): void {
        this.stats.hlsRuns += 1;
        this.#hlsNeedsKeyframe = true;
        const hasAudio = this.#options.audio !== null;
        const head = [buildFlvHeader(hasAudio, true)];
        if (this.#videoConfigTag !== undefined) {
            head.push(this.#videoConfigTag);
        }
        if (this.#aacConfigTag !== undefined) {
            head.push(this.#aacConfigTag);
        }
        this.#hls?.write(0, head, Number.MAX_SAFE_INTEGER);
    }

    /**
     * A tag for the HLS remuxer: sequence headers always, media from a video keyframe on (after its
     * start or a dropped write), and no audio older than that keyframe, so segments start clean.
     */
    #forwardToHls(raw: Buffer, kind: "config" | "keyframe" | "frame"): void {
        const hls = this.#hls;
        if (hls === undefined || !this.#isHlsWanted || !hls.isRunning) {
            return;
        }
        if (kind !== "config") {
            const timestampMs = flvTagTimestamp(raw);
            if (this.#hlsNeedsKeyframe) {
                if (kind !== "keyframe") {
                    return;
                }
                this.#hlsNeedsKeyframe = false;
                this.#hlsStartMs = timestampMs;
            } else if (this.#hlsStartMs !== undefined && isBefore31(timestampMs, this.#hlsStartMs)) {
                return;
            }
        }
        if (!hls.write(0, [raw], this.#options.maxQueuedBytes) && kind !== "config") {
            this.#hlsNeedsKeyframe = true;
        }
    }

    #restartHls(): void {
        const hls = this.#hls;
        if (hls === undefined) {
            return;
        }
        hls.stop()
            .then(() => {
                if (this.#isHlsWanted && !this.#isStopped) {
                    hls.start();
                }
            })
            .catch((error: unknown) => this.#log.error("HLS restart failed", {error}));
    }

    #startAudio(): void {
        clearTimeout(this.#audioStartTimer);
        if (!this.#isStopped && this.#subscription !== undefined) {
            this.#audio?.start();
        }
    }

    #setInfo(info: EncodedStreamInfo): void {
        this.#info = info;
        this.#startAudio();
        for (const waiter of this.#infoWaiters.splice(0)) {
            waiter(info);
        }
        this.#emit((consumer) => consumer.onInfo?.(info));
    }

    #emit(call: (consumer: EncodedMediaConsumer) => void): void {
        for (const consumer of this.#consumers) {
            try {
                call(consumer);
            } catch (error) {
                this.#log.error("encoded consumer threw; removing it", {error});
                this.#consumers.delete(consumer);
            }
        }
    }
}

/** The 31-bit timestamp of a raw FLV tag. */
function flvTagTimestamp(raw: Buffer): number {
    return raw.readUIntBE(4, 3) | (((raw[7] ?? 0) & 0x7f) << 24);
}

/** `a` earlier than `b` on the 31-bit FLV clock. */
function isBefore31(a: number, b: number): boolean {
    return ((b - a + 2 ** 31) % 2 ** 31) - 0 > 0 && (b - a + 2 ** 31) % 2 ** 31 < 2 ** 30;
}

function isReadable(stream: unknown): stream is Readable {
    return typeof stream === "object" && stream !== null && "on" in stream && "read" in stream;
}

/** Little-endian 16-bit PCM (cmd 6 audio) → A-law, via an aligned copy. */
function pcm16ToAlawBytes(data: Buffer): Buffer {
    const copy = new Uint8Array(data.length & ~1);
    copy.set(data.subarray(0, copy.length));
    return encodeAlaw(new Int16Array(copy.buffer));
}

function staticAudioInfo(codec: RtspAudioCodec | null): EncodedAudioInfo | null {
    switch (codec) {
        case null:
            return null;
        case "aac":
            return {
                codec: "aac",
                sampleRate: AAC_SAMPLE_RATE,
                channels: 1,
                config: aacAudioSpecificConfig(AAC_SAMPLE_RATE, 1),
            };
        case "pcma":
            return {codec: "pcma", sampleRate: 8000, channels: 1};
        case "opus":
            return {codec: "opus", sampleRate: 48000, channels: 1};
        default:
            return null;
    }
}
