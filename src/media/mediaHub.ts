/**
 * On-demand transcoders, one per watched camera (issue 4 item 2). A camera's transcoder starts with
 * its first lease (an RTSP viewer, an HLS player) and stops `stopGraceMs` after the last one ends.
 * HTTP has no "viewer left" event, so an HLS lease is renewed by every playlist or segment request
 * and ends `hlsIdleTimeoutMs` after the last one.
 */
import {access, readFile} from "node:fs/promises";
import {join} from "node:path";
import type {CameraDirectory} from "../model/camera.js";
import type {EncodedMediaConsumer, EncodedStreamInfo, EncodedVideoFrame} from "../model/encodedMedia.js";
import type {Logger} from "../util/log.js";
import {CameraTranscoder, type TranscoderOptions} from "./cameraTranscoder.js";

export interface MediaHubOptions {
    /** Transcoder settings; `hls` is filled per camera from `hlsRoot`. */
    readonly transcoder: Omit<TranscoderOptions, "hls">;
    /** The transcoder stops this long after its last lease ended. */
    readonly stopGraceMs: number;
    /** Directory for per-camera HLS folders, or null when HLS is off. */
    readonly hlsRoot: string | null;
    readonly hlsSegmentSeconds: number;
    readonly hlsWindow: number;
    readonly hlsIdleTimeoutMs: number;
    /** How long an HLS request waits for the first segment. */
    readonly hlsStartTimeoutMs: number;
}

export type OpenFailure = "unknown-camera" | "unavailable";

export interface EncodedStreamHandle {
    /** Parameters of the current encoder run, once known. */
    info(): EncodedStreamInfo | undefined;
    /** Resolves once parameters are known, or undefined after `timeoutMs`. */
    whenInfo(timeoutMs: number): Promise<EncodedStreamInfo | undefined>;
    /** Video frames since the last keyframe. */
    recentVideo(): readonly EncodedVideoFrame[];
    close(): void;
}

export type OpenResult =
    | {readonly ok: true; readonly handle: EncodedStreamHandle}
    | {readonly ok: false; readonly reason: OpenFailure};

export type HlsResult =
    | {readonly ok: true; readonly dir: string}
    | {readonly ok: false; readonly reason: OpenFailure | "timeout"};

interface Entry {
    readonly transcoder: CameraTranscoder;
    readonly started: Promise<boolean>;
    leases: number;
    hlsTimer: NodeJS.Timeout | undefined;
    stopTimer: NodeJS.Timeout | undefined;
}

const PLAYLIST_POLL_MS = 100;

export class MediaHub {
    readonly #options: MediaHubOptions;
    readonly #directory: CameraDirectory;
    readonly #log: Logger;
    readonly #entries = new Map<string, Entry>();
    #isStopped = false;
    #generation = 0;

    constructor(options: MediaHubOptions, directory: CameraDirectory, log: Logger) {
        this.#options = options;
        this.#directory = directory;
        this.#log = log;
    }

    get isHlsEnabled(): boolean {
        return this.#options.hlsRoot !== null;
    }

    /** Leases the camera's encoded stream for `consumer` (the transcoder starts if needed). */
    openEncoded(cameraId: string, consumer: EncodedMediaConsumer): OpenResult {
        const entry = this.#acquire(cameraId);
        if (entry === undefined) {
            return {ok: false, reason: this.#isStopped ? "unavailable" : "unknown-camera"};
        }
        const removeConsumer = entry.transcoder.addConsumer(consumer);
        let isClosed = false;
        return {
            ok: true,
            handle: {
                info: () => entry.transcoder.info,
                whenInfo: (timeoutMs) => entry.transcoder.whenInfo(timeoutMs),
                recentVideo: () => entry.transcoder.recentVideo(),
                close: () => {
                    if (isClosed) {
                        return;
                    }
                    isClosed = true;
                    removeConsumer();
                    this.#release(cameraId, entry);
                },
            },
        };
    }

    /**
     * Renews the camera's HLS lease and waits until its playlist lists a segment. The directory
     * holds index.m3u8 and the segments.
     */
    async openHls(cameraId: string): Promise<HlsResult> {
        if (this.#options.hlsRoot === null || this.#isStopped) {
            return {ok: false, reason: "unavailable"};
        }
        const entry = this.#entries.get(cameraId) ?? this.#acquire(cameraId, false);
        if (entry === undefined) {
            return {ok: false, reason: "unknown-camera"};
        }
        this.#renewHls(cameraId, entry);
        const dir = entry.transcoder.hlsDir;
        if (dir === undefined || !(await entry.started)) {
            return {ok: false, reason: "unknown-camera"};
        }
        const deadline = Date.now() + this.#options.hlsStartTimeoutMs;
        while (Date.now() < deadline) {
            if (this.#entries.get(cameraId) !== entry) {
                return {ok: false, reason: "unavailable"};
            }
            if (await hasSegment(dir)) {
                return {ok: true, dir};
            }
            await delay(PLAYLIST_POLL_MS);
            this.#renewHls(cameraId, entry); // the request is still waiting: the viewer is there
        }
        return {ok: false, reason: "timeout"};
    }

    /** The camera's HLS directory while its transcoder runs (renewing the lease), else undefined. */
    hlsDirFor(cameraId: string): string | undefined {
        const entry = this.#entries.get(cameraId);
        if (entry === undefined || entry.transcoder.hlsDir === undefined) {
            return undefined;
        }
        this.#renewHls(cameraId, entry);
        return entry.transcoder.hlsDir;
    }

    /** The transcoder of `cameraId`, while one exists (tests, bench, API). */
    transcoder(cameraId: string): CameraTranscoder | undefined {
        return this.#entries.get(cameraId)?.transcoder;
    }

    /** Ids of cameras with a transcoder. */
    activeCameras(): string[] {
        return [...this.#entries.keys()];
    }

    async stop(): Promise<void> {
        this.#isStopped = true;
        const entries = [...this.#entries.values()];
        this.#entries.clear();
        await Promise.all(
            entries.map((entry) => {
                clearTimeout(entry.hlsTimer);
                clearTimeout(entry.stopTimer);
                return entry.transcoder.stop();
            }),
        );
    }

    /** The camera's entry (created and started when new), with one more lease unless `isLeased` is false. */
    #acquire(cameraId: string, isLeased = true): Entry | undefined {
        if (this.#isStopped) {
            return undefined;
        }
        let entry = this.#entries.get(cameraId);
        if (entry === undefined) {
            if (this.#directory.get(cameraId) === undefined) {
                return undefined;
            }
            const hlsRoot = this.#options.hlsRoot;
            const transcoder = new CameraTranscoder(
                cameraId,
                {
                    ...this.#options.transcoder,
                    hls:
                        hlsRoot === null
                            ? null
                            : {
                                  dir: join(hlsRoot, `${cameraId}.${++this.#generation}`),
                                  segmentSeconds: this.#options.hlsSegmentSeconds,
                                  window: this.#options.hlsWindow,
                              },
                },
                this.#directory,
                this.#log.child(cameraId),
                (reason) => this.#handleCameraEnd(cameraId, reason),
            );
            const created: Entry = {
                transcoder,
                started: transcoder.start().catch((error: unknown) => {
                    this.#log.error(`transcoder for ${cameraId} failed to start`, {error});
                    return false;
                }),
                leases: 0,
                hlsTimer: undefined,
                stopTimer: undefined,
            };
            entry = created;
            this.#entries.set(cameraId, created);
            created.started
                .then((isStarted) => {
                    if (!isStarted) {
                        this.#remove(cameraId, created);
                    }
                })
                .catch(() => undefined);
        }
        if (isLeased) {
            clearTimeout(entry.stopTimer);
            entry.stopTimer = undefined;
            entry.leases += 1;
        }
        return entry;
    }

    #release(cameraId: string, entry: Entry): void {
        entry.leases = Math.max(0, entry.leases - 1);
        if (entry.leases > 0 || this.#entries.get(cameraId) !== entry) {
            return;
        }
        clearTimeout(entry.stopTimer);
        entry.stopTimer = setTimeout(() => this.#remove(cameraId, entry), this.#options.stopGraceMs);
    }

    #renewHls(cameraId: string, entry: Entry): void {
        if (entry.hlsTimer === undefined) {
            entry.leases += 1;
            clearTimeout(entry.stopTimer);
            entry.stopTimer = undefined;
            entry.started
                .then((isStarted) => {
                    if (isStarted && entry.hlsTimer !== undefined) {
                        entry.transcoder.startHls();
                    }
                })
                .catch(() => undefined);
        } else {
            clearTimeout(entry.hlsTimer);
        }
        entry.hlsTimer = setTimeout(() => {
            entry.hlsTimer = undefined;
            entry.transcoder.stopHls().catch((error: unknown) => this.#log.error("HLS stop failed", {error}));
            this.#release(cameraId, entry);
        }, this.#options.hlsIdleTimeoutMs);
    }

    #handleCameraEnd(cameraId: string, reason: string): void {
        const entry = this.#entries.get(cameraId);
        if (entry !== undefined) {
            this.#log.info(`camera ${cameraId} ended (${reason}); stopping its transcoder`);
            this.#remove(cameraId, entry);
        }
    }

    #remove(cameraId: string, entry: Entry): void {
        if (this.#entries.get(cameraId) !== entry) {
            return;
        }
        this.#entries.delete(cameraId);
        clearTimeout(entry.hlsTimer);
        clearTimeout(entry.stopTimer);
        entry.transcoder.stop().catch((error: unknown) => {
            this.#log.error(`transcoder for ${cameraId} failed to stop`, {error});
        });
    }
}

async function hasSegment(dir: string): Promise<boolean> {
    try {
        await access(join(dir, "index.m3u8"));
        const playlist = await readFile(join(dir, "index.m3u8"), "utf8");
        // two segments: a player can start, and the first (cut at the very first keyframe) may be short
        return playlist.split("#EXTINF").length > 2;
    } catch {
        return false;
    }
}

function delay(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}
