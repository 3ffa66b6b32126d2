/**
 * One camera TCP control connection (protocol-notes.md §8): the framing boundary and the login and
 * liveness deadlines. Accepts any Duplex (a net.Socket in production, one end of duplexPair() in
 * unit tests).
 *
 * - Bytes are framed by TcpFramer; a stream that cannot be framed is closed (house-style §4.5.3).
 * - A cmd 0 payload that is not valid JSON is dropped and counted; the connection stays.
 * - The first message must be code 100 within `loginTimeoutMs`; it is answered with 101 (§4.1)
 *   and handed to the ConnectionHandler, which returns the listener for every later message.
 * - cmd 100 heartbeats are answered with an empty cmd 100 (§8.2). Any message (and UDP traffic the
 *   session reports through noteActivity) counts as liveness; none for `heartbeatTimeoutMs` closes.
 */
import {Socket} from "node:net";
import type {Duplex} from "node:stream";
import type {CaptureDirection, CaptureTapSlot} from "../model/captureTap.js";
import {Cmd, Code} from "../protocol/commands.js";
import {ProtocolError} from "../protocol/errors.js";
import {decodeHeader, HEADER_LENGTH} from "../protocol/header.js";
import {
    buildRegisterResponse,
    decodeJson,
    encodeJsonPacket,
    parseRegisterRequest,
    type RegisterRequest,
    type WireMessage,
} from "../protocol/messages.js";
import {encodePacket, type Packet} from "../protocol/packet.js";
import {MAX_TCP_PAYLOAD_LENGTH, TcpFramer} from "../protocol/tcpFramer.js";
import {hexPreview} from "../util/hex.js";
import type {Logger} from "../util/log.js";
import type {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import type {CameraCounters} from "./cameraCounters.js";

export interface CameraConnectionOptions {
    readonly loginTimeoutMs: number;
    readonly heartbeatTimeoutMs: number;
    /** Largest TCP payload accepted; a longer length field closes the connection. */
    readonly maxTcpPayloadBytes?: number | undefined;
    /** Messages both ways go to `captureTap.tap` while it is active (model/captureTap.ts). */
    readonly captureTap?: CaptureTapSlot | undefined;
}

/** What a session needs from its TCP control connection. */
export interface CameraLink {
    /** "ip:port" of the camera side (IPv4-mapped prefix stripped). */
    readonly remoteAddress: string;
    /** Our address as the camera reached it (IPv4-mapped prefix stripped), "0.0.0.0" when unknown. */
    readonly localIp: string;
    /** Clock time of the last message from the camera (TCP, or UDP reported through noteActivity). */
    readonly lastActivityAtMs: number;
    send(packet: Buffer): void;
    noteActivity(nowMs: number): void;
    /** Destroys the connection; idempotent. */
    close(reason: string): void;
}

/** Receives every message after a successful registration. */
export interface ConnectionListener {
    handleMessage(message: WireMessage): void;
    /** Called once when the connection is gone, whoever closed it. */
    handleClose(reason: string): void;
}

export interface ConnectionHandler {
    /**
     * A valid code 100 arrived (the 101 has been sent). Returns the listener for later messages, or
     * undefined to refuse the camera (the connection is closed).
     */
    handleRegister(connection: CameraLink, request: RegisterRequest): ConnectionListener | undefined;
}

const REGISTER_RESPONSE = encodeJsonPacket(buildRegisterResponse());
const HEARTBEAT = encodePacket({command: Cmd.heartbeat});

export class CameraConnection implements CameraLink {
    readonly remoteAddress: string;
    readonly localIp: string;
    /** The camera side as address and port, for captures. */
    readonly #peer: {readonly address: string; readonly port: number};
    readonly #socket: Duplex;
    readonly #handler: ConnectionHandler;
    readonly #options: CameraConnectionOptions;
    readonly #counters: CameraCounters;
    readonly #limiter: RateLimitedCounter;
    readonly #now: () => number;
    readonly #framer: TcpFramer;
    #log: Logger;
    #listener: ConnectionListener | undefined;
    #uid: string | undefined;
    #timer: NodeJS.Timeout | undefined;
    #lastActivityAtMs: number;
    #isClosed = false;

    constructor(
        socket: Duplex,
        handler: ConnectionHandler,
        options: CameraConnectionOptions,
        counters: CameraCounters,
        limiter: RateLimitedCounter,
        log: Logger,
        now: () => number = Date.now,
    ) {
        this.#socket = socket;
        this.#handler = handler;
        this.#options = options;
        this.#counters = counters;
        this.#limiter = limiter;
        this.#log = log;
        this.#now = now;
        this.#framer = new TcpFramer(options.maxTcpPayloadBytes ?? MAX_TCP_PAYLOAD_LENGTH);
        this.#lastActivityAtMs = now();
        if (socket instanceof Socket) {
            this.#peer = {address: stripMappedPrefix(socket.remoteAddress ?? "?"), port: socket.remotePort ?? 0};
            this.remoteAddress = `${this.#peer.address}:${this.#peer.port}`;
            this.localIp = stripMappedPrefix(socket.localAddress ?? "0.0.0.0");
            socket.setNoDelay(true);
            socket.setKeepAlive(true, 30_000); // protocol-notes.md §8.2: TCP keepalive as well
        } else {
            this.#peer = {address: "stream", port: 0};
            this.remoteAddress = "stream";
            this.localIp = "0.0.0.0";
        }
        socket.on("data", (chunk: Buffer) => this.#handleData(chunk));
        socket.on("error", (error: Error) => this.#handleSocketError(error));
        socket.on("end", () => this.close("camera closed the connection"));
        socket.on("close", () => this.close("connection closed"));
        this.#timer = setTimeout(() => this.#handleLoginTimeout(), options.loginTimeoutMs);
        this.#timer.unref();
    }

    /** The registered uid, once code 100 has arrived. */
    get uid(): string | undefined {
        return this.#uid;
    }

    get isClosed(): boolean {
        return this.#isClosed;
    }

    get lastActivityAtMs(): number {
        return this.#lastActivityAtMs;
    }

    send(packet: Buffer): void {
        this.#write(packet, this.#uid);
    }

    /** Writes `packet`; while a capture runs it is also handed to the tap as sent to camera `uid`. */
    #write(packet: Buffer, uid: string | undefined): void {
        if (this.#isClosed) {
            return;
        }
        if (this.#options.captureTap?.tap?.isActive === true) {
            this.#capture("out", packet, uid);
        }
        this.#socket.write(packet);
    }

    /** Only called while a capture runs. `bytes` is a whole message (header + payload). */
    #capture(direction: CaptureDirection, bytes: Buffer, uid: string | undefined): void {
        const tap = this.#options.captureTap?.tap;
        if (tap === undefined || bytes.length < HEADER_LENGTH) {
            return;
        }
        const header = decodeHeader(bytes);
        const payload = bytes.subarray(HEADER_LENGTH, HEADER_LENGTH + header.payloadLength);
        tap.packet("tcp", direction, uid, this.#peer, header, payload);
    }

    noteActivity(nowMs: number): void {
        this.#lastActivityAtMs = nowMs;
    }

    close(reason: string): void {
        if (this.#isClosed) {
            return;
        }
        this.#isClosed = true;
        clearTimeout(this.#timer);
        this.#timer = undefined;
        this.#socket.destroy();
        this.#log.info(`connection closed: ${reason}`, {peer: this.remoteAddress});
        const listener = this.#listener;
        this.#listener = undefined;
        if (listener !== undefined) {
            try {
                listener.handleClose(reason);
            } catch (error) {
                this.#log.error("close handler failed", {error});
            }
        }
    }

    #handleData(chunk: Buffer): void {
        if (this.#isClosed) {
            return;
        }
        let packets: Packet[];
        try {
            packets = this.#framer.push(chunk);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error; // a bug, not bad input
            }
            this.#counters.badTcpStreams += 1;
            this.#warn("bad-tcp-stream", `malformed TCP stream, closing: ${error.message}`, error.raw ?? chunk);
            this.close("malformed stream");
            return;
        }
        if (packets.length === 0) {
            return;
        }
        this.#lastActivityAtMs = this.#now();
        for (const packet of packets) {
            if (this.#isClosed) {
                return;
            }
            this.#handlePacket(packet);
        }
    }

    #handlePacket(packet: Packet): void {
        const tap = this.#options.captureTap?.tap;
        if (tap?.isActive === true) {
            // Before registration the uid is unknown: the tap names the camera from code 100's `uid` or the peer's IP.
            tap.packet("tcp", "in", this.#uid, this.#peer, packet.header, packet.payload);
        }
        const command = packet.header.command;
        if (command === Cmd.heartbeat) {
            if (this.#listener === undefined) {
                this.#rejectLogin("heartbeat before registration", packet.payload);
                return;
            }
            this.send(HEARTBEAT); // §8.2: harmless and recommended
            return;
        }
        if (command !== Cmd.json) {
            if (this.#listener === undefined) {
                this.#rejectLogin(`cmd ${command} before registration`, packet.payload);
                return;
            }
            this.#counters.badTcpMessages += 1;
            this.#warn("unexpected-tcp-cmd", `unexpected TCP cmd ${command}, dropped`, packet.payload);
            return;
        }
        let message: WireMessage;
        try {
            message = decodeJson(packet.payload);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#counters.badTcpMessages += 1;
            this.#warn("bad-tcp-json", `bad TCP message dropped: ${error.message}`, packet.payload);
            return;
        }
        if (message.code === Code.registerRequest) {
            this.#handleRegister(message, packet.payload);
            return;
        }
        if (this.#listener === undefined) {
            this.#rejectLogin(`code ${message.code} before registration`, packet.payload);
            return;
        }
        try {
            this.#listener.handleMessage(message);
        } catch (error) {
            // Business-logic errors are caught apart from decode errors (house-style §4.5.4).
            this.#log.error("message handler failed", {error, code: message.code});
        }
    }

    #handleRegister(message: WireMessage, raw: Buffer): void {
        let request: RegisterRequest;
        try {
            request = parseRegisterRequest(message);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            if (this.#listener === undefined) {
                this.#rejectLogin(error.message, raw);
            } else {
                this.#counters.badTcpMessages += 1;
                this.#warn("bad-tcp-json", `bad repeated registration dropped: ${error.message}`, raw);
            }
            return;
        }
        this.#write(REGISTER_RESPONSE, this.#uid ?? request.uid);
        if (this.#listener !== undefined) {
            if (request.uid !== this.#uid) {
                this.#warn(
                    "uid-changed",
                    `registration as ${request.uid} on the session of ${this.#uid}, ignored`,
                    raw,
                );
            }
            return; // a repeated registration is answered and otherwise ignored
        }
        this.#uid = request.uid;
        this.#log = this.#log.child(request.uid);
        clearTimeout(this.#timer);
        this.#armLiveness(this.#options.heartbeatTimeoutMs);
        try {
            this.#listener = this.#handler.handleRegister(this, request);
        } catch (error) {
            this.#log.error("registration handler failed", {error});
            this.close("registration failed");
            return;
        }
        if (this.#listener === undefined) {
            this.close("registration refused");
        }
    }

    #rejectLogin(reason: string, raw: Buffer): void {
        this.#counters.loginRejected += 1;
        this.#warn("login-rejected", `first message is not a registration (${reason}), closing`, raw);
        this.close("not registered");
    }

    #handleLoginTimeout(): void {
        this.#counters.loginTimeouts += 1;
        this.#warn("login-timeout", `no registration within ${this.#options.loginTimeoutMs} ms, closing`);
        this.close("login timeout");
    }

    #armLiveness(delayMs: number): void {
        this.#timer = setTimeout(() => this.#checkLiveness(), delayMs);
        this.#timer.unref();
    }

    #checkLiveness(): void {
        const idleMs = this.#now() - this.#lastActivityAtMs;
        if (idleMs >= this.#options.heartbeatTimeoutMs) {
            this.#counters.heartbeatTimeouts += 1;
            this.#log.warn(`nothing heard for ${idleMs} ms, closing`, {peer: this.remoteAddress});
            this.close("heartbeat timeout");
            return;
        }
        this.#armLiveness(this.#options.heartbeatTimeoutMs - idleMs);
    }

    #handleSocketError(error: Error): void {
        this.#log.info(`socket error: ${error.message}`, {peer: this.remoteAddress});
        this.close(`socket error: ${error.message}`);
    }

    #warn(kind: string, message: string, raw?: Uint8Array): void {
        const suppressed = this.#limiter.hit(kind);
        if (suppressed === undefined) {
            return;
        }
        const meta: Record<string, unknown> = {peer: this.remoteAddress};
        if (raw !== undefined) {
            meta["raw"] = hexPreview(raw);
        }
        if (suppressed > 0) {
            meta["suppressed"] = suppressed;
        }
        this.#log.warn(message, meta);
    }
}

/** "::ffff:10.0.0.5" → "10.0.0.5". */
export function stripMappedPrefix(address: string): string {
    return address.startsWith("::ffff:") ? address.slice(7) : address;
}
