/**
 * The UDP data channel on the same port number as TCP (protocol-notes.md §8.3, §9.1).
 *
 * - code 20 from anyone → code 21 with the observed source address (STUN-like, §8.3 step 3).
 * - code 51 → the source "ip:port" is bound to the session whose uid equals `devTarget` (never by
 *   IP alone: several cameras can share one), and that 51 gets exactly one 50.
 * - media (cmd 1, 4, 6), cmd 100 heartbeats and other JSON are routed by the bound source with two
 *   Map lookups (address, then port): no string building on the hot path. Unbound sources are
 *   dropped and counted.
 * - Undecodable datagrams are dropped, counted and logged at most once per interval per kind.
 */
import type {CaptureDirection, CaptureTap, CaptureTapSlot} from "../model/captureTap.js";
import {Cmd, Code} from "../protocol/commands.js";
import {ProtocolError} from "../protocol/errors.js";
import {decodeHeader, HEADER_LENGTH, HeaderOffset} from "../protocol/header.js";
import {
    buildProbeRequest,
    buildUdpResponse,
    decodeJson,
    encodeJsonPacket,
    parseProbeResponse,
    type WireMessage,
} from "../protocol/messages.js";
import {datagramPayloadEnd, decodeDatagram, encodePacket, type Packet} from "../protocol/packet.js";
import {hexPreview} from "../util/hex.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import type {CameraCounters} from "./cameraCounters.js";
import {DirectUdpEndpoint, type UdpEndpoint, type UdpEndpointHandlers} from "./udpEndpoint.js";
import {WorkerUdpEndpoint} from "./udpWorkerEndpoint.js";

export const DEFAULT_UDP_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024;

/** What the UDP server calls on a camera session. Called synchronously on the hot path: must not throw. */
export interface UdpPeer {
    /** The camera's id, when the peer is a camera session (names the camera in captures). */
    readonly id?: string;
    /** A code 51 from `address:port` named this peer; the source is now bound to it and a 50 was sent. */
    handleProbe(status: number, address: string, port: number): void;
    /**
     * cmd 1, 4 or 6 with the header's msgFlag and pkgId (the header is not decoded into an object on
     * this path: one call per datagram). `payload` is a view into the datagram.
     */
    handleMedia(command: number, msgFlag: number, packageId: number, payload: Buffer): void;
    /** A cmd 100 on UDP (already answered). */
    handleUdpHeartbeat(): void;
    /** Any other JSON from the bound source. */
    handleUdpMessage(message: WireMessage): void;
}

/** What a session needs from the UDP server. */
export interface UdpTransport {
    /** The bound UDP port (0 before start). */
    readonly port: number;
    send(packet: Buffer, port: number, address: string): void;
    /** Removes the peer's source binding, if any. */
    release(peer: UdpPeer): void;
}

export interface UdpPeerDirectory {
    /** The live session of camera `uid`, if any. */
    probeTarget(uid: string): UdpPeer | undefined;
}

export interface UdpServerOptions {
    readonly udpReceiveBufferBytes: number;
    /**
     * The socket in a worker thread (udpWorkerEndpoint.ts): true, false, or "auto" (default): on this
     * thread until `udpWorkerAutoAt` cameras have a bound UDP source, then moved to a worker for good.
     */
    readonly udpWorker?: boolean | "auto" | undefined;
    /** Bound UDP sources from which "auto" moves the socket to a worker (default UDP_WORKER_AUTO_AT). */
    readonly udpWorkerAutoAt?: number | undefined;
    /** Datagrams both ways go to `captureTap.tap` while it is active (model/captureTap.ts). */
    readonly captureTap?: CaptureTapSlot | undefined;
}

/** A datagram's source address, or a peer's bound one. */
interface Source {
    readonly address: string;
    readonly port: number;
}

/** A code 50, as the server and the sessions send it (never changed after creation). */
export const PROBE_PACKET = encodeJsonPacket(buildProbeRequest());
/**
 * A camera answers every 50 with a 51 and we answer 51s with 50s (§8.3 step 7): without a limit the two
 * ping-pong thousands of times a second. One 50 per camera per interval keeps the hole punched and the
 * handshake moving.
 */
export const PROBE_REPLY_INTERVAL_MS = 1000;
/**
 * `cloud.udp_worker: auto` moves the socket to a worker thread once this many cameras have a bound UDP
 * source (≈ stream): below it the worker costs more (~10–20 MB, a few % of a core) than it saves.
 */
export const UDP_WORKER_AUTO_AT = 16;
const HEARTBEAT_PACKET = encodePacket({command: Cmd.heartbeat});

export class UdpServer implements UdpTransport {
    readonly #options: UdpServerOptions;
    readonly #peers: UdpPeerDirectory;
    readonly #counters: CameraCounters;
    readonly #log: Logger;
    readonly #limiter: RateLimitedCounter;
    /** address → port → peer: the hot-path routing table. */
    readonly #routes = new Map<string, Map<number, UdpPeer>>();
    /** peer → its current binding, so a re-bind removes the old route. */
    readonly #bindings = new Map<UdpPeer, Source>();
    readonly #probeRepliedAtMs = new WeakMap<UdpPeer, number>();
    readonly #handlers: UdpEndpointHandlers;
    #endpoint: UdpEndpoint;
    /** The worker endpoint being prepared by an "auto" move, until it takes over. */
    #nextEndpoint: WorkerUdpEndpoint | undefined;
    #listening = false;
    #host = "";
    #port = 0;
    #address = "";

    constructor(options: UdpServerOptions, peers: UdpPeerDirectory, counters: CameraCounters, log: Logger) {
        this.#options = options;
        this.#peers = peers;
        this.#counters = counters;
        this.#log = log;
        this.#limiter = new RateLimitedCounter();
        this.#handlers = {
            onDatagram: (datagram, address, port) => this.#handleDatagram(datagram, address, port),
            onError: (error) => this.#handleSocketError(error),
            onDroppedBehind: (count) => this.#handleDroppedBehind(count),
        };
        this.#endpoint =
            options.udpWorker === true
                ? new WorkerUdpEndpoint(this.#endpointOptions(), this.#handlers, log)
                : new DirectUdpEndpoint(this.#endpointOptions(), this.#handlers, log);
    }

    /** The socket runs in a worker thread now. */
    get threaded(): boolean {
        return this.#endpoint instanceof WorkerUdpEndpoint;
    }

    /** An "auto" move to a worker thread is under way. */
    get movingToWorker(): boolean {
        return this.#nextEndpoint !== undefined;
    }

    get port(): number {
        return this.#port;
    }

    get address(): string {
        return this.#address;
    }

    /** Number of bound sources (for tests and stats). */
    get bindingCount(): number {
        return this.#bindings.size;
    }

    /** Binds udp4 `host:port`. Rejects with the original error (code kept) when the port cannot be had. */
    async listen(host: string, port: number): Promise<{address: string; port: number}> {
        const bound = await this.#endpoint.bind(host, port);
        this.#listening = true;
        this.#host = host;
        this.#port = bound.port;
        this.#address = bound.address;
        this.#log.info(`listening on udp ${bound.address}:${bound.port}`);
        return bound;
    }

    async close(): Promise<void> {
        this.#listening = false;
        this.#routes.clear();
        this.#bindings.clear();
        const next = this.#nextEndpoint;
        this.#nextEndpoint = undefined;
        await Promise.all([this.#endpoint.close(), next?.close()]);
    }

    send(packet: Buffer, port: number, address: string): void {
        const tap = this.#options.captureTap?.tap;
        if (tap?.isActive === true) {
            this.#capture(tap, "out", packet, address, port);
        }
        // No callback: a send error surfaces through onError, handled once in #handleSocketError.
        if (this.#listening) {
            this.#endpoint.send(packet, port, address);
        }
    }

    /** Routes `address:port` to `peer`; the peer's previous route and any other owner of the source go. */
    bind(peer: UdpPeer, address: string, port: number): void {
        const current = this.#bindings.get(peer);
        if (current !== undefined) {
            if (current.address === address && current.port === port) {
                return;
            }
            this.#removeRoute(current, peer);
        }
        let ports = this.#routes.get(address);
        if (ports === undefined) {
            ports = new Map();
            this.#routes.set(address, ports);
        }
        const previousOwner = ports.get(port);
        if (previousOwner !== undefined && previousOwner !== peer) {
            this.#bindings.delete(previousOwner); // the latest 51 for a source wins
        }
        ports.set(port, peer);
        this.#bindings.set(peer, {address, port});
        this.#maybeMoveToWorker();
    }

    release(peer: UdpPeer): void {
        const current = this.#bindings.get(peer);
        if (current !== undefined) {
            this.#removeRoute(current, peer);
            this.#bindings.delete(peer);
        }
    }

    /** The peer bound to `address:port`, if any. */
    peerAt(address: string, port: number): UdpPeer | undefined {
        return this.#routes.get(address)?.get(port);
    }

    #endpointOptions(): {receiveBufferBytes: number} {
        return {receiveBufferBytes: this.#options.udpReceiveBufferBytes};
    }

    #maybeMoveToWorker(): void {
        const autoAt = this.#options.udpWorkerAutoAt ?? UDP_WORKER_AUTO_AT;
        if (
            (this.#options.udpWorker ?? "auto") !== "auto" ||
            this.threaded ||
            this.#nextEndpoint !== undefined ||
            !this.#listening ||
            this.#bindings.size < autoAt
        ) {
            return;
        }
        const next = new WorkerUdpEndpoint(this.#endpointOptions(), this.#handlers, this.#log);
        this.#nextEndpoint = next;
        this.#moveToWorker(next).catch((error: unknown) => {
            this.#log.error("moving the UDP socket to a worker thread failed", {error});
        });
    }

    /**
     * The "auto" move: the worker starts unbound (tens of ms, the socket keeps working meanwhile), then
     * the main-thread socket closes and the worker binds the same port, about a millisecond later.
     * Datagrams in that gap are lost: a camera loses at most a frame, or, mid-handshake, a 51 or 50,
     * which the session's probe retry makes up for within a second. Never moves back.
     */
    async #moveToWorker(next: WorkerUdpEndpoint): Promise<void> {
        await next.prepare();
        if (this.#nextEndpoint !== next) {
            return; // closed meanwhile (close() closes `next`)
        }
        const previous = this.#endpoint;
        await previous.close();
        try {
            await next.bind(this.#host, this.#port);
        } catch (error) {
            this.#nextEndpoint = undefined;
            await next.close();
            if (this.#listening) {
                this.#log.error("the UDP worker could not take the port over: the socket stays on the main thread", {
                    error,
                });
                await previous.bind(this.#host, this.#port);
            }
            return;
        }
        this.#nextEndpoint = undefined;
        if (!this.#listening) {
            await next.close();
            return;
        }
        this.#endpoint = next;
        this.#log.info(`UDP socket moved to a worker thread: ${this.#bindings.size} cameras have a UDP stream`);
    }

    #removeRoute(binding: Source, peer: UdpPeer): void {
        const ports = this.#routes.get(binding.address);
        if (ports !== undefined && ports.get(binding.port) === peer) {
            ports.delete(binding.port);
            if (ports.size === 0) {
                this.#routes.delete(binding.address);
            }
        }
    }

    /** Hands one datagram to an active capture tap; only called while a capture runs. */
    #capture(tap: CaptureTap, direction: CaptureDirection, datagram: Buffer, address: string, port: number): void {
        if (datagram.length < HEADER_LENGTH) {
            return; // nothing to show but garbage; the drop is counted and logged as usual
        }
        const header = decodeHeader(datagram);
        const payload = datagram.subarray(HEADER_LENGTH, HEADER_LENGTH + header.payloadLength);
        tap.packet("udp", direction, this.peerAt(address, port)?.id, {address, port}, header, payload);
    }

    #handleDatagram(datagram: Buffer, address: string, port: number): void {
        this.#counters.datagramsReceived += 1;
        const tap = this.#options.captureTap?.tap;
        if (tap?.isActive === true) {
            this.#capture(tap, "in", datagram, address, port);
        }
        let payloadEnd: number;
        try {
            payloadEnd = datagramPayloadEnd(datagram);
        } catch (error) {
            this.#drop(error, datagram, {address, port});
            return;
        }
        const command = datagram.readUInt16LE(HeaderOffset.command);
        if (command === Cmd.jpeg || command === Cmd.g711 || command === Cmd.pcm) {
            // the hot path (~300 datagrams/s per streaming camera): fields read in place, one payload view
            const peer = this.#routes.get(address)?.get(port);
            if (peer === undefined) {
                this.#unknownSource({address, port}, datagram);
                return;
            }
            try {
                peer.handleMedia(
                    command,
                    datagram[HeaderOffset.msgFlag] ?? 0,
                    datagram.readUInt32LE(HeaderOffset.packageId),
                    datagram.subarray(HEADER_LENGTH, payloadEnd),
                );
            } catch (error) {
                this.#peerFailed(error);
            }
            return;
        }
        if (command === Cmd.json) {
            this.#handleJson(decodeDatagram(datagram), {address, port}); // already checked: cannot throw
            return;
        }
        const remote: Source = {address, port};
        if (command === Cmd.heartbeat) {
            const peer = this.#routes.get(remote.address)?.get(remote.port);
            if (peer === undefined) {
                this.#unknownSource(remote, datagram);
                return;
            }
            this.send(HEARTBEAT_PACKET, remote.port, remote.address); // §9.1: answer with a cmd 100
            try {
                peer.handleUdpHeartbeat();
            } catch (error) {
                this.#peerFailed(error);
            }
            return;
        }
        this.#counters.unsupportedDatagrams += 1;
        this.#warn("unsupported-datagram", `unsupported UDP cmd ${command} dropped`, remote, datagram);
    }

    #handleJson(packet: Packet, remote: Source): void {
        let message: WireMessage;
        try {
            message = decodeJson(packet.payload);
        } catch (error) {
            this.#drop(error, packet.payload, remote);
            return;
        }
        if (message.code === Code.udpRequest) {
            this.send(encodeJsonPacket(buildUdpResponse(remote.address, remote.port)), remote.port, remote.address);
            return;
        }
        if (message.code === Code.probeResponse) {
            this.#handleProbe(message, remote, packet.payload);
            return;
        }
        const peer = this.#routes.get(remote.address)?.get(remote.port);
        if (peer === undefined) {
            this.#unknownSource(remote, packet.payload);
            return;
        }
        try {
            peer.handleUdpMessage(message);
        } catch (error) {
            this.#peerFailed(error);
        }
    }

    #handleProbe(message: WireMessage, remote: Source, raw: Buffer): void {
        let devTarget: string;
        let status: number;
        try {
            ({devTarget, status} = parseProbeResponse(message));
        } catch (error) {
            this.#drop(error, raw, remote);
            return;
        }
        const peer = this.#peers.probeTarget(devTarget);
        if (peer === undefined) {
            this.#counters.unknownProbeTargets += 1;
            this.#warn("unknown-probe-target", `code 51 for ${devTarget}, which has no TCP session`, remote, raw);
            return;
        }
        const previous = this.#bindings.get(peer);
        const isNewSource =
            previous === undefined || previous.address !== remote.address || previous.port !== remote.port;
        this.bind(peer, remote.address, remote.port);
        const nowMs = performance.now();
        const lastSentMs = this.#probeRepliedAtMs.get(peer);
        if (isNewSource || lastSentMs === undefined || nowMs - lastSentMs >= PROBE_REPLY_INTERVAL_MS) {
            // one 50 for this camera (§12: intx82 sent one per registered camera), at most once per interval
            this.#probeRepliedAtMs.set(peer, nowMs);
            this.send(PROBE_PACKET, remote.port, remote.address);
        } else {
            this.#counters.probeRepliesSuppressed += 1;
        }
        try {
            peer.handleProbe(status, remote.address, remote.port);
        } catch (error) {
            this.#peerFailed(error);
        }
    }

    /** A bug in one session's handler: logged (rate-limited), never fatal, never affects other cameras. */
    #peerFailed(error: unknown): void {
        const suppressed = this.#limiter.hit("peer-failed");
        if (suppressed !== undefined) {
            this.#log.error("session failed to handle a datagram", {error, suppressed});
        }
    }

    #drop(error: unknown, raw: Uint8Array, remote: Source): void {
        if (!(error instanceof ProtocolError)) {
            throw error; // a bug, not bad input
        }
        this.#counters.badDatagrams += 1;
        this.#warn("bad-datagram", `bad datagram dropped: ${error.message}`, remote, error.raw ?? raw);
    }

    #unknownSource(remote: Source, raw: Uint8Array): void {
        this.#counters.unknownSourceDatagrams += 1;
        this.#warn("unknown-source", "datagram from an unbound source dropped", remote, raw);
    }

    #warn(kind: string, message: string, remote: Source, raw: Uint8Array): void {
        const suppressed = this.#limiter.hit(kind);
        if (suppressed === undefined) {
            if (this.#log.isLevelEnabled("debug")) {
                this.#log.debug(`${message} (from ${remote.address}:${remote.port})`, {raw: hexPreview(raw, 64)});
            }
            return;
        }
        this.#log.warn(message, {peer: `${remote.address}:${remote.port}`, raw: hexPreview(raw), suppressed});
    }

    #handleDroppedBehind(count: number): void {
        this.#counters.datagramsDroppedBehind += count;
        const suppressed = this.#limiter.hit("dropped-behind");
        if (suppressed !== undefined) {
            this.#log.warn(`${count} datagram(s) dropped: the event loop is too far behind the UDP worker`, {
                suppressed,
            });
        }
    }

    #handleSocketError(error: Error): void {
        // After bind, errors come from sends (e.g. ICMP unreachable); the socket stays usable.
        const suppressed = this.#limiter.hit("socket-error");
        if (suppressed !== undefined) {
            this.#log.warn(`UDP socket error: ${error.message}`, {suppressed});
        }
    }
}
