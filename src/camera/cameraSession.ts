/**
 * The per-connection live-view state machine of one camera (protocol-notes.md §8.3, §9).
 *
 * Lives as long as the camera's TCP connection; the registry keeps consumers across sessions and
 * tells the session whether anyone wants video (setWanted).
 *
 * | phase       | entered by                           | sends                                      |
 * |-------------|--------------------------------------|--------------------------------------------|
 * | idle        | start, stop grace elapsed            | 301{0} when leaving a stream               |
 * | negotiating | first consumer, stall restart        | 11 (camera answers UDP 20, TCP 12, UDP 51) |
 * | started     | first UDP 51 with status 200         | 53, 301{298}, 301{4 unixTimer}, 301{3}     |
 *
 * 301{3} follows 301{4} at once: the code 4 reply is not awaited. Media (cmd 1 → MjpegAssembler,
 * cmd 4 → A-law, cmd 6 → PCM, never confirmed) is accepted in negotiating and started. A 605 goes to
 * the bound UDP source when a frame completes (its ids + pending audio ids); the shared ticker
 * flushes pending ids every 100 ms, sends an empty 605 at most every 500 ms, expires stale fragments
 * and restarts the handshake when no frame came for stallTimeoutMs while someone is watching.
 *
 * Lost UDP during the handshake: a camera sends its 51 once and waits for our 50, so a lost 51 or a
 * lost 50 would leave it silent until the stall restart. Until the first media datagram arrives, the
 * ticker sends a 50 every PROBE_RETRY_INTERVAL_MS to the camera's UDP socket as far as we know it (the
 * bound source, else code 12's devIp:devPort, else its devNat): the camera answers every 50 with a 51.
 */
import {randomBytes} from "node:crypto";
import {isIPv4} from "node:net";
import type {StreamState} from "../model/camera.js";
import type {AudioCodec} from "../model/media.js";
import {Cmd, Code, ContentCode} from "../protocol/commands.js";
import {encodeConfirm, MAX_CONFIRM_IDS} from "../protocol/confirm.js";
import {ProtocolError} from "../protocol/errors.js";
import {stripAudioTrailer} from "../protocol/g711.js";
import {
    buildBaseInfoRequest,
    buildDeviceStatus,
    buildForward,
    buildNatRequest,
    encodeJsonPacket,
    localUnixTimer,
    parseForward,
    parseNatResponse,
    type WireMessage,
} from "../protocol/messages.js";
import {type AssemblerResult, MjpegAssembler, type MjpegAssemblerOptions} from "../protocol/mjpegAssembler.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {isUsableEndpoint} from "../util/udpEndpoint.js";
import type {CameraLink, ConnectionListener} from "./cameraConnection.js";
import type {CameraCounters} from "./cameraCounters.js";
import type {Tickable} from "./sessionTicker.js";
import {PROBE_PACKET, type UdpPeer, type UdpTransport} from "./udpServer.js";

export interface CameraSessionOptions {
    /** No complete frame for this long while someone watches → restart from code 11. */
    readonly stallTimeoutMs: number;
    /** Send 301{0} this long after the last consumer left. */
    readonly stopGraceMs: number;
    /** Address put in code 11 as cliIp/cliNatIp instead of the TCP socket's local address. */
    readonly advertiseHost?: string | undefined;
    readonly assembler?: Partial<MjpegAssemblerOptions> | undefined;
}

/** Where a session reports what it produces; implemented by the registry's camera record. */
export interface SessionSink {
    /** A complete JPEG; `jpeg` is owned by the sink. */
    handleFrame(jpeg: Buffer, receivedAtMs: number, receivedAtHr: number): void;
    handleAudio(codec: AudioCodec, data: Buffer, receivedAtMs: number): void;
    handleFramesDropped(count: number): void;
    /** The content of a 301 code 4 reply, as the camera sent it. */
    handleBaseInfo(content: WireMessage): void;
    /** Every 301 content from the camera (acks, replies to sendForward). */
    handleForward(content: WireMessage): void;
    handleStreamState(state: StreamState): void;
    /** The session is over (connection closed or replaced); called once. */
    handleClosed(session: CameraSession, reason: string): void;
}

export interface SessionTickerLike {
    add(member: Tickable): void;
    delete(member: Tickable): void;
}

export interface SessionContext {
    readonly link: CameraLink;
    readonly udp: UdpTransport;
    readonly ticker: SessionTickerLike;
    readonly sink: SessionSink;
    readonly counters: CameraCounters;
}

/** §9.5 [GUESS]: keep the camera's window moving while nothing is pending. */
export const EMPTY_CONFIRM_INTERVAL_MS = 500;
/** A 50 goes to the camera this often after code 11 until its first media datagram (see the top of the file). */
export const PROBE_RETRY_INTERVAL_MS = 1000;

type Phase = "idle" | "negotiating" | "started";

export class CameraSession implements UdpPeer, ConnectionListener, Tickable {
    readonly id: string;
    /** Client id sent in code 11 and used as every 301 target (§6.1). */
    readonly cliTarget = randomBytes(16).toString("hex");
    readonly cliToken = randomBytes(4).toString("hex");
    readonly #link: CameraLink;
    readonly #udp: UdpTransport;
    readonly #ticker: SessionTickerLike;
    readonly #sink: SessionSink;
    readonly #counters: CameraCounters;
    readonly #options: CameraSessionOptions;
    readonly #log: Logger;
    readonly #now: () => number;
    readonly #limiter: RateLimitedCounter;
    readonly #assembler: MjpegAssembler;
    #phase: Phase = "idle";
    #isWanted = false;
    #isClosed = false;
    #graceTimer: NodeJS.Timeout | undefined;
    #state: StreamState = "idle";
    /** When the current handshake (code 11) was sent. */
    #handshakeAtMs = 0;
    #lastFrameAtMs = 0;
    #hasFrameSinceHandshake = false;
    #hasMediaSinceHandshake = false;
    /** When the session last sent a 50 itself (or the handshake began). */
    #lastProbeAtMs = 0;
    #lastConfirmAtMs = 0;
    #assemblerDropped = 0;
    #udpActivity = false;
    #peerAddress: string | undefined;
    #peerPort = 0;
    #devNat: {readonly ip: string; readonly port: number} | undefined;
    /** devIp/devPort of the last code 12: the source our code 21 reported, i.e. the camera's UDP socket as we see it. */
    #devPublic: {readonly ip: string; readonly port: number} | undefined;
    /** cmd 1 ids received since the last confirm. */
    #pendingVideoIds: number[] = [];
    /** cmd 4 ids received since the last confirm. */
    #pendingAudioIds: number[] = [];

    constructor(
        id: string,
        context: SessionContext,
        options: CameraSessionOptions,
        log: Logger,
        now: () => number = Date.now,
    ) {
        this.id = id;
        this.#link = context.link;
        this.#udp = context.udp;
        this.#ticker = context.ticker;
        this.#sink = context.sink;
        this.#counters = context.counters;
        this.#options = options;
        this.#log = log;
        this.#now = now;
        this.#limiter = new RateLimitedCounter(10_000, now, 16);
        // media payloads are views into dgram's own per-datagram buffers, which nothing reuses: no copy needed
        this.#assembler = new MjpegAssembler({copyPayloads: false, ...options.assembler}, now);
    }

    get streamState(): StreamState {
        return this.#state;
    }

    get isClosed(): boolean {
        return this.#isClosed;
    }

    get link(): CameraLink {
        return this.#link;
    }

    /** The bound UDP source ("ip:port"), or null before the first 51. */
    get udpSource(): string | null {
        return this.#peerAddress === undefined ? null : `${this.#peerAddress}:${this.#peerPort}`;
    }

    /** devNatIp/devNatPort from the last code 12 (the camera's own view of its UDP socket). */
    get devNat(): {readonly ip: string; readonly port: number} | undefined {
        return this.#devNat;
    }

    get lastFrameAtMs(): number | null {
        return this.#lastFrameAtMs === 0 ? null : this.#lastFrameAtMs;
    }

    /** Whether any consumer wants video. The first `true` starts the handshake; `false` arms the stop grace. */
    setWanted(isWanted: boolean): void {
        if (this.#isClosed || isWanted === this.#isWanted) {
            return;
        }
        this.#isWanted = isWanted;
        if (isWanted) {
            this.#clearGrace();
            if (this.#phase === "idle") {
                this.#counters.streamStarts += 1;
                this.#startHandshake("a consumer wants video");
            }
        } else if (this.#phase !== "idle") {
            this.#graceTimer = setTimeout(() => this.#handleGraceElapsed(), this.#options.stopGraceMs);
            this.#graceTimer.unref();
        }
        this.#updateState();
    }

    /** Sends a 301 forward with `content` to the camera. False when the session is closed. */
    sendForward(content: WireMessage): boolean {
        if (this.#isClosed) {
            return false;
        }
        this.#sendTcp(buildForward(this.cliTarget, content));
        return true;
    }

    /** Ends the session: timers, ticker, UDP binding, TCP connection. Idempotent. */
    close(reason: string, options: {readonly sendStop?: boolean} = {}): void {
        if (this.#isClosed) {
            return;
        }
        if (options.sendStop === true && this.#phase !== "idle") {
            this.#sendTcp(buildForward(this.cliTarget, {code: ContentCode.closeAudioCloseVideo}));
        }
        this.#isClosed = true;
        this.#clearGrace();
        this.#ticker.delete(this);
        this.#udp.release(this);
        this.#assembler.reset();
        this.#pendingVideoIds = [];
        this.#pendingAudioIds = [];
        this.#phase = "idle";
        this.#state = "idle";
        this.#link.close(reason);
        this.#sink.handleClosed(this, reason);
    }

    // ---- ConnectionListener (TCP) --------------------------------------------------------------

    handleMessage(message: WireMessage): void {
        if (this.#isClosed) {
            return;
        }
        switch (message.code) {
            case Code.natResponseFromDevice:
                this.#handleNatResponse(message);
                return;
            case Code.forward:
                this.#handleForward(message);
                return;
            default:
                this.#log.debug(() => `TCP code ${message.code} ignored: ${JSON.stringify(message)}`);
        }
    }

    handleClose(reason: string): void {
        this.close(reason);
    }

    // ---- UdpPeer -------------------------------------------------------------------------------

    handleProbe(status: number, address: string, port: number): void {
        if (this.#isClosed) {
            return;
        }
        this.#udpActivity = true;
        if (this.#peerAddress !== address || this.#peerPort !== port) {
            this.#log.debug(() => `UDP source bound: ${address}:${port}`);
        }
        this.#peerAddress = address;
        this.#peerPort = port;
        if (status === 200 && this.#phase === "negotiating") {
            this.#proceed(); // §8.3 step 7: the app proceeds on the first 51 with status 200
        }
    }

    handleMedia(command: number, msgFlag: number, packageId: number, payload: Buffer): void {
        this.#udpActivity = true;
        if (this.#phase === "idle") {
            this.#counters.mediaWhileIdle += 1; // e.g. packets still in flight after 301{0}
            return;
        }
        this.#hasMediaSinceHandshake = true;
        if (command === Cmd.jpeg) {
            this.#counters.fragmentsReceived += 1;
            this.#pendingVideoIds.push(packageId);
            const result = this.#assembler.push(packageId, msgFlag, payload);
            if (result.kind !== "pending") {
                this.#handleAssemblerResult(result);
            }
        } else if (command === Cmd.g711) {
            this.#pendingAudioIds.push(packageId);
            this.#counters.audioChunks += 1;
            this.#sink.handleAudio("alaw", stripAudioTrailer(payload), this.#now());
        } else {
            // cmd 6: PCM, format guessed; never confirmed (§9.4: the app does not confirm it either).
            this.#counters.pcmChunks += 1;
            this.#sink.handleAudio("pcm_s16le", payload, this.#now());
        }
        if (this.#pendingVideoIds.length + this.#pendingAudioIds.length >= MAX_CONFIRM_IDS) {
            this.#flushConfirms(this.#now()); // bounds memory under a flood
        }
    }

    handleUdpHeartbeat(): void {
        this.#udpActivity = true;
        if (this.#phase === "idle" && !this.#isClosed) {
            this.#link.noteActivity(this.#now()); // the ticker does this while streaming
        }
    }

    handleUdpMessage(message: WireMessage): void {
        this.#udpActivity = true;
        this.#log.debug(() => `UDP code ${message.code} ignored: ${JSON.stringify(message)}`);
    }

    // ---- Tickable (shared 100 ms ticker) -------------------------------------------------------

    tick(nowMs: number): void {
        if (this.#isClosed || this.#phase === "idle") {
            return;
        }
        if (this.#udpActivity) {
            this.#udpActivity = false;
            this.#link.noteActivity(nowMs);
        }
        const expired = this.#assembler.expire();
        for (const result of expired) {
            this.#handleAssemblerResult(result);
        }
        if (this.#pendingVideoIds.length > 0 || this.#pendingAudioIds.length > 0) {
            this.#flushConfirms(nowMs);
        } else if (this.#phase === "started" && nowMs - this.#lastConfirmAtMs >= EMPTY_CONFIRM_INTERVAL_MS) {
            this.#sendConfirm(EMPTY_IDS, nowMs);
        }
        if (!this.#hasMediaSinceHandshake && nowMs - this.#lastProbeAtMs >= PROBE_RETRY_INTERVAL_MS) {
            this.#retryProbe(nowMs);
        }
        const sinceMs = nowMs - Math.max(this.#handshakeAtMs, this.#lastFrameAtMs);
        if (this.#isWanted && sinceMs >= this.#options.stallTimeoutMs) {
            this.#counters.streamRestarts += 1;
            const suppressed = this.#limiter.hit("stall");
            if (suppressed !== undefined) {
                this.#log.warn(`no frame for ${sinceMs} ms, restarting the handshake`, {suppressed});
            }
            this.#startHandshake("stalled");
            this.#updateState();
        }
    }

    // ---- internals -----------------------------------------------------------------------------

    #startHandshake(reason: string): void {
        const nowMs = this.#now();
        this.#phase = "negotiating";
        this.#handshakeAtMs = nowMs;
        this.#hasFrameSinceHandshake = false;
        this.#hasMediaSinceHandshake = false;
        this.#lastProbeAtMs = nowMs;
        this.#lastConfirmAtMs = nowMs;
        this.#assembler.reset();
        this.#pendingVideoIds = [];
        this.#pendingAudioIds = [];
        const ip = this.#options.advertiseHost ?? this.#link.localIp;
        const port = this.#udp.port;
        // §8.3 step 1, with the recommended cliIp = cliNatIp = S, cliPort = cliNatPort = P.
        this.#sendTcp(
            buildNatRequest({
                cliTarget: this.cliTarget,
                cliToken: this.cliToken,
                cliIp: ip,
                cliPort: port,
                cliNatIp: ip,
                cliNatPort: port,
            }),
        );
        this.#ticker.add(this);
        this.#log.info(`starting live view (${reason}): code 11 sent, client ${ip}:${port}`);
    }

    /** §8.3 steps 8–12, back to back. */
    #proceed(): void {
        const nowMs = this.#now();
        this.#phase = "started";
        this.#lastConfirmAtMs = nowMs;
        this.#sendTcp(buildDeviceStatus());
        this.#sendTcp(buildForward(this.cliTarget, {code: ContentCode.retransmission}));
        const unixTimer = localUnixTimer(nowMs, new Date(nowMs).getTimezoneOffset());
        this.#sendTcp(buildForward(this.cliTarget, buildBaseInfoRequest(unixTimer)));
        this.#sendTcp(buildForward(this.cliTarget, {code: ContentCode.openAudioOpenVideo}));
        this.#log.debug(() => `UDP ${this.udpSource ?? "?"} confirmed; sent 53, 298, 4, 3`);
    }

    #handleGraceElapsed(): void {
        this.#graceTimer = undefined;
        if (this.#isClosed || this.#isWanted || this.#phase === "idle") {
            return;
        }
        this.#sendTcp(buildForward(this.cliTarget, {code: ContentCode.closeAudioCloseVideo}));
        this.#phase = "idle";
        this.#ticker.delete(this);
        this.#assembler.reset();
        this.#pendingVideoIds = [];
        this.#pendingAudioIds = [];
        this.#counters.streamStops += 1;
        this.#log.info("no consumers left: live view stopped (301{0} sent)");
        this.#updateState();
    }

    #clearGrace(): void {
        if (this.#graceTimer !== undefined) {
            clearTimeout(this.#graceTimer);
            this.#graceTimer = undefined;
        }
    }

    #handleAssemblerResult(result: AssemblerResult): void {
        if (result.kind === "frame") {
            this.#handleFrame(result.frame.jpeg, result.frame.packageIds, result.frame.firstPackageId);
            return;
        }
        const dropped = this.#assembler.stats.framesDropped;
        const newlyDropped = dropped - this.#assemblerDropped;
        this.#assemblerDropped = dropped;
        if (result.kind === "dropped" && newlyDropped > 0) {
            this.#counters.framesDropped += newlyDropped;
            const byReason = this.#counters.framesDroppedByReason;
            byReason.set(result.reason, (byReason.get(result.reason) ?? 0) + newlyDropped);
            this.#sink.handleFramesDropped(newlyDropped);
            this.#log.debug(() => `frame dropped (${result.reason}), pkgIds ${result.packageIds.join(",")}`);
        }
    }

    #handleFrame(jpeg: Buffer, packageIds: readonly number[], firstPackageId: number): void {
        const nowMs = this.#now();
        const receivedAtHr = performance.now();
        this.#lastFrameAtMs = nowMs;
        this.#counters.framesAssembled += 1;
        this.#confirmFrame(packageIds, firstPackageId, nowMs);
        if (!this.#hasFrameSinceHandshake) {
            this.#hasFrameSinceHandshake = true;
            this.#log.info(`live view streaming: first frame ${nowMs - this.#handshakeAtMs} ms after code 11`);
            this.#updateState();
        }
        this.#sink.handleFrame(jpeg, nowMs, receivedAtHr);
    }

    /** §9.5: at once when a frame completes, with that frame's ids plus pending audio ids. */
    #confirmFrame(packageIds: readonly number[], firstPackageId: number, nowMs: number): void {
        const lastPackageId = (firstPackageId + packageIds.length - 1) >>> 0;
        const pending = this.#pendingVideoIds;
        let kept = 0;
        for (const id of pending) {
            if (!isInRange(id, firstPackageId, lastPackageId)) {
                pending[kept] = id;
                kept += 1;
            }
        }
        pending.length = kept;
        if (this.#pendingAudioIds.length === 0) {
            this.#sendIds(packageIds, nowMs);
            return;
        }
        const ids = packageIds.concat(this.#pendingAudioIds);
        this.#pendingAudioIds = [];
        this.#sendIds(ids, nowMs);
    }

    #flushConfirms(nowMs: number): void {
        const ids =
            this.#pendingAudioIds.length === 0
                ? this.#pendingVideoIds
                : this.#pendingVideoIds.concat(this.#pendingAudioIds);
        this.#pendingVideoIds = [];
        this.#pendingAudioIds = [];
        this.#sendIds(ids, nowMs);
    }

    #sendIds(ids: readonly number[], nowMs: number): void {
        if (ids.length <= MAX_CONFIRM_IDS) {
            this.#sendConfirm(ids, nowMs);
            return;
        }
        for (let start = 0; start < ids.length; start += MAX_CONFIRM_IDS) {
            this.#sendConfirm(ids.slice(start, start + MAX_CONFIRM_IDS), nowMs);
        }
    }

    /** A 50 to the camera's UDP socket as far as we know it; nothing before code 12 or a 51 named one. */
    #retryProbe(nowMs: number): void {
        const target =
            this.#peerAddress === undefined
                ? (usableEndpoint(this.#devPublic) ?? usableEndpoint(this.#devNat))
                : {ip: this.#peerAddress, port: this.#peerPort};
        if (target === undefined) {
            return;
        }
        this.#lastProbeAtMs = nowMs;
        this.#udp.send(PROBE_PACKET, target.port, target.ip);
        this.#counters.probeRetries += 1;
        this.#log.debug(() => `no media yet: 50 sent to ${target.ip}:${target.port}`);
    }

    #sendConfirm(ids: readonly number[], nowMs: number): void {
        if (this.#peerAddress === undefined) {
            return; // no bound source yet: nowhere to send
        }
        this.#udp.send(encodeConfirm(ids), this.#peerPort, this.#peerAddress);
        this.#counters.confirmsSent += 1;
        this.#lastConfirmAtMs = nowMs;
    }

    #handleNatResponse(message: WireMessage): void {
        try {
            const response = parseNatResponse(message);
            this.#devNat = {ip: response.devNatIp, port: response.devNatPort};
            this.#devPublic = {ip: response.devIp, port: response.devPort};
            this.#log.debug(
                () =>
                    `code 12: status ${response.status}, dev ${response.devIp}:${response.devPort}, ` +
                    `devNat ${response.devNatIp}:${response.devNatPort}`,
            );
        } catch (error) {
            this.#badMessage(error, message);
        }
    }

    #handleForward(message: WireMessage): void {
        let content: WireMessage;
        try {
            content = parseForward(message).content;
        } catch (error) {
            this.#badMessage(error, message);
            return;
        }
        if (content.code === ContentCode.baseInfo) {
            this.#sink.handleBaseInfo(content);
        } else {
            this.#log.debug(() => `301 from the camera: ${JSON.stringify(content)}`);
        }
        this.#sink.handleForward(content);
    }

    #badMessage(error: unknown, message: WireMessage): void {
        if (!(error instanceof ProtocolError)) {
            throw error;
        }
        this.#counters.badTcpMessages += 1;
        const suppressed = this.#limiter.hit(`code-${message.code}`);
        if (suppressed !== undefined) {
            this.#log.warn(`unusable code ${message.code} dropped: ${error.message}`, {
                message: JSON.stringify(message).slice(0, 200),
                suppressed,
            });
        }
    }

    #sendTcp(message: WireMessage): void {
        this.#link.send(encodeJsonPacket(message));
    }

    #updateState(): void {
        const state = this.#computeState();
        if (state !== this.#state) {
            this.#state = state;
            this.#sink.handleStreamState(state);
        }
    }

    #computeState(): StreamState {
        if (this.#isClosed || this.#phase === "idle") {
            return "idle";
        }
        if (!this.#isWanted) {
            return "stopping";
        }
        return this.#hasFrameSinceHandshake ? "streaming" : "starting";
    }
}

const EMPTY_IDS: readonly number[] = [];

/** `id` in [first, last], modulo 2^32. */
function isInRange(id: number, first: number, last: number): boolean {
    return (id - first) >>> 0 <= (last - first) >>> 0;
}

/** `endpoint` if a 50 can go there from our udp4 socket (a camera may report 0.0.0.0:0). */
function usableEndpoint(
    endpoint: {readonly ip: string; readonly port: number} | undefined,
): {readonly ip: string; readonly port: number} | undefined {
    return endpoint !== undefined && isIPv4(endpoint.ip) && isUsableEndpoint(endpoint.ip, endpoint.port)
        ? endpoint
        : undefined;
}
