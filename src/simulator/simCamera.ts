/**
 * One simulated A9/V720 camera with its own sockets: the device side of protocol-notes.md §2–§9.
 *
 * Boot: optional HTTP getA9ConfCheck (§3.1) → TCP code 100 (§8.1) → cmd 100 heartbeats (§8.2).
 * The "classic-2024" personality (new-firmware-notes.md §5.1) calls getDevInfo first, reads every HTTP
 * reply strictly, and its 301{4} reply carries `udpPlayBack` and a non-ASCII Wi-Fi name.
 * Live view (§8.3): code 11 → new UDP socket X → `{"code": 20}` to the server's UDP port, wait for 21
 * → TCP 12 → 51 to cliNat/cli → 51 for every 50 → 301 replies (4 base info, 3/2/1 start, 0 stop,
 * 298 silent) → cmd 1 fragments and cmd 4 audio from X with one increasing pkgId sequence (§9).
 * Like the real camera it stalls when 605 confirms stop (§9.5) and resumes when they come back.
 * The "mqtt-first" personality (new-firmware-notes.md §5.2) calls getDevInfo only and then sleeps: it
 * opens TCP when wake() is called (mqttFirstCamera.ts calls it on the MQTT wake message) and closes
 * it again `idleDisconnectMs` after its stream stops, without reconnecting.
 *
 * Timers: one heartbeat interval and, while streaming, one frame interval; each frame's datagrams
 * leave in one burst (§9.3).
 */
import dgram from "node:dgram";
import dns from "node:dns";
import {EventEmitter} from "node:events";
import net from "node:net";
import {Cmd, Code, ContentCode} from "../protocol/commands.js";
import {decodeConfirm} from "../protocol/confirm.js";
import {ProtocolError} from "../protocol/errors.js";
import {encodeJpegFragments} from "../protocol/jpegFragments.js";
import {decodeJson, parseForward, type WireMessage} from "../protocol/messages.js";
import {decodeDatagram, type Packet} from "../protocol/packet.js";
import {TcpFramer} from "../protocol/tcpFramer.js";
import {hexPreview} from "../util/hex.js";
import {type Logger, silentLogger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {isUsableEndpoint} from "../util/udpEndpoint.js";
import {AudioLoop} from "./audioTone.js";
import {type ConfCheck, type ConfCheckRequest, type DevInfo, fetchConfCheck, fetchDevInfo} from "./bootstrapClient.js";
import {
    type BaseInfo,
    type BaseInfoReplyQuirk,
    DEFAULT_DOMAIN,
    DEFAULT_FIRMWARE,
    encodeAudioPacket,
    encodeBaseInfoReplyPacket,
    encodeDeviceJsonPacket,
    encodeEmptyPacket,
    encodeForwardReplyPacket,
    encodeHandJson,
    encodeHeartbeatPacket,
    encodeNatResponsePacket,
    encodeProbeResponsePacket,
    encodeRegisterPacket,
    encodeUdpRequestPacket,
    FIRMWARE_2024,
    FIRMWARE_MQTT_FIRST,
    randomHex,
    randomLetters,
    type SimPersonality,
    WIFI_NAME_2024,
} from "./deviceMessages.js";
import {
    checkFaults,
    emptyFaultCounters,
    type FaultCounters,
    hasMediaFaults,
    planMediaDatagrams,
    planTcpFaults,
    type SimFaults,
} from "./faults.js";
import {Prng, seedFromString} from "./prng.js";
import {createSyntheticJpegSource, type SyntheticJpegSource} from "./syntheticJpeg.js";

export interface SimCameraOptions {
    /** Device id (12 characters for realism; any non-empty string works). */
    readonly id: string;
    /**
     * Firmware generation, default "classic-2022". "classic-2024": getDevInfo before getA9ConfCheck,
     * strict HTTP reading, firmware 202412061749, Wi-Fi name "Café-Wohnzimmer 📶" and `udpPlayBack: 1`
     * in the 301{4} reply (new-firmware-notes.md §5.1, intx82#54).
     */
    readonly personality?: SimPersonality;
    /** How the 301{4} reply is spelled (valid, not UTF-8, not JSON); default "valid". */
    readonly baseInfoReply?: BaseInfoReplyQuirk;
    /** Where the server is: the HTTP bootstrap host, or the TCP host when there is no `httpPort`. */
    readonly serverHost: string;
    /** Bootstrap over HTTP first (§3.1); the reply's host/tcpPort/pwd are then used. */
    readonly httpPort?: number;
    /** TCP control port when there is no `httpPort`. */
    readonly tcpPort?: number;
    /** Server UDP port for code 20 (default: the TCP port, §2). */
    readonly udpPort?: number;
    /** Frames per second while streaming video, default 10 (§9.3). */
    readonly fps?: number;
    /** Wanted JPEG size in bytes (e.g. 25_000 → 26 fragments); default: the natural size (~24 KB at 640×480). */
    readonly frameBytes?: number;
    readonly width?: number;
    readonly height?: number;
    readonly quality?: number;
    /** A shared frame source (overrides frameBytes/width/height/quality). */
    readonly jpegSource?: SyntheticJpegSource;
    /** Send G.711 A-law audio (cmd 4) when 301 content 3 or 1 asks for it; default true. */
    readonly audio?: boolean;
    /** A-law bytes per audio packet (8 kHz, so 160 = 20 ms); default 160. */
    readonly audioPacketBytes?: number;
    /** Append the video-style 5-byte trailer to audio payloads (unknown on real cameras); default false. */
    readonly audioTrailer?: boolean;
    /** The JPEG trailer's unknown byte (§9.2), default 0. */
    readonly trailerByte?: number;
    readonly firmware?: string;
    readonly wifiName?: string;
    /** `token` in code 100 when there is no HTTP bootstrap; default 8 random hex digits. */
    readonly token?: string;
    /** Default 5000 (§8.2). */
    readonly heartbeatIntervalMs?: number;
    /** Stop sending media after this long without any 605 (§9.5); default 4000, 0 disables. */
    readonly stallAfterMs?: number;
    /** Delay before reconnecting after the TCP session is lost; default 2000. */
    readonly reconnectDelayMs?: number;
    /** Reconnect after a lost session; default true ("mqtt-first": never, it waits for the next wake). */
    readonly autoReconnect?: boolean;
    /**
     * "mqtt-first" only: TCP is closed this long after the stream stops, or after registering when no
     * stream starts (the camera goes back to sleep); default 5000, 0 = keep TCP.
     */
    readonly idleDisconnectMs?: number;
    /** Deadline of the HTTP bootstrap and of a TCP connect; default 5000. */
    readonly connectTimeoutMs?: number;
    /** Resend code 20 this often until 21 arrives; default 500. */
    readonly udpRequestIntervalMs?: number;
    /** Give up on a live-view request after this many code 20 sends; default 10. */
    readonly udpRequestAttempts?: number;
    /** First media pkgId; default random. */
    readonly firstPackageId?: number;
    /** How many sent frames to keep in `sentFrames` (counter → JPEG); default 0. */
    readonly sentFrameLogSize?: number;
    readonly faults?: SimFaults;
    /** Seed for random fields (bootstrap random/token, pkgIds, frame phase); default from the id. */
    readonly seed?: number;
    /** Wall clock for stall timing; default Date.now. */
    readonly now?: () => number;
    readonly log?: Logger;
}

export type SimCameraState = "idle" | "bootstrapping" | "connecting" | "connected" | "registered" | "closed";

export interface FrameSentEvent {
    readonly counter: number;
    /** The JPEG as sent (without the trailer). Shared: do not mutate. */
    readonly jpeg: Buffer;
    readonly firstPackageId: number;
    readonly fragments: number;
    /** process.hrtime.bigint() right after the last fragment was handed to the socket. */
    readonly sentAtHrNs: bigint;
    /** performance.now() at the same moment (the clock of model/media.ts `receivedAtHr`). */
    readonly sentAtPerfMs: number;
    /**
     * How long after its point on the camera's frame grid the frame left (ms, ≥ 0): the simulator's
     * own lag. Many cameras share one event loop here, so after a stall of that loop (GC, CPU) their
     * late frames leave together, a burst that independent real cameras would not send.
     */
    readonly lateMs: number;
}

export interface SimCameraEvents {
    registered: [status: number];
    natCompleted: [localUdpPort: number];
    streamStarted: [mode: {readonly video: boolean; readonly audio: boolean}];
    streamStopped: [];
    frameSent: [event: FrameSentEvent];
    stalled: [];
    resumed: [];
    disconnected: [reason: string];
    /** "mqtt-first": booted (getDevInfo answered) or dropped TCP; only wake() opens TCP again. */
    asleep: [];
    closed: [];
}

export interface SimCameraStats {
    connects: number;
    registrations: number;
    disconnects: number;
    natRequests: number;
    framesSent: number;
    /** Frames not sent because the frame timer fell more than MAX_FRAMES_PER_TICK behind (a loaded host). */
    framesSkipped: number;
    fragmentsSent: number;
    audioPacketsSent: number;
    datagramsSent: number;
    bytesSent: number;
    confirmsReceived: number;
    confirmedIds: number;
    /** Media pkgIds sent and not (yet) confirmed, bounded by UNCONFIRMED_CAP. */
    unconfirmedIds: number;
    stalls: number;
    /** Datagrams or TCP packets from the server that did not decode. */
    badInput: number;
    unknownMessages: number;
    faults: FaultCounters;
}

/** Catch-up limit when the frame timer fires late. */
const MAX_FRAMES_PER_TICK = 2;
/** 51s a camera sends in answer to 50s per live-view request (protocol-notes.md §8.3 step 7). */
export const MAX_PROBE_REPLIES = 3;
/** Newest pkgIds kept in the unconfirmed set. */
export const UNCONFIRMED_CAP = 8192;
const DEFAULT_BASE_INFO: Omit<BaseInfo, "wifiName" | "version"> = {
    irLed: 0,
    devPower: 100,
    speedGrade: 1,
    moveAlert: 0,
    sdMoveMode: 0,
    instLed: 1,
    sdDevStatus: 0,
    mirrorFlip: 0,
};

interface Endpoint {
    readonly address: string;
    readonly port: number;
}

interface NatSession {
    readonly socket: dgram.Socket;
    readonly cliTarget: string;
    readonly cliToken: string;
    readonly probeTargets: readonly Endpoint[];
    localPort: number;
    /** Set when 21 arrived and 12 was sent. */
    established: boolean;
    attempts: number;
    retryTimer: NodeJS.Timeout | undefined;
    mediaTarget: Endpoint | undefined;
    /** 51s sent in answer to 50s; bounded, or camera and server would ping-pong at line rate. */
    probeReplies: number;
}

interface StreamState {
    video: boolean;
    audio: boolean;
    timer: NodeJS.Timeout | undefined;
    lastTickMs: number;
    audioDebtMs: number;
    /** Frames are due at videoEpochMs + n / fps; videoFrames counts those sent or skipped since. */
    videoEpochMs: number;
    videoFrames: number;
    /** Ticks run so far; tick n is due at videoEpochMs + n × interval. */
    ticks: number;
}

export class SimCamera extends EventEmitter<SimCameraEvents> {
    readonly id: string;
    readonly stats: SimCameraStats;
    readonly #options: SimCameraOptions;
    readonly #log: Logger;
    readonly #badInput = new RateLimitedCounter();
    readonly #prng: Prng;
    readonly #faultPrng: Prng;
    readonly #faults: SimFaults;
    readonly #mediaFaults: boolean;
    readonly #now: () => number;
    readonly #source: SyntheticJpegSource;
    readonly #audioLoop: AudioLoop;
    readonly #baseInfo: BaseInfo;
    readonly #sentFrames = new Map<number, Buffer>();
    readonly #unconfirmed = new Set<number>();
    #state: SimCameraState = "idle";
    #tcp: net.Socket | undefined;
    #heartbeatTimer: NodeJS.Timeout | undefined;
    #reconnectTimer: NodeJS.Timeout | undefined;
    #nat: NatSession | undefined;
    #stream: StreamState | undefined;
    #serverUdp: Endpoint | undefined;
    #packageId: number;
    #frameCounter = 0;
    #lastConfirmAtMs = 0;
    #stalled = false;
    #closing: Promise<void> | undefined;
    #bootstrapAbort: AbortController | undefined;
    /** code 100 `token` without HTTP bootstrap: stable for the camera's life, like a stored pwd. */
    readonly #directToken: string;
    readonly #personality: SimPersonality;
    #devInfo: DevInfo | undefined;
    #devInfoRequests = 0;
    #idleTimer: NodeJS.Timeout | undefined;
    #wakes = 0;
    /** "mqtt-first": booted, so wake() may open TCP. */
    #hasSlept = false;

    constructor(options: SimCameraOptions) {
        super();
        if (options.id.length === 0) {
            throw new RangeError("camera id must not be empty");
        }
        if (options.httpPort === undefined && options.tcpPort === undefined) {
            throw new RangeError("either httpPort or tcpPort is required");
        }
        const fps = options.fps ?? 10;
        if (!(fps > 0 && fps <= 100)) {
            throw new RangeError(`fps must be in (0, 100], got ${fps}`);
        }
        checkFaults(options.faults ?? {});
        this.id = options.id;
        this.#options = options;
        this.#log = (options.log ?? silentLogger).child(`sim:${options.id}`);
        const seed = options.seed ?? seedFromString(options.id);
        this.#prng = new Prng(seed);
        this.#faults = options.faults ?? {};
        this.#faultPrng = new Prng(this.#faults.seed ?? seed ^ 0x5eed);
        this.#mediaFaults = hasMediaFaults(this.#faults);
        this.#now = options.now ?? Date.now;
        this.#source =
            options.jpegSource ??
            createSyntheticJpegSource({
                ...(options.width === undefined ? {} : {width: options.width}),
                ...(options.height === undefined ? {} : {height: options.height}),
                ...(options.quality === undefined ? {} : {quality: options.quality}),
                ...(options.frameBytes === undefined ? {} : {targetBytes: options.frameBytes}),
            });
        this.#audioLoop = new AudioLoop(options.audioPacketBytes ?? 160);
        this.#personality = options.personality ?? "classic-2022";
        const is2024 = this.#personality === "classic-2024";
        const defaultFirmware = is2024 ? FIRMWARE_2024 : DEFAULT_FIRMWARE;
        this.#baseInfo = {
            ...DEFAULT_BASE_INFO,
            wifiName: options.wifiName ?? (is2024 ? WIFI_NAME_2024 : "v720sim"),
            version: options.firmware ?? (this.#personality === "mqtt-first" ? FIRMWARE_MQTT_FIRST : defaultFirmware),
            ...(is2024 ? {udpPlayBack: 1} : {}),
        };
        this.#directToken = options.token ?? randomHex(this.#prng, 8);
        this.#packageId = (options.firstPackageId ?? 1000 + this.#prng.below(1_000_000)) >>> 0;
        this.stats = {
            connects: 0,
            registrations: 0,
            disconnects: 0,
            natRequests: 0,
            framesSent: 0,
            framesSkipped: 0,
            fragmentsSent: 0,
            audioPacketsSent: 0,
            datagramsSent: 0,
            bytesSent: 0,
            confirmsReceived: 0,
            confirmedIds: 0,
            unconfirmedIds: 0,
            stalls: 0,
            badInput: 0,
            unknownMessages: 0,
            faults: emptyFaultCounters(),
        };
    }

    get state(): SimCameraState {
        return this.#state;
    }

    get isStreaming(): boolean {
        return this.#stream !== undefined;
    }

    get isStalled(): boolean {
        return this.#stalled;
    }

    /** The local port of the current UDP data socket X, if any. */
    get udpLocalPort(): number | undefined {
        return this.#nat?.localPort;
    }

    /** The last `sentFrameLogSize` frames sent, by counter. */
    get sentFrames(): ReadonlyMap<number, Buffer> {
        return this.#sentFrames;
    }

    get personality(): SimPersonality {
        return this.#personality;
    }

    /** The last getDevInfo reply the camera accepted ("classic-2024" only). */
    get devInfo(): DevInfo | undefined {
        return this.#devInfo;
    }

    /** getDevInfo requests sent so far. */
    get devInfoRequests(): number {
        return this.#devInfoRequests;
    }

    /** "mqtt-first": booted and without a TCP session (waiting for a wake). */
    get isAsleep(): boolean {
        return this.#hasSlept && this.#state === "idle" && this.#tcp === undefined;
    }

    /** How many times wake() opened TCP. */
    get wakeCount(): number {
        return this.#wakes;
    }

    /**
     * "mqtt-first": opens the TCP session now, as the wake message makes the real camera do [GUESS].
     * Missing fields come from the getDevInfo reply (the camera may cache it, §5.2 candidate 3), then
     * from the options. Returns false when a session is already open or connecting, or when asleep
     * is not the state (another personality, still booting, closed).
     */
    wake(target: {readonly host?: string; readonly tcpPort?: number; readonly token?: string} = {}): boolean {
        if (!this.isAsleep) {
            return false;
        }
        const cached = this.#devInfo?.data ?? {};
        const cachedPort = typeof cached["tcpPort"] === "number" ? cached["tcpPort"] : Number(cached["tcpPort"]);
        const host = target.host ?? stringOr(cached["host"], this.#options.serverHost);
        const port = target.tcpPort ?? (Number.isInteger(cachedPort) ? cachedPort : (this.#options.tcpPort ?? 0));
        const token = target.token ?? stringOr(cached["pwd"], this.#directToken);
        const domain = stringOr(cached["domain"], DEFAULT_DOMAIN);
        this.#wakes += 1;
        this.#log.debug(() => `woken: connecting to ${host}:${port}`);
        this.#connect(host, port, token, domain);
        return true;
    }

    /** Current settings as the 301/4 reply reports them. */
    get baseInfo(): Readonly<BaseInfo> {
        return this.#baseInfo;
    }

    /** Frame `counter` exactly as this camera sends it (frames are deterministic). */
    expectedFrame(counter: number): Buffer {
        return this.#source.render(this.id, counter);
    }

    /** Starts booting. Progress is reported through events; failures are retried after `reconnectDelayMs`. */
    start(): void {
        if (this.#state !== "idle") {
            return;
        }
        this.#boot();
    }

    /** Abruptly drops the TCP session and the data socket (fault "disconnect"); reconnects as configured. */
    dropConnection(): void {
        this.#tcp?.resetAndDestroy();
    }

    /** Stops for good. `abrupt` resets the TCP connection instead of ending it. Idempotent. */
    close(options: {abrupt?: boolean} = {}): Promise<void> {
        if (this.#closing !== undefined) {
            return this.#closing;
        }
        this.#state = "closed";
        clearTimeout(this.#reconnectTimer);
        clearTimeout(this.#idleTimer);
        this.#bootstrapAbort?.abort();
        this.#stopHeartbeat();
        this.#endNat();
        const tcp = this.#tcp;
        this.#closing = new Promise<void>((resolve) => {
            if (tcp === undefined || tcp.destroyed) {
                resolve();
                return;
            }
            tcp.once("close", () => resolve());
            if (options.abrupt === true) {
                tcp.resetAndDestroy();
            } else {
                tcp.end();
                setTimeout(() => tcp.destroy(), 1000).unref();
            }
        }).then(() => {
            this.#emit("closed");
        });
        return this.#closing;
    }

    // ---- boot and TCP ------------------------------------------------------------------------

    #boot(): void {
        if (this.#state === "closed") {
            return;
        }
        const {httpPort} = this.#options;
        if (httpPort === undefined && this.#personality === "mqtt-first") {
            this.#fallAsleep();
            return;
        }
        if (httpPort === undefined) {
            const tcpPort = this.#options.tcpPort ?? 0;
            this.#connect(this.#options.serverHost, tcpPort, this.#directToken, DEFAULT_DOMAIN);
            return;
        }
        this.#state = "bootstrapping";
        const abort = new AbortController();
        this.#bootstrapAbort = abort;
        const request: ConfCheckRequest = {
            signal: abort.signal,
            host: this.#options.serverHost,
            port: httpPort,
            deviceId: this.id,
            random: randomLetters(this.#prng),
            token: randomHex(this.#prng, 10),
            firmware: this.#baseInfo.version,
            timeoutMs: this.#options.connectTimeoutMs ?? 5000,
            ...(this.#personality === "classic-2022" ? {} : {strict: true}),
        };
        if (this.#personality === "mqtt-first") {
            // §5.2: getDevInfo, then MQTT only; TCP waits for the wake.
            this.#devInfoRequests += 1;
            fetchDevInfo(request).then(
                (devInfo) => {
                    this.#devInfo = devInfo;
                    this.#fallAsleep();
                },
                (error: unknown) => {
                    if (!abort.signal.aborted) {
                        this.#log.warn("getDevInfo failed", {error});
                        this.#state = "idle";
                        clearTimeout(this.#reconnectTimer);
                        this.#reconnectTimer = setTimeout(() => this.#boot(), this.#options.reconnectDelayMs ?? 2000);
                    }
                },
            );
            return;
        }
        this.#bootstrap(request).then(
            (conf) => {
                this.#log.debug(() => `bootstrap: ${conf.host}:${conf.tcpPort}`);
                this.#connect(conf.host, conf.tcpPort, conf.pwd, conf.domain);
            },
            (error: unknown) => {
                if (!abort.signal.aborted) {
                    this.#log.warn("bootstrap failed", {error});
                    this.#scheduleReconnect();
                }
            },
        );
    }

    /** classic-2022: getA9ConfCheck; classic-2024: getDevInfo, then getA9ConfCheck (new-firmware-notes.md §5.1). */
    async #bootstrap(request: ConfCheckRequest): Promise<ConfCheck> {
        if (this.#personality === "classic-2024") {
            this.#devInfoRequests += 1;
            this.#devInfo = await fetchDevInfo(request);
        }
        return await fetchConfCheck(request);
    }

    #connect(host: string, port: number, token: string, domain: string): void {
        if (this.#state === "closed") {
            return;
        }
        this.#state = "connecting";
        const framer = new TcpFramer();
        const socket = net.connect({host, port});
        this.#tcp = socket;
        socket.setNoDelay(true);
        socket.setTimeout(this.#options.connectTimeoutMs ?? 5000);
        socket.on("timeout", () => {
            if (socket.connecting) {
                socket.destroy(new Error("connect timeout"));
            }
        });
        socket.on("error", (error) => {
            this.#log.debug(() => `tcp error: ${error.message}`);
        });
        let wasConnected = false;
        socket.on("connect", () => {
            wasConnected = true;
            socket.setTimeout(0);
            this.stats.connects += 1;
            this.#state = "connected";
            this.#serverUdp = {
                address: socket.remoteAddress ?? host,
                port: this.#options.udpPort ?? port,
            };
            if (this.#faults.neverLogin !== true) {
                this.#writeTcp(encodeRegisterPacket(this.id, token, domain));
            }
            this.#startHeartbeat();
        });
        socket.on("data", (chunk: Buffer) => {
            let packets: Packet[];
            try {
                packets = framer.push(chunk);
            } catch (error) {
                if (!(error instanceof ProtocolError)) {
                    throw error;
                }
                this.#countBad("tcp-framing", error.raw ?? chunk, error.message);
                socket.destroy();
                return;
            }
            for (const packet of packets) {
                try {
                    this.#handleTcpPacket(packet);
                } catch (error) {
                    this.#log.error("tcp packet handler failed", {error, command: packet.header.command});
                }
            }
        });
        socket.on("close", () => {
            if (this.#tcp !== socket) {
                return;
            }
            this.#tcp = undefined;
            clearTimeout(this.#idleTimer);
            this.#stopHeartbeat();
            this.#endNat();
            if (this.#state !== "closed") {
                if (wasConnected) {
                    this.stats.disconnects += 1;
                    this.#emit("disconnected", "tcp closed");
                }
                if (this.#personality === "mqtt-first") {
                    this.#fallAsleep();
                } else {
                    this.#scheduleReconnect();
                }
            }
        });
    }

    /** "mqtt-first": no TCP until the next wake(). */
    #fallAsleep(): void {
        if (this.#state === "closed") {
            return;
        }
        this.#state = "idle";
        this.#hasSlept = true;
        this.#emit("asleep");
    }

    /** "mqtt-first": closes TCP `idleDisconnectMs` from now unless a stream starts first. */
    #armIdleDisconnect(): void {
        clearTimeout(this.#idleTimer);
        const idleMs = this.#options.idleDisconnectMs ?? 5000;
        if (this.#personality !== "mqtt-first" || idleMs <= 0) {
            return;
        }
        this.#idleTimer = setTimeout(() => {
            const socket = this.#tcp;
            if (socket !== undefined && this.#stream === undefined) {
                this.#log.debug(`idle for ${idleMs} ms: closing TCP, back to sleep`);
                socket.end();
            }
        }, idleMs);
    }

    #scheduleReconnect(): void {
        if (this.#state === "closed") {
            return;
        }
        this.#state = "idle";
        if (this.#options.autoReconnect === false) {
            return;
        }
        clearTimeout(this.#reconnectTimer);
        this.#reconnectTimer = setTimeout(() => this.#boot(), this.#options.reconnectDelayMs ?? 2000);
    }

    #startHeartbeat(): void {
        this.#stopHeartbeat();
        this.#heartbeatTimer = setInterval(() => this.#heartbeatTick(), this.#options.heartbeatIntervalMs ?? 5000);
    }

    #stopHeartbeat(): void {
        clearInterval(this.#heartbeatTimer);
        this.#heartbeatTimer = undefined;
    }

    #heartbeatTick(): void {
        if (this.#faults.neverLogin !== true) {
            this.#writeTcp(encodeHeartbeatPacket());
        }
        const plan = planTcpFaults(this.#faults, this.#faultPrng, this.stats.faults);
        for (const bytes of plan.bytes) {
            this.#writeTcp(bytes);
        }
        if (plan.disconnect) {
            this.#log.debug("fault: abrupt disconnect");
            this.dropConnection();
        }
    }

    #writeTcp(bytes: Buffer): void {
        const socket = this.#tcp;
        if (socket !== undefined && !socket.destroyed && !socket.connecting) {
            socket.write(bytes);
        }
    }

    #handleTcpPacket(packet: Packet): void {
        switch (packet.header.command) {
            case Cmd.json:
                this.#handleTcpJson(packet);
                return;
            case Cmd.heartbeat:
                return; // the server's optional heartbeat answer (§8.2)
            case Cmd.confirm:
                this.#handleConfirm(packet.payload); // AP-style confirms on TCP (§11.2); harmless here
                return;
            default:
                this.stats.unknownMessages += 1;
                this.#log.debug(() => `tcp: ignoring cmd ${packet.header.command}`);
        }
    }

    #handleTcpJson(packet: Packet): void {
        let message: WireMessage;
        try {
            message = decodeJson(packet.payload);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#countBad("tcp-json", packet.payload, error.message);
            return;
        }
        switch (message.code) {
            case Code.registerResponse:
                this.#handleRegistered(message);
                return;
            case Code.natRequestToDevice:
                this.#handleNatRequest(message);
                return;
            case Code.deviceStatus:
                return; // 53: no reply (§8.3 step 8)
            case Code.forward:
                this.#handleForward(message);
                return;
            default:
                this.stats.unknownMessages += 1;
                this.#log.debug(() => `tcp: ignoring code ${message.code}`);
        }
    }

    #handleRegistered(message: WireMessage): void {
        const status = typeof message["status"] === "number" ? message["status"] : 0;
        if (status === 200 && this.#state === "connected") {
            this.#state = "registered";
            this.stats.registrations += 1;
            this.#armIdleDisconnect();
        }
        this.#emit("registered", status);
    }

    // ---- live-view handshake (§8.3) -------------------------------------------------------------

    #handleNatRequest(message: WireMessage): void {
        const tcp = this.#tcp;
        if (tcp === undefined || this.#serverUdp === undefined) {
            return;
        }
        this.stats.natRequests += 1;
        this.#endNat();
        const probeTargets: Endpoint[] = [];
        for (const [ipKey, portKey] of [
            ["cliNatIp", "cliNatPort"],
            ["cliIp", "cliPort"],
        ] as const) {
            const address = message[ipKey];
            const port = message[portKey];
            if (
                typeof address === "string" &&
                typeof port === "number" &&
                isUsableEndpoint(address, port) &&
                !probeTargets.some((target) => target.address === address && target.port === port)
            ) {
                probeTargets.push({address, port});
            }
        }
        if (probeTargets.length === 0) {
            probeTargets.push(this.#serverUdp); // the camera falls back to host:tcpPort (§8.3 step 1)
        }
        const socket = dgram.createSocket({
            type: net.isIPv6(this.#serverUdp.address) ? "udp6" : "udp4",
            lookup: literalLookup,
        });
        const nat: NatSession = {
            socket,
            cliTarget: stringOr(message["cliTarget"], ""),
            cliToken: stringOr(message["cliToken"], ""),
            probeTargets,
            localPort: 0,
            established: false,
            attempts: 0,
            retryTimer: undefined,
            mediaTarget: undefined,
            probeReplies: 0,
        };
        this.#nat = nat;
        socket.on("error", (error) => {
            this.#log.debug(() => `udp error: ${error.message}`);
        });
        socket.on("message", (datagram, remote) => {
            if (this.#nat !== nat) {
                return;
            }
            try {
                this.#handleDatagram(nat, datagram, {address: remote.address, port: remote.port});
            } catch (error) {
                this.#log.error("datagram handler failed", {error, raw: hexPreview(datagram)});
            }
        });
        socket.bind(0, () => {
            if (this.#nat !== nat) {
                return;
            }
            nat.localPort = socket.address().port;
            try {
                socket.setSendBufferSize(1 << 20);
            } catch (error) {
                this.#log.debug("could not enlarge the UDP send buffer", {error});
            }
            this.#sendUdpRequest(nat);
        });
    }

    #sendUdpRequest(nat: NatSession): void {
        if (this.#nat !== nat || nat.established) {
            return;
        }
        if (nat.attempts >= (this.#options.udpRequestAttempts ?? 10)) {
            this.#log.warn("no code 21 from the server; giving up this live-view request");
            this.#endNat();
            return;
        }
        nat.attempts += 1;
        this.#sendUdp(nat, encodeUdpRequestPacket(), this.#serverUdp);
        nat.retryTimer = setTimeout(() => this.#sendUdpRequest(nat), this.#options.udpRequestIntervalMs ?? 500);
    }

    #handleUdpResponse(nat: NatSession, message: WireMessage): void {
        if (nat.established) {
            return;
        }
        nat.established = true;
        clearTimeout(nat.retryTimer);
        const localAddress = this.#tcp?.localAddress ?? "0.0.0.0";
        this.#writeTcp(
            encodeNatResponsePacket({
                devIp: stringOr(message["ip"], ""),
                devPort: typeof message["port"] === "number" ? message["port"] : 0,
                devNatIp: localAddress,
                devNatPort: nat.localPort,
                cliTarget: nat.cliTarget,
                cliToken: nat.cliToken,
            }),
        );
        const probe = encodeProbeResponsePacket(this.id);
        for (const target of nat.probeTargets) {
            this.#sendProbe(nat, probe, target);
        }
        this.#emit("natCompleted", nat.localPort);
    }

    #endNat(): void {
        this.#stopStream(false);
        const nat = this.#nat;
        if (nat === undefined) {
            return;
        }
        this.#nat = undefined;
        clearTimeout(nat.retryTimer);
        try {
            nat.socket.close();
        } catch (error) {
            this.#log.debug("udp close failed", {error});
        }
    }

    #handleDatagram(nat: NatSession, datagram: Buffer, remote: Endpoint): void {
        let packet: Packet;
        try {
            packet = decodeDatagram(datagram);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#countBad("udp", datagram, error.message);
            return;
        }
        switch (packet.header.command) {
            case Cmd.json:
                this.#handleUdpJson(nat, packet, remote);
                return;
            case Cmd.confirm:
                this.#handleConfirm(packet.payload);
                return;
            case Cmd.heartbeat:
                this.#sendUdp(nat, encodeEmptyPacket(Cmd.heartbeat), remote);
                return;
            case Cmd.ping:
                this.#sendUdp(nat, encodeEmptyPacket(Cmd.pong), remote); // §5: 101 → 102
                return;
            default:
                this.stats.unknownMessages += 1;
        }
    }

    #handleUdpJson(nat: NatSession, packet: Packet, remote: Endpoint): void {
        let message: WireMessage;
        try {
            message = decodeJson(packet.payload);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#countBad("udp-json", packet.payload, error.message);
            return;
        }
        switch (message.code) {
            case Code.udpResponse:
                this.#handleUdpResponse(nat, message);
                return;
            case Code.probeRequest:
                // Media goes to the client that completed the 50/51 exchange; follow its latest address (§9.1).
                nat.mediaTarget = remote;
                // §8.3 step 7: a second 51 after the first 50 (knightofdemons claims 3 rounds). The server
                // answers every 51 with a 50, so answering every 50 would loop forever.
                if (nat.probeReplies < MAX_PROBE_REPLIES) {
                    nat.probeReplies += 1;
                    this.#sendProbe(nat, encodeProbeResponsePacket(this.id), remote);
                }
                return;
            case Code.timestampToDevice:
                this.#sendUdp(
                    nat,
                    encodeDeviceJsonPacket(
                        encodeHandJson([
                            ["code", Code.timestampFromDevice],
                            ["timerStamp", this.#now()],
                        ]),
                    ),
                    remote,
                );
                return;
            default:
                this.stats.unknownMessages += 1;
        }
    }

    /** A code 51, unless fault `lostProbes` says it is lost on the way. */
    #sendProbe(nat: NatSession, probe: Buffer, target: Endpoint): void {
        if (this.stats.faults.lostProbes < (this.#faults.lostProbes ?? 0)) {
            this.stats.faults.lostProbes += 1;
            return;
        }
        this.#sendUdp(nat, probe, target);
    }

    #sendUdp(nat: NatSession, bytes: Buffer, target: Endpoint | undefined): void {
        if (target === undefined) {
            return;
        }
        nat.socket.send(bytes, target.port, target.address);
        this.stats.datagramsSent += 1;
        this.stats.bytesSent += bytes.length;
    }

    // ---- 301 forwards (§6.2) ---------------------------------------------------------------------

    #handleForward(message: WireMessage): void {
        let content: WireMessage;
        let requestTarget: string;
        try {
            const forward = parseForward(message);
            content = forward.content;
            requestTarget = forward.target;
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#countBad("forward", Buffer.from(JSON.stringify(message)), error.message);
            return;
        }
        const target = this.#nat?.cliTarget || requestTarget;
        const code = content.code;
        switch (code) {
            case ContentCode.closeAudioCloseVideo:
                this.#writeTcp(encodeForwardReplyPacket(target, [["code", code]]));
                this.#stopStream(true);
                return;
            case ContentCode.openAudioCloseVideo:
            case ContentCode.closeAudioOpenVideo:
            case ContentCode.openAudioOpenVideo:
                this.#writeTcp(encodeForwardReplyPacket(target, [["code", code]]));
                this.#startStream(code !== ContentCode.openAudioCloseVideo, code !== ContentCode.closeAudioOpenVideo);
                return;
            case ContentCode.baseInfo:
                this.#writeTcp(encodeBaseInfoReplyPacket(target, this.#baseInfo, this.#options.baseInfoReply));
                return;
            case ContentCode.retransmission:
                return; // 298: no reply (§6.2)
            case ContentCode.reboot:
                this.#log.info("reboot requested");
                this.dropConnection();
                return;
            default: {
                const setting = SETTING_CODES.get(code);
                if (setting === undefined) {
                    this.stats.unknownMessages += 1;
                    this.#log.debug(() => `301: ignoring content code ${code}`);
                    return;
                }
                const [wireKey, field] = setting;
                this.#baseInfo[field] = numberOr(content[wireKey], this.#baseInfo[field]); // settings: no reply
            }
        }
    }

    // ---- media (§9) --------------------------------------------------------------------------------

    #startStream(video: boolean, audio: boolean): void {
        const nat = this.#nat;
        if (nat === undefined || !nat.established) {
            this.#log.warn("stream requested before the UDP handshake; ignoring");
            return;
        }
        const wantAudio = audio && this.#options.audio !== false;
        const now = this.#now();
        this.#lastConfirmAtMs = now;
        this.#stalled = false;
        if (this.#stream !== undefined) {
            this.#stream.video = video;
            this.#stream.audio = wantAudio;
            return;
        }
        const stream: StreamState = {
            video,
            audio: wantAudio,
            timer: undefined,
            lastTickMs: now,
            audioDebtMs: 0,
            videoEpochMs: now,
            videoFrames: 0,
            ticks: 0,
        };
        this.#stream = stream;
        clearTimeout(this.#idleTimer);
        const intervalMs = this.#frameIntervalMs();
        // A random phase, so many cameras started together do not burst at the same instant.
        this.#scheduleTick(stream, Math.floor(this.#prng.next() * intervalMs));
        this.#emit("streamStarted", {video, audio: wantAudio});
    }

    #frameIntervalMs(): number {
        return 1000 / (this.#options.fps ?? 10);
    }

    /**
     * One timer per camera, re-armed for the next point of the frame grid (epoch + n × interval),
     * so ticks do not drift the way setInterval does under load.
     */
    #scheduleTick(stream: StreamState, delayMs: number): void {
        stream.timer = setTimeout(() => {
            if (this.#stream !== stream) {
                return;
            }
            const now = this.#now();
            if (stream.ticks === 0) {
                stream.videoEpochMs = now; // the frame grid starts at the first tick
            }
            this.#streamTick(stream);
            const intervalMs = this.#frameIntervalMs();
            stream.ticks = Math.max(stream.ticks + 1, Math.floor((this.#now() - stream.videoEpochMs) / intervalMs));
            const nextAtMs = stream.videoEpochMs + stream.ticks * intervalMs;
            this.#scheduleTick(stream, Math.max(0, nextAtMs - this.#now()));
        }, delayMs);
    }

    #stopStream(emit: boolean): void {
        const stream = this.#stream;
        if (stream === undefined) {
            return;
        }
        this.#stream = undefined;
        clearTimeout(stream.timer);
        this.#stalled = false;
        if (this.#tcp !== undefined) {
            this.#armIdleDisconnect();
        }
        if (emit || this.#state !== "closed") {
            this.#emit("streamStopped");
        }
    }

    #streamTick(stream: StreamState): void {
        const nat = this.#nat;
        if (this.#stream !== stream || nat === undefined) {
            return;
        }
        const now = this.#now();
        const elapsedMs = Math.max(0, now - stream.lastTickMs);
        stream.lastTickMs = now;
        const stallAfterMs = this.#options.stallAfterMs ?? 4000;
        if (stallAfterMs > 0 && now - this.#lastConfirmAtMs > stallAfterMs) {
            if (!this.#stalled) {
                this.#stalled = true;
                this.stats.stalls += 1;
                this.#log.debug("no 605 confirms: stalled");
                this.#emit("stalled");
            }
            stream.audioDebtMs = 0;
            stream.videoEpochMs = now; // no catch-up burst after a stall
            stream.videoFrames = 0;
            stream.ticks = 0;
            return;
        }
        const target = nat.mediaTarget ?? nat.probeTargets[0];
        if (target === undefined) {
            return;
        }
        if (stream.audio) {
            this.#sendAudio(nat, stream, elapsedMs, target);
        }
        if (stream.video) {
            // Timer ticks drift under load; keep the average rate from the clock, at most 2 frames a tick.
            const fps = this.#options.fps ?? 10;
            // +0.5: ticks on the grid that come a little early or late still count as on time.
            const due = Math.floor(((now - stream.videoEpochMs) * fps) / 1000 + 0.5) + 1 - stream.videoFrames;
            if (due > MAX_FRAMES_PER_TICK) {
                // Fell behind: drop the backlog, as a camera would, and say so.
                stream.videoFrames += due - MAX_FRAMES_PER_TICK;
                this.stats.framesSkipped += due - MAX_FRAMES_PER_TICK;
            }
            for (let index = 0; index < Math.min(due, MAX_FRAMES_PER_TICK); index += 1) {
                const lateMs = Math.max(0, now - (stream.videoEpochMs + (stream.videoFrames * 1000) / fps));
                stream.videoFrames += 1;
                this.#sendFrame(nat, target, lateMs);
            }
        }
    }

    #sendAudio(nat: NatSession, stream: StreamState, elapsedMs: number, target: Endpoint): void {
        const packetMs = (this.#audioLoop.packetBytes * 1000) / 8000;
        stream.audioDebtMs = Math.min(stream.audioDebtMs + elapsedMs, 500);
        while (stream.audioDebtMs >= packetMs) {
            stream.audioDebtMs -= packetMs;
            const packageId = this.#nextPackageIds(1);
            const packet = encodeAudioPacket(this.#audioLoop.next(), packageId, this.#options.audioTrailer === true);
            this.#trackUnconfirmed(packageId, 1);
            const datagrams = this.#mediaFaults
                ? planMediaDatagrams([packet], this.#faults, this.#faultPrng, this.stats.faults, false)
                : [packet];
            for (const datagram of datagrams) {
                this.#sendUdp(nat, datagram, target);
            }
            this.stats.audioPacketsSent += 1;
        }
    }

    #sendFrame(nat: NatSession, target: Endpoint, lateMs: number): void {
        this.#frameCounter += 1;
        const counter = this.#frameCounter;
        const jpeg = this.#source.render(this.id, counter);
        const fragments = encodeJpegFragments(jpeg, this.#packageId, {trailerByte: this.#options.trailerByte ?? 0});
        const firstPackageId = this.#nextPackageIds(fragments.length);
        this.#trackUnconfirmed(firstPackageId, fragments.length);
        const datagrams = this.#mediaFaults
            ? planMediaDatagrams(fragments, this.#faults, this.#faultPrng, this.stats.faults)
            : fragments;
        for (const datagram of datagrams) {
            this.#sendUdp(nat, datagram, target);
        }
        const sentAtHrNs = process.hrtime.bigint();
        const sentAtPerfMs = performance.now();
        this.stats.framesSent += 1;
        this.stats.fragmentsSent += fragments.length;
        const logSize = this.#options.sentFrameLogSize ?? 0;
        if (logSize > 0) {
            this.#sentFrames.set(counter, jpeg);
            for (const key of this.#sentFrames.keys()) {
                if (this.#sentFrames.size <= logSize) {
                    break;
                }
                this.#sentFrames.delete(key);
            }
        }
        if (this.listenerCount("frameSent") > 0) {
            this.#emit("frameSent", {
                counter,
                jpeg,
                firstPackageId,
                fragments: fragments.length,
                sentAtHrNs,
                sentAtPerfMs,
                lateMs,
            });
        }
    }

    /** Reserves `count` consecutive pkgIds (mod 2^32) and returns the first. */
    #nextPackageIds(count: number): number {
        const first = this.#packageId;
        this.#packageId = (this.#packageId + count) >>> 0;
        return first;
    }

    #trackUnconfirmed(first: number, count: number): void {
        for (let index = 0; index < count; index += 1) {
            this.#unconfirmed.add((first + index) >>> 0);
        }
        for (const id of this.#unconfirmed) {
            if (this.#unconfirmed.size <= UNCONFIRMED_CAP) {
                break;
            }
            this.#unconfirmed.delete(id);
        }
        this.stats.unconfirmedIds = this.#unconfirmed.size;
    }

    #handleConfirm(payload: Buffer): void {
        let ids: number[];
        try {
            ids = decodeConfirm(payload);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#countBad("confirm", payload, error.message);
            return;
        }
        this.stats.confirmsReceived += 1;
        for (const id of ids) {
            if (this.#unconfirmed.delete(id)) {
                this.stats.confirmedIds += 1;
            }
        }
        this.stats.unconfirmedIds = this.#unconfirmed.size;
        this.#lastConfirmAtMs = this.#now();
        if (this.#stalled) {
            this.#stalled = false;
            this.#log.debug("confirms are back: resuming");
            this.#emit("resumed");
        }
    }

    // ---- helpers --------------------------------------------------------------------------------

    #countBad(kind: string, raw: Uint8Array, reason: string): void {
        this.stats.badInput += 1;
        const suppressed = this.#badInput.hit(kind);
        if (suppressed !== undefined) {
            this.#log.warn(`dropped bad ${kind} input: ${reason}`, {raw: hexPreview(raw), suppressed});
        }
    }

    #emit<K extends keyof SimCameraEvents>(event: K, ...args: SimCameraEvents[K]): void {
        try {
            (this.emit as (name: K, ...rest: SimCameraEvents[K]) => boolean)(event, ...args);
        } catch (error) {
            this.#log.error(`a '${event}' listener threw`, {error});
        }
    }
}

function stringOr(value: unknown, fallback: string): string {
    return typeof value === "string" ? value : fallback;
}

type NumericSetting = "irLed" | "speedGrade" | "sdMoveMode" | "moveAlert" | "instLed" | "mirrorFlip";

/** 301 setting codes the camera applies to its base info without replying: code → [wire key, field]. */
const SETTING_CODES = new Map<number, readonly [wireKey: string, field: NumericSetting]>([
    [ContentCode.irLed, ["IrLed", "irLed"]],
    [ContentCode.speedGrade, ["speedGrade", "speedGrade"]],
    [ContentCode.moveMode, ["sdMoveMode", "sdMoveMode"]],
    [ContentCode.moveAlert, ["moveAlert", "moveAlert"]],
    [ContentCode.instLed, ["instLed", "instLed"]],
    [ContentCode.videoFlip, ["mirrorFlip", "mirrorFlip"]],
]);

function numberOr(value: unknown, fallback: number): number {
    return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

/**
 * dgram's default lookup defers every send to process.nextTick, even to an IP literal: ~300 deferred
 * sends a second per streaming camera, and a frame's datagrams left only after the code that sent
 * them had returned. An IP literal is answered at once here (every target of a camera is one: the
 * server's TCP peer address and the addresses of code 11); names still go through dns.lookup.
 */
function literalLookup(
    address: string,
    options: dns.LookupOneOptions, // dgram passes the family number, which dns.lookup accepts too
    callback: (error: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
    const version = net.isIP(address);
    if (version !== 0) {
        callback(null, address, version);
        return;
    }
    dns.lookup(address, options, callback);
}
