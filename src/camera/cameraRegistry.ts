/**
 * Every camera ever seen by this process, id → record. A record outlives its TCP sessions: it keeps
 * the consumers, the latest frame, base info and counters while the camera is offline, so the API
 * still lists it and a camera that re-registers resumes streaming for the consumers still attached.
 *
 * Subscribing to a known but offline camera is accepted: the stream starts when it registers. If it
 * stays offline for `offlineGraceMs` while consumers wait, they get onEnd("offline") and are removed.
 * Fan-out is synchronous; a consumer that throws is logged and removed without affecting the others.
 */
import type {
    CameraDirectory,
    CameraFamily,
    CameraId,
    CameraView,
    StreamState,
    SubscribeResult,
} from "../model/camera.js";
import type {AudioCodec, JpegFrame, MediaConsumer} from "../model/media.js";
import {deviceFamilyOf, deviceModelOf} from "../protocol/deviceFamily.js";
import type {RegisterRequest, WireMessage} from "../protocol/messages.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {TypedEmitter} from "../util/typedEmitter.js";
import type {CameraLink, ConnectionHandler, ConnectionListener} from "./cameraConnection.js";
import type {CameraCounters, CameraStats} from "./cameraCounters.js";
import {CameraSession, type CameraSessionOptions, type SessionSink, type SessionTickerLike} from "./cameraSession.js";
import {ConsumerSet} from "./consumerSet.js";
import {FpsMeter} from "./fpsMeter.js";
import type {UdpPeer, UdpPeerDirectory, UdpTransport} from "./udpServer.js";

export interface CameraRegistryOptions extends CameraSessionOptions {
    /** Consumers waiting on an offline camera get onEnd("offline") after this long (default 60 s). */
    readonly offlineGraceMs?: number | undefined;
    /** Firmware known from elsewhere (the bootstrap `version` header), used until the camera's code 4 reply names one. */
    readonly firmwareFor?: ((id: CameraId) => string | undefined) | undefined;
    /**
     * Most cameras remembered (default 1000). A new uid beyond it evicts the offline camera without
     * consumers that was seen longest ago, or is refused when there is none: fake registrations
     * cannot grow memory without bound.
     */
    readonly maxCameras?: number | undefined;
    /**
     * Which device ids may register (`cameras.allow`); default: every id. A refused camera is
     * disconnected right after its code 100 and is never listed.
     */
    readonly isAllowed?: ((id: CameraId) => boolean) | undefined;
}

export const DEFAULT_OFFLINE_GRACE_MS = 60_000;
export const DEFAULT_MAX_CAMERAS = 1000;

export interface CameraRegistryEvents {
    /** A camera registered (also after a reconnect that replaced its session). */
    cameraOnline: CameraView;
    /** A camera's TCP session ended and no new one replaced it. */
    cameraOffline: CameraView;
    baseInfo: {readonly id: CameraId; readonly baseInfo: Readonly<Record<string, unknown>>};
    /** Every delivered frame, after the consumers got it. */
    frame: JpegFrame;
    /** Every 301 content the camera sent (acks, replies to sendForward). */
    forward: {readonly id: CameraId; readonly content: WireMessage};
    streamState: {readonly id: CameraId; readonly state: StreamState};
}

export interface RegistryContext {
    readonly udp: UdpTransport;
    readonly ticker: SessionTickerLike;
    readonly counters: CameraCounters;
}

export class CameraRegistry implements CameraDirectory, ConnectionHandler, UdpPeerDirectory {
    readonly #records = new Map<CameraId, CameraRecord>();
    readonly #options: CameraRegistryOptions;
    readonly #context: RegistryContext;
    readonly #log: Logger;
    readonly #now: () => number;
    readonly #events: TypedEmitter<CameraRegistryEvents>;
    /** One log line per refused id per minute (a refused camera retries every few seconds). */
    readonly #refusals: RateLimitedCounter;

    constructor(options: CameraRegistryOptions, context: RegistryContext, log: Logger, now: () => number = Date.now) {
        this.#options = options;
        this.#context = context;
        this.#log = log;
        this.#now = now;
        this.#events = new TypedEmitter((error, event) => log.error(`${event} listener failed`, {error}));
        this.#refusals = new RateLimitedCounter(60_000, now);
    }

    on<K extends keyof CameraRegistryEvents>(
        event: K,
        listener: (payload: CameraRegistryEvents[K]) => void,
    ): () => void {
        return this.#events.on(event, listener);
    }

    // ---- CameraDirectory -----------------------------------------------------------------------

    list(): CameraView[] {
        const nowMs = this.#now();
        return [...this.#records.values()].map((record) => record.view(nowMs));
    }

    get(id: CameraId): CameraView | undefined {
        return this.#records.get(id)?.view(this.#now());
    }

    subscribe(id: CameraId, consumer: MediaConsumer): SubscribeResult {
        const record = this.#records.get(id);
        if (record === undefined) {
            return {ok: false, reason: "unknown-camera"};
        }
        return {ok: true, subscription: record.consumers.add(consumer)};
    }

    latestFrame(id: CameraId): JpegFrame | undefined {
        return this.#records.get(id)?.latestFrame;
    }

    // ---- commands ------------------------------------------------------------------------------

    /** Sends `{"code":301,"target":<cliTarget>,"content":content}` to a connected camera. */
    sendForward(id: CameraId, content: WireMessage): boolean {
        return this.#records.get(id)?.session?.sendForward(content) ?? false;
    }

    /** Drops everything known about `id`: its session is closed (301{0} first if streaming), consumers ended. */
    forget(id: CameraId): boolean {
        const record = this.#records.get(id);
        if (record === undefined) {
            return false;
        }
        this.#records.delete(id);
        record.dispose("forgotten");
        this.#log.info(`camera ${id} forgotten`);
        return true;
    }

    stats(): CameraStats {
        return this.#context.counters.snapshot();
    }

    /** Closes every session (301{0} first when streaming) and ends every consumer. */
    stop(): void {
        for (const record of this.#records.values()) {
            record.dispose("server stopping");
        }
    }

    // ---- wiring (CameraServer) -----------------------------------------------------------------

    /** ConnectionHandler: a camera registered on `link`. A session it had before is replaced. */
    handleRegister(link: CameraLink, request: RegisterRequest): ConnectionListener | undefined {
        if (this.#options.isAllowed !== undefined && !this.#options.isAllowed(request.uid)) {
            this.#context.counters.camerasRefused += 1;
            const suppressed = this.#refusals.hit(request.uid);
            if (suppressed !== undefined) {
                this.#log.warn(`camera ${request.uid} refused: not in cameras.allow`, {
                    peer: link.remoteAddress,
                    suppressed,
                });
            }
            return undefined;
        }
        let record = this.#records.get(request.uid);
        if (record === undefined) {
            if (!this.#makeRoom()) {
                this.#context.counters.camerasRefused += 1;
                this.#log.warn(`camera ${request.uid} refused: ${this.#records.size} cameras known, none evictable`, {
                    peer: link.remoteAddress,
                });
                return undefined;
            }
            record = new CameraRecord(request.uid, this.#options, this.#events, this.#log, this.#now);
            this.#records.set(request.uid, record);
        }
        const session = new CameraSession(
            request.uid,
            {
                link,
                udp: this.#context.udp,
                ticker: this.#context.ticker,
                sink: record,
                counters: this.#context.counters,
            },
            this.#options,
            this.#log.child(request.uid),
            this.#now,
        );
        record.attach(session);
        return session;
    }

    /** UdpPeerDirectory: the live session of `uid` (code 51 `devTarget`). */
    probeTarget(uid: string): UdpPeer | undefined {
        return this.#records.get(uid)?.session;
    }

    /** True when a new record fits, after evicting the stalest offline camera without consumers if needed. */
    #makeRoom(): boolean {
        if (this.#records.size < (this.#options.maxCameras ?? DEFAULT_MAX_CAMERAS)) {
            return true;
        }
        let stalest: CameraRecord | undefined;
        for (const record of this.#records.values()) {
            if (record.isEvictable && (stalest === undefined || record.lastSeenAtMs < stalest.lastSeenAtMs)) {
                stalest = record;
            }
        }
        if (stalest === undefined) {
            return false;
        }
        this.#records.delete(stalest.id);
        stalest.dispose("evicted");
        this.#log.info(`camera ${stalest.id} forgotten to make room (offline, no consumers)`);
        return true;
    }
}

/** One camera's lasting state; the sink of its current session. */
class CameraRecord implements SessionSink {
    readonly id: CameraId;
    readonly consumers: ConsumerSet;
    session: CameraSession | undefined;
    latestFrame: JpegFrame | undefined;
    readonly #options: CameraRegistryOptions;
    readonly #events: TypedEmitter<CameraRegistryEvents>;
    readonly #log: Logger;
    readonly #now: () => number;
    readonly #fps = new FpsMeter();
    #sequence = 0;
    #framesDropped = 0;
    #lastFrameAtMs: number | null = null;
    #lastSeenAtMs: number | null = null;
    #baseInfo: Readonly<Record<string, unknown>> | null = null;
    #firmware: string | null = null;
    #offlineTimer: NodeJS.Timeout | undefined;
    /** By id prefix (new-firmware-notes.md §2); fixed for the record's life. */
    readonly #family: CameraFamily;
    readonly #model: string | null;

    constructor(
        id: CameraId,
        options: CameraRegistryOptions,
        events: TypedEmitter<CameraRegistryEvents>,
        log: Logger,
        now: () => number,
    ) {
        this.id = id;
        this.#family = deviceFamilyOf(id);
        this.#model = deviceModelOf(id) ?? null;
        this.#options = options;
        this.#events = events;
        this.#log = log;
        this.#now = now;
        this.consumers = new ConsumerSet(log.child(id), (size) => this.#handleConsumerCount(size));
    }

    attach(session: CameraSession): void {
        const previous = this.session;
        this.session = session;
        this.#clearOfflineTimer();
        if (previous !== undefined) {
            this.#log.info(
                `camera ${this.id} registered again from ${session.link.remoteAddress}; ` +
                    `replacing the session from ${previous.link.remoteAddress}`,
            );
            previous.close("replaced by a new connection");
        } else {
            this.#log.info(`camera ${this.id} online from ${session.link.remoteAddress}`);
        }
        this.#events.emit("cameraOnline", this.view(this.#now()));
        if (this.consumers.size > 0) {
            session.setWanted(true);
        }
    }

    /** Offline and nobody waiting for it. */
    get isEvictable(): boolean {
        return this.session === undefined && this.consumers.size === 0;
    }

    get lastSeenAtMs(): number {
        return this.session?.link.lastActivityAtMs ?? this.#lastSeenAtMs ?? 0;
    }

    view(nowMs: number): CameraView {
        const session = this.session;
        return {
            id: this.id,
            address: session?.link.remoteAddress ?? null,
            firmware: this.#firmware ?? this.#options.firmwareFor?.(this.id) ?? null,
            family: this.#family,
            model: this.#model,
            online: session !== undefined,
            streamState: session?.streamState ?? "idle",
            fps: this.#fps.fps(nowMs),
            lastFrameAtMs: this.#lastFrameAtMs,
            lastSeenAtMs: session?.link.lastActivityAtMs ?? this.#lastSeenAtMs,
            baseInfo: this.#baseInfo,
            consumers: this.consumers.size,
            framesDelivered: this.#sequence,
            framesDropped: this.#framesDropped,
        };
    }

    dispose(reason: string): void {
        this.#clearOfflineTimer();
        this.session?.close(reason, {sendStop: true});
        this.consumers.endAll(reason);
    }

    // ---- SessionSink ---------------------------------------------------------------------------

    handleFrame(jpeg: Buffer, receivedAtMs: number, receivedAtHr: number): void {
        this.#sequence += 1;
        const frame: JpegFrame = {cameraId: this.id, data: jpeg, sequence: this.#sequence, receivedAtMs, receivedAtHr};
        this.latestFrame = frame;
        this.#lastFrameAtMs = receivedAtMs;
        this.#fps.record(receivedAtMs);
        this.consumers.deliverFrame(frame);
        this.#events.emit("frame", frame);
    }

    handleAudio(codec: AudioCodec, data: Buffer, receivedAtMs: number): void {
        if (this.consumers.size > 0) {
            this.consumers.deliverAudio({cameraId: this.id, codec, data, receivedAtMs});
        }
    }

    handleFramesDropped(count: number): void {
        this.#framesDropped += count;
    }

    handleBaseInfo(content: WireMessage): void {
        this.#baseInfo = content;
        const version = content["version"];
        if (typeof version === "string" && version.length > 0) {
            this.#firmware = version;
        }
        this.#events.emit("baseInfo", {id: this.id, baseInfo: content});
    }

    handleForward(content: WireMessage): void {
        this.#events.emit("forward", {id: this.id, content});
    }

    handleStreamState(state: StreamState): void {
        this.#events.emit("streamState", {id: this.id, state});
    }

    handleClosed(session: CameraSession, reason: string): void {
        this.#lastSeenAtMs = session.link.lastActivityAtMs;
        if (this.session !== session) {
            return; // replaced: the new session already took over
        }
        this.session = undefined;
        this.#log.info(`camera ${this.id} offline (${reason})`);
        this.#events.emit("streamState", {id: this.id, state: "idle"});
        this.#events.emit("cameraOffline", this.view(this.#now()));
        if (this.consumers.size > 0) {
            this.#armOfflineTimer();
        }
    }

    // ---- internals -----------------------------------------------------------------------------

    #handleConsumerCount(size: number): void {
        if (size === 0) {
            this.#clearOfflineTimer();
        } else if (this.session === undefined) {
            this.#armOfflineTimer();
        }
        this.session?.setWanted(size > 0);
    }

    #armOfflineTimer(): void {
        if (this.#offlineTimer !== undefined) {
            return;
        }
        const graceMs = this.#options.offlineGraceMs ?? DEFAULT_OFFLINE_GRACE_MS;
        this.#offlineTimer = setTimeout(() => {
            this.#offlineTimer = undefined;
            if (this.session === undefined) {
                this.#log.info(`camera ${this.id} still offline after ${graceMs} ms: ending its consumers`);
                this.consumers.endAll("offline");
            }
        }, graceMs);
        this.#offlineTimer.unref();
    }

    #clearOfflineTimer(): void {
        if (this.#offlineTimer !== undefined) {
            clearTimeout(this.#offlineTimer);
            this.#offlineTimer = undefined;
        }
    }
}
