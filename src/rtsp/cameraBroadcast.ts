/**
 * One camera's RTSP fan-out: a single lease on the encoded stream while at least one session plays,
 * each frame packetized once and sent to every playing session. RTP timestamps come from absolute
 * wall-clock time (90 kHz video; audio at its sample rate, kept sample-continuous while the source
 * is), so they stay continuous for the clients when the encoder restarts.
 */
import {randomBytes} from "node:crypto";
import type {Logger} from "../util/log.js";
import {
    buildSenderReport,
    packetizeAac,
    packetizeH264,
    packetizeOpus,
    packetizePcma,
    type RtpPayload,
} from "./rtpPacketizer.js";
import type {RtspSession} from "./rtspSession.js";
import {audioClockRate, audioPayloadType, VIDEO_CLOCK_RATE, VIDEO_PAYLOAD_TYPE} from "./sdp.js";
import type {
    RtspAudioFrame,
    RtspSourceHandle,
    RtspStreamInfo,
    RtspStreamSource,
    RtspVideoFrame,
} from "./streamSource.js";

/** A joining session gets the cached frames since the last keyframe when that keyframe is at most this old. */
export const GOP_CATCH_UP_MS = 500;
/** Audio timestamps within this much of the running sample count are taken as continuous. */
const AUDIO_RESYNC_MS = 200;

class TrackClock {
    readonly rate: number;
    readonly #offset: number;
    #lastTicks: number | undefined;
    #lastMs = 0;

    constructor(rate: number) {
        this.rate = rate;
        this.#offset = randomBytes(4).readUInt32BE(0);
    }

    /** Video: ticks straight from the timestamp. */
    at(timestampMs: number): number {
        const ticks = Math.round((timestampMs * this.rate) / 1000);
        this.#lastTicks = ticks;
        this.#lastMs = timestampMs;
        return this.#wrap(ticks);
    }

    /** Like at(), without moving the clock (for frames sent again). */
    peek(timestampMs: number): number {
        return this.#wrap(Math.round((timestampMs * this.rate) / 1000));
    }

    /** Audio: continues the previous frame's end unless the timestamp moved away by more than AUDIO_RESYNC_MS. */
    continuous(timestampMs: number, samples: number): number {
        const ticks = Math.round((timestampMs * this.rate) / 1000);
        const expected = this.#lastTicks;
        const start =
            expected !== undefined && Math.abs(ticks - expected) <= (AUDIO_RESYNC_MS * this.rate) / 1000
                ? expected
                : ticks;
        this.#lastTicks = start + samples;
        this.#lastMs = timestampMs + (samples * 1000) / this.rate;
        return this.#wrap(start);
    }

    /** The RTP timestamp that corresponds to wall clock `nowMs` (for RTCP SR and RTP-Info). */
    estimate(nowMs: number): number {
        const base = this.#lastTicks ?? Math.round((nowMs * this.rate) / 1000);
        const elapsed = this.#lastTicks === undefined ? 0 : ((nowMs - this.#lastMs) * this.rate) / 1000;
        return this.#wrap(Math.round(base + elapsed));
    }

    #wrap(ticks: number): number {
        return (((this.#offset + ticks) % 2 ** 32) + 2 ** 32) % 2 ** 32;
    }
}

export interface BroadcastStats {
    videoFrames: number;
    audioFrames: number;
}

export class CameraBroadcast {
    readonly cameraId: string;
    readonly stats: BroadcastStats = {videoFrames: 0, audioFrames: 0};
    readonly #source: RtspStreamSource;
    readonly #log: Logger;
    readonly #sessions = new Set<RtspSession>();
    readonly #videoClock = new TrackClock(VIDEO_CLOCK_RATE);
    #audioClock: TrackClock | undefined;
    #handle: RtspSourceHandle | undefined;
    #info: RtspStreamInfo | undefined;
    readonly #onEnd: (reason: string) => void;

    constructor(cameraId: string, source: RtspStreamSource, log: Logger, onEnd: (reason: string) => void) {
        this.cameraId = cameraId;
        this.#source = source;
        this.#log = log;
        this.#onEnd = onEnd;
    }

    get sessionCount(): number {
        return this.#sessions.size;
    }

    /** Starts sending to `session`; the first one leases the source. False when the source refused. */
    add(session: RtspSession, info: RtspStreamInfo): "ok" | "unknown-camera" | "unavailable" {
        if (this.#handle === undefined) {
            this.#info = info;
            const opened = this.#source.openEncoded(this.cameraId, {
                onVideo: (frame) => this.#handleVideo(frame),
                onAudio: (frame) => this.#handleAudio(frame),
                onInfo: (next) => {
                    this.#info = next;
                },
                onEnd: (reason) => this.#onEnd(reason),
            });
            if (!opened.ok) {
                return opened.reason;
            }
            this.#handle = opened.handle;
            this.#info = opened.handle.info() ?? info;
        }
        session.needsKeyframe = true;
        this.#sessions.add(session);
        return "ok";
    }

    /**
     * Right after PLAY: when the last keyframe is recent (a client joining a stream that just started
     * or just had a keyframe), send the frames since it, so the client need not wait for the next one.
     */
    catchUp(session: RtspSession, nowMs: number): void {
        const frames = this.#handle?.recentVideo?.() ?? [];
        const [keyframe] = frames;
        if (keyframe === undefined || !keyframe.isKeyframe || nowMs - keyframe.timestampMs > GOP_CATCH_UP_MS) {
            return;
        }
        if (!session.needsKeyframe || session.state !== "playing" || !session.tracks.has(0)) {
            return;
        }
        const info = this.#info;
        const sets = info === undefined ? [] : [info.video.sps, info.video.pps];
        for (const frame of frames) {
            const timestamp = this.#videoClock.peek(frame.timestampMs);
            if (!session.sendFrame(0, VIDEO_PAYLOAD_TYPE, timestamp, packetizeH264(frame.nalUnits, sets))) {
                return;
            }
        }
        session.needsKeyframe = false;
    }

    remove(session: RtspSession): void {
        this.#sessions.delete(session);
        if (this.#sessions.size === 0) {
            this.close();
        }
    }

    /** Releases the source lease (the sessions are the server's to end). */
    close(): void {
        this.#sessions.clear();
        this.#handle?.close();
        this.#handle = undefined;
    }

    /** RTP-Info / SR timestamp of track `index` now. */
    rtpTimestampNow(index: number, nowMs: number): number {
        return index === 0 ? this.#videoClock.estimate(nowMs) : (this.#audioClockFor()?.estimate(nowMs) ?? 0);
    }

    /** Sends an RTCP sender report on every track of every session. */
    sendReports(nowMs: number, cname: string): void {
        for (const session of this.#sessions) {
            for (const track of session.tracks.values()) {
                if (track.packets === 0) {
                    continue;
                }
                session.sendRtcp(
                    track.index,
                    buildSenderReport({
                        ssrc: track.ssrc,
                        wallClockMs: nowMs,
                        rtpTimestamp: this.rtpTimestampNow(track.index, nowMs),
                        packetCount: track.packets,
                        octetCount: track.octets,
                        cname,
                    }),
                );
            }
        }
    }

    #handleVideo(frame: RtspVideoFrame): void {
        if (this.#sessions.size === 0) {
            return;
        }
        this.stats.videoFrames += 1;
        const info = this.#info;
        const sets = info === undefined ? [] : [info.video.sps, info.video.pps];
        let payloads: RtpPayload[] | undefined;
        const timestamp = this.#videoClock.at(frame.timestampMs);
        for (const session of this.#sessions) {
            if (session.state !== "playing" || !session.tracks.has(0)) {
                continue;
            }
            if (session.needsKeyframe && !frame.isKeyframe) {
                continue;
            }
            payloads ??= packetizeH264(frame.nalUnits, sets);
            const isSent = session.sendFrame(0, VIDEO_PAYLOAD_TYPE, timestamp, payloads);
            session.needsKeyframe = !isSent;
        }
    }

    #handleAudio(frame: RtspAudioFrame): void {
        const audio = this.#info?.audio;
        const clock = this.#audioClockFor();
        if (this.#sessions.size === 0 || audio === null || audio === undefined || clock === undefined) {
            return;
        }
        this.stats.audioFrames += 1;
        const timestamp = clock.continuous(frame.timestampMs, frame.samples);
        let payloads: RtpPayload[];
        switch (audio.codec) {
            case "aac":
                payloads = packetizeAac(frame.data);
                break;
            case "pcma":
                payloads = packetizePcma(frame.data);
                break;
            case "opus":
                payloads = packetizeOpus(frame.data);
                break;
            default:
                return;
        }
        const payloadType = audioPayloadType(audio);
        for (const session of this.#sessions) {
            if (session.state === "playing" && session.tracks.has(1)) {
                session.sendFrame(1, payloadType, timestamp, payloads);
            }
        }
    }

    #audioClockFor(): TrackClock | undefined {
        const audio = this.#info?.audio;
        if (audio === null || audio === undefined) {
            return undefined;
        }
        const rate = audioClockRate(audio);
        if (this.#audioClock?.rate !== rate) {
            this.#audioClock = new TrackClock(rate);
            this.#log.debug(() => `audio clock ${rate} Hz`);
        }
        return this.#audioClock;
    }
}
