/**
 * The embedded RTSP/1.0 server (issue 4 item 3; RFC 2326): `rtsp://host:port/<camera-id>` serves
 * H.264 (+ AAC, PCMA or Opus) from the media layer to any number of clients, over RTP/TCP
 * interleaved or RTP/UDP. OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER and
 * SET_PARAMETER (keep-alive); optional Basic/Digest credentials; sessions time out without
 * keep-alives; the first playing session of a camera leases its encoder and the last one releases it.
 *
 * Isolation: each connection parses on its own and answers bad input with a status (400, 401, 404,
 * 454, 455, 461, ...); framing errors close only that connection; a client that does not read gets
 * frames dropped, never buffered without bound; nothing a client sends can throw out of its handler.
 */
import dgram from "node:dgram";
import net from "node:net";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {CameraBroadcast} from "./cameraBroadcast.js";
import {type AuthResult, RtspAuthenticator, type RtspCredentials} from "./rtspAuth.js";
import {buildRtspResponse, type RtspHeaders, type RtspRequest, RtspRequestParser} from "./rtspMessage.js";
import {RtspSession, type SessionOutput} from "./rtspSession.js";
import {chooseTransport, formatTransport, parseTransportHeader} from "./rtspTransport.js";
import {buildSdp, trackControl} from "./sdp.js";
import type {RtspStreamInfo, RtspStreamSource} from "./streamSource.js";

export interface RtspServerOptions {
    readonly host: string;
    /** `rtsp.port`; 0 = any free port (tests). */
    readonly port: number;
    /** Credentials every request but OPTIONS must carry; null = open. */
    readonly auth: RtspCredentials | null;
    /** A session without keep-alive (any request or RTCP) for this long is ended. */
    readonly sessionTimeoutMs: number;
    /** How long DESCRIBE/SETUP wait for the camera's encoder to produce its first frame. */
    readonly describeTimeoutMs: number;
    /** Interleaved media is dropped while a connection queues more than this. Default 2 MiB. */
    readonly maxQueuedBytes?: number | undefined;
    /** RTP/UDP: the server's RTP port (RTCP = +1); 0 = any free even pair; null = UDP off. Default 0. */
    readonly udpPort?: number | null | undefined;
    /** Most simultaneous connections. Default 256. */
    readonly maxConnections?: number | undefined;
}

export const RTSP_SERVER_DEFAULTS = {
    sessionTimeoutMs: 60_000,
    describeTimeoutMs: 20_000,
    maxQueuedBytes: 2 * 1024 * 1024,
    maxConnections: 256,
} as const;

export interface RtspServerStats {
    connections: number;
    sessions: number;
    playing: number;
    requests: number;
    badRequests: number;
    authFailures: number;
    sessionTimeouts: number;
}

const PUBLIC_METHODS = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER";
const CAMERA_ID = /^[0-9A-Za-z_-]{1,64}$/;
const MAX_PENDING_REQUESTS = 16;
const REPORT_INTERVAL_MS = 5000;
const UDP_BIND_ATTEMPTS = 10;

interface Reply {
    readonly status: number;
    readonly headers?: RtspHeaders;
    readonly body?: string;
    /** Runs after the reply is written (PLAY starts the media only then). */
    readonly after?: () => void;
}

class Connection implements SessionOutput {
    readonly socket: net.Socket;
    readonly parser = new RtspRequestParser();
    readonly sessions = new Set<RtspSession>();
    readonly remoteAddress: string;
    lastActivityMs: number;
    pending = 0;
    queue: Promise<void> = Promise.resolve();
    readonly #maxQueuedBytes: number;
    readonly #sendUdp: (packet: Buffer, port: number, address: string, isRtcp: boolean) => void;

    constructor(
        socket: net.Socket,
        maxQueuedBytes: number,
        sendUdp: (packet: Buffer, port: number, address: string, isRtcp: boolean) => void,
    ) {
        this.socket = socket;
        this.remoteAddress = stripIpv4Mapped(socket.remoteAddress ?? "");
        this.lastActivityMs = Date.now();
        this.#maxQueuedBytes = maxQueuedBytes;
        this.#sendUdp = sendUdp;
    }

    get isOpen(): boolean {
        return !this.socket.destroyed && this.socket.writable;
    }

    writeInterleaved(frames: readonly Buffer[]): boolean {
        if (!this.isOpen || this.socket.writableLength > this.#maxQueuedBytes) {
            return false;
        }
        this.socket.cork();
        for (const frame of frames) {
            this.socket.write(frame);
        }
        this.socket.uncork();
        return true;
    }

    sendUdp(packet: Buffer, port: number, isRtcp: boolean): void {
        this.#sendUdp(packet, port, this.remoteAddress, isRtcp);
    }
}

export class RtspServer {
    readonly #options: RtspServerOptions;
    readonly #source: RtspStreamSource;
    readonly #log: Logger;
    readonly #auth: RtspAuthenticator | undefined;
    readonly #server: net.Server;
    readonly #connections = new Set<Connection>();
    readonly #sessions = new Map<string, RtspSession>();
    readonly #sessionConnections = new Map<RtspSession, Connection>();
    readonly #broadcasts = new Map<string, CameraBroadcast>();
    readonly #infos = new Map<string, RtspStreamInfo>();
    readonly #badInput = new RateLimitedCounter();
    readonly #counters = {requests: 0, badRequests: 0, authFailures: 0, sessionTimeouts: 0};
    #rtpSocket: dgram.Socket | undefined;
    #rtcpSocket: dgram.Socket | undefined;
    #udpPorts: readonly [number, number] | undefined;
    #sweepTimer: NodeJS.Timeout | undefined;
    #reportTimer: NodeJS.Timeout | undefined;
    #port = 0;

    constructor(options: RtspServerOptions, source: RtspStreamSource, log: Logger) {
        this.#options = options;
        this.#source = source;
        this.#log = log;
        this.#auth = options.auth === null ? undefined : new RtspAuthenticator({credentials: options.auth});
        this.#server = net.createServer((socket) => this.#handleConnection(socket));
        this.#server.on("error", (error) => this.#log.error("rtsp server error", {error}));
    }

    get port(): number {
        return this.#port;
    }

    get udpPorts(): readonly [number, number] | undefined {
        return this.#udpPorts;
    }

    async start(): Promise<{port: number; udpPorts: readonly [number, number] | undefined}> {
        await new Promise<void>((resolve, reject) => {
            const onError = (error: Error): void => reject(error);
            this.#server.once("error", onError);
            this.#server.listen(this.#options.port, this.#options.host, () => {
                this.#server.off("error", onError);
                resolve();
            });
        });
        const address = this.#server.address();
        this.#port = typeof address === "object" && address !== null ? address.port : this.#options.port;
        if (this.#options.udpPort !== null) {
            await this.#bindUdp(this.#options.udpPort ?? 0);
        }
        const sweepMs = Math.max(100, Math.min(5000, Math.floor(this.#options.sessionTimeoutMs / 4)));
        this.#sweepTimer = setInterval(() => this.#sweep(), sweepMs);
        this.#reportTimer = setInterval(() => this.#sendReports(), REPORT_INTERVAL_MS);
        this.#log.info(
            `rtsp listening on ${this.#options.host}:${this.#port}` +
                (this.#udpPorts === undefined ? " (TCP only)" : `, RTP/UDP ${this.#udpPorts[0]}-${this.#udpPorts[1]}`),
        );
        return {port: this.#port, udpPorts: this.#udpPorts};
    }

    async stop(): Promise<void> {
        clearInterval(this.#sweepTimer);
        clearInterval(this.#reportTimer);
        for (const broadcast of this.#broadcasts.values()) {
            broadcast.close();
        }
        this.#broadcasts.clear();
        this.#sessions.clear();
        this.#sessionConnections.clear();
        for (const connection of this.#connections) {
            connection.socket.destroy();
        }
        this.#connections.clear();
        this.#rtpSocket?.close();
        this.#rtcpSocket?.close();
        this.#rtpSocket = undefined;
        this.#rtcpSocket = undefined;
        await new Promise<void>((resolve) => {
            this.#server.close(() => resolve());
        });
    }

    stats(): RtspServerStats {
        let playing = 0;
        for (const session of this.#sessions.values()) {
            if (session.state === "playing") {
                playing += 1;
            }
        }
        return {connections: this.#connections.size, sessions: this.#sessions.size, playing, ...this.#counters};
    }

    /** Playing sessions of a camera (API, tests). */
    viewers(cameraId: string): number {
        return this.#broadcasts.get(cameraId)?.sessionCount ?? 0;
    }

    // ---- connections -------------------------------------------------------------------------

    #handleConnection(socket: net.Socket): void {
        socket.on("error", (error) => this.#log.debug(`rtsp client ${socket.remoteAddress}: ${error.message}`));
        if (this.#connections.size >= (this.#options.maxConnections ?? RTSP_SERVER_DEFAULTS.maxConnections)) {
            this.#log.warn(`rtsp: ${this.#connections.size} connections open; refusing ${socket.remoteAddress}`);
            socket.destroy();
            return;
        }
        socket.setNoDelay(true);
        const connection = new Connection(
            socket,
            this.#options.maxQueuedBytes ?? RTSP_SERVER_DEFAULTS.maxQueuedBytes,
            (packet, port, address, isRtcp) => this.#sendUdp(packet, port, address, isRtcp),
        );
        this.#connections.add(connection);
        socket.on("data", (chunk: Buffer) => this.#handleData(connection, chunk));
        socket.on("close", () => this.#handleClose(connection));
    }

    #handleData(connection: Connection, chunk: Buffer): void {
        connection.lastActivityMs = Date.now();
        for (const event of connection.parser.push(chunk)) {
            switch (event.kind) {
                case "interleaved":
                    this.#touchConnectionSessions(connection);
                    break;
                case "error": {
                    this.#counters.badRequests += 1;
                    const suppressed = this.#badInput.hit(connection.remoteAddress);
                    if (suppressed !== undefined) {
                        this.#log.warn(`rtsp: bad request from ${connection.remoteAddress}: ${event.reason}`, {
                            suppressed,
                        });
                    }
                    this.#enqueue(connection, () =>
                        Promise.resolve({
                            status: event.status,
                            cseq: event.cseq,
                            reply: {status: event.status, headers: event.isFatal ? [["Connection", "close"]] : []},
                        }),
                    );
                    if (event.isFatal) {
                        connection.queue = connection.queue.then(() => {
                            connection.socket.end();
                        });
                        return;
                    }
                    break;
                }
                case "request":
                    this.#counters.requests += 1;
                    this.#enqueue(connection, () =>
                        this.#handleRequest(connection, event.request).then((reply) => ({
                            status: reply.status,
                            cseq: event.request.cseq,
                            reply,
                        })),
                    );
                    break;
                default:
                    break;
            }
        }
    }

    /** Requests of one connection are answered in order; a flood closes the connection. */
    #enqueue(
        connection: Connection,
        work: () => Promise<{status: number; cseq: number | undefined; reply: Reply}>,
    ): void {
        if (connection.pending >= MAX_PENDING_REQUESTS) {
            this.#log.warn(`rtsp: ${connection.remoteAddress} sent too many requests at once; closing`);
            connection.socket.destroy();
            return;
        }
        connection.pending += 1;
        connection.queue = connection.queue
            .then(async () => {
                const {cseq, reply} = await work().catch(
                    (error: unknown): {status: number; cseq: number | undefined; reply: Reply} => {
                        this.#log.error("rtsp request handler failed", {error});
                        return {status: 500, cseq: undefined, reply: {status: 500}};
                    },
                );
                if (connection.isOpen) {
                    connection.socket.write(
                        buildRtspResponse(
                            reply.status,
                            cseq,
                            [...(reply.headers ?? []), ["Server", "v720-bridge"]],
                            reply.body,
                        ),
                    );
                    reply.after?.();
                }
            })
            .catch((error: unknown) => this.#log.error("rtsp reply failed", {error}))
            .finally(() => {
                connection.pending -= 1;
            });
    }

    #handleClose(connection: Connection): void {
        this.#connections.delete(connection);
        for (const session of connection.sessions) {
            this.#endSession(session, "connection closed");
        }
        connection.sessions.clear();
    }

    // ---- requests ------------------------------------------------------------------------------

    #handleRequest(connection: Connection, request: RtspRequest): Promise<Reply> {
        const sessionHeader = request.headers.get("session");
        const sessionId = sessionHeader?.split(";")[0]?.trim();
        const session = sessionId === undefined ? undefined : this.#sessions.get(sessionId);
        if (session !== undefined) {
            session.lastActivityMs = Date.now();
        }
        if (request.method !== "OPTIONS" && session === undefined) {
            const denied = this.#checkAuth(request);
            if (denied !== undefined) {
                return Promise.resolve(denied);
            }
        }
        return this.#dispatch(connection, request, sessionId, session);
    }

    async #dispatch(
        connection: Connection,
        request: RtspRequest,
        sessionId: string | undefined,
        session: RtspSession | undefined,
    ): Promise<Reply> {
        switch (request.method) {
            case "OPTIONS":
                return {status: 200, headers: [["Public", PUBLIC_METHODS]]};
            case "DESCRIBE":
                return await this.#describe(connection, request);
            case "SETUP":
                return await this.#setup(connection, request, sessionId, session);
            case "PLAY":
                return await this.#play(request, sessionId, session);
            case "PAUSE":
                return this.#pause(sessionId, session);
            case "TEARDOWN":
                return this.#teardown(sessionId, session);
            case "GET_PARAMETER":
            case "SET_PARAMETER":
                if (sessionId !== undefined && session === undefined) {
                    return {status: 454};
                }
                return {status: 200, headers: session === undefined ? [] : [["Session", this.#sessionHeader(session)]]};
            case "ANNOUNCE":
            case "RECORD":
            case "REDIRECT":
                return {status: 405, headers: [["Allow", PUBLIC_METHODS]]};
            default:
                return {status: 501, headers: [["Public", PUBLIC_METHODS]]};
        }
    }

    #checkAuth(request: RtspRequest): Reply | undefined {
        if (this.#auth === undefined) {
            return undefined;
        }
        const result: AuthResult = this.#auth.verify(request.method, request.headers.get("authorization"));
        if (result === "ok") {
            return undefined;
        }
        if (result === "invalid") {
            this.#counters.authFailures += 1;
        }
        return {
            status: 401,
            headers: this.#auth.challenges(result === "stale").map((value) => ["WWW-Authenticate", value] as const),
        };
    }

    async #describe(connection: Connection, request: RtspRequest): Promise<Reply> {
        const target = parseRtspTarget(request.uri);
        if (target === undefined || target === "*" || target.track !== undefined) {
            return {status: 404};
        }
        const described = await this.#streamInfo(target.cameraId);
        if (typeof described === "number") {
            return {status: described};
        }
        const sdp = buildSdp({
            sessionId: String(Date.now()),
            originAddress: stripIpv4Mapped(connection.socket.localAddress ?? "127.0.0.1"),
            sessionName: target.cameraId,
            stream: described,
        });
        return {
            status: 200,
            headers: [
                ["Content-Type", "application/sdp"],
                ["Content-Base", `${baseUrl(request.uri, target.cameraId)}/`],
            ],
            body: sdp,
        };
    }

    /** The camera's stream parameters, starting its encoder (which then idles for its grace time). */
    async #streamInfo(cameraId: string): Promise<RtspStreamInfo | 404 | 503> {
        const opened = this.#source.openEncoded(cameraId, {});
        if (!opened.ok) {
            return opened.reason === "unknown-camera" ? 404 : 503;
        }
        try {
            const info = await opened.handle.whenInfo(this.#options.describeTimeoutMs);
            if (info === undefined) {
                this.#log.warn(
                    `rtsp: camera ${cameraId} produced no video within ${this.#options.describeTimeoutMs} ms`,
                );
                return 503;
            }
            this.#infos.set(cameraId, info);
            return info;
        } finally {
            opened.handle.close();
        }
    }

    async #setup(
        connection: Connection,
        request: RtspRequest,
        sessionId: string | undefined,
        existing: RtspSession | undefined,
    ): Promise<Reply> {
        if (sessionId !== undefined && existing === undefined) {
            return {status: 454};
        }
        const target = parseRtspTarget(request.uri);
        if (target === undefined || target === "*") {
            return {status: 404};
        }
        if (existing !== undefined && existing.cameraId !== target.cameraId) {
            return {status: 459};
        }
        if (existing?.state === "playing") {
            return {status: 455, headers: [["Allow", "PLAY, PAUSE, TEARDOWN, GET_PARAMETER"]]};
        }
        const info = this.#infos.get(target.cameraId) ?? (await this.#streamInfo(target.cameraId));
        if (typeof info === "number") {
            return {status: info};
        }
        const trackIndex = target.track ?? 0;
        if (trackIndex > (info.audio === null ? 0 : 1)) {
            return {status: 404};
        }
        const transportHeader = request.headers.get("transport");
        if (transportHeader === undefined) {
            return {status: 461};
        }
        const chosen = chooseTransport(
            parseTransportHeader(transportHeader),
            trackIndex,
            this.#udpPorts !== undefined && net.isIPv4(connection.remoteAddress),
        );
        if (chosen === undefined) {
            return {status: 461};
        }
        if (chosen.transport.kind === "tcp" && existing?.usesInterleavedChannel(chosen.transport.rtpChannel) === true) {
            return {status: 461};
        }
        let session = existing;
        if (session === undefined) {
            session = new RtspSession(target.cameraId, connection, Date.now());
            this.#sessions.set(session.id, session);
            this.#sessionConnections.set(session, connection);
            connection.sessions.add(session);
            this.#log.debug(`rtsp session ${session.id} for ${target.cameraId} from ${connection.remoteAddress}`);
        }
        const track = session.addTrack(trackIndex, chosen.transport);
        return {
            status: 200,
            headers: [
                ["Transport", formatTransport(chosen.transport, track.ssrc, this.#udpPorts)],
                ["Session", this.#sessionHeader(session)],
            ],
        };
    }

    async #play(request: RtspRequest, sessionId: string | undefined, session: RtspSession | undefined): Promise<Reply> {
        if (sessionId === undefined || session === undefined) {
            return {status: 454};
        }
        if (session.tracks.size === 0) {
            return {status: 455};
        }
        const sessionHeader: [string, string] = ["Session", this.#sessionHeader(session)];
        if (session.state === "playing") {
            return {status: 200, headers: [sessionHeader]};
        }
        const info = this.#infos.get(session.cameraId) ?? (await this.#streamInfo(session.cameraId));
        if (typeof info === "number") {
            return {status: info};
        }
        let broadcast = this.#broadcasts.get(session.cameraId);
        if (broadcast === undefined) {
            const cameraId = session.cameraId;
            broadcast = new CameraBroadcast(cameraId, this.#source, this.#log.child(cameraId), (reason) =>
                this.#endCamera(cameraId, reason),
            );
            this.#broadcasts.set(cameraId, broadcast);
        }
        const nowMs = Date.now();
        const base = baseUrl(request.uri, session.cameraId);
        const rtpInfo = [...session.tracks.values()]
            .map(
                (track) =>
                    `url=${base}/${trackControl(track.index)};seq=${track.sequence};rtptime=${broadcast.rtpTimestampNow(track.index, nowMs)}`,
            )
            .join(",");
        const startedBroadcast = broadcast;
        return {
            status: 200,
            headers: [sessionHeader, ["Range", "npt=0.000-"], ["RTP-Info", rtpInfo]],
            after: () => {
                if (!this.#sessions.has(session.id)) {
                    return;
                }
                const result = startedBroadcast.add(session, info);
                if (result === "ok") {
                    session.state = "playing";
                    startedBroadcast.catchUp(session, Date.now());
                    this.#log.info(
                        `rtsp: ${session.cameraId} playing to ${this.#sessionConnections.get(session)?.remoteAddress ?? "?"}`,
                    );
                } else {
                    this.#endSession(session, result);
                }
            },
        };
    }

    #pause(sessionId: string | undefined, session: RtspSession | undefined): Reply {
        if (sessionId === undefined || session === undefined) {
            return {status: 454};
        }
        if (session.state === "playing") {
            session.state = "ready";
            this.#broadcasts.get(session.cameraId)?.remove(session);
        }
        return {status: 200, headers: [["Session", this.#sessionHeader(session)]]};
    }

    #teardown(sessionId: string | undefined, session: RtspSession | undefined): Reply {
        if (sessionId === undefined || session === undefined) {
            return {status: 454};
        }
        this.#endSession(session, "teardown");
        return {status: 200};
    }

    #sessionHeader(session: RtspSession): string {
        return `${session.id};timeout=${Math.max(1, Math.round(this.#options.sessionTimeoutMs / 1000))}`;
    }

    // ---- sessions ------------------------------------------------------------------------------

    #endSession(session: RtspSession, reason: string): void {
        if (!this.#sessions.delete(session.id)) {
            return;
        }
        const connection = this.#sessionConnections.get(session);
        this.#sessionConnections.delete(session);
        connection?.sessions.delete(session);
        const broadcast = this.#broadcasts.get(session.cameraId);
        if (broadcast !== undefined) {
            broadcast.remove(session);
            if (broadcast.sessionCount === 0) {
                this.#broadcasts.delete(session.cameraId);
            }
        }
        session.state = "ready";
        this.#log.debug(`rtsp session ${session.id} (${session.cameraId}) ended: ${reason}`);
    }

    #endCamera(cameraId: string, reason: string): void {
        for (const session of [...this.#sessions.values()]) {
            if (session.cameraId === cameraId) {
                const connection = this.#sessionConnections.get(session);
                this.#endSession(session, reason);
                if (connection !== undefined && connection.sessions.size === 0) {
                    connection.socket.end();
                }
            }
        }
        this.#infos.delete(cameraId);
    }

    #touchConnectionSessions(connection: Connection): void {
        const nowMs = Date.now();
        for (const session of connection.sessions) {
            session.lastActivityMs = nowMs;
        }
    }

    #sweep(): void {
        const nowMs = Date.now();
        const timeoutMs = this.#options.sessionTimeoutMs;
        for (const session of [...this.#sessions.values()]) {
            if (nowMs - session.lastActivityMs <= timeoutMs) {
                continue;
            }
            this.#counters.sessionTimeouts += 1;
            const connection = this.#sessionConnections.get(session);
            this.#log.info(`rtsp session ${session.id} (${session.cameraId}) timed out`);
            this.#endSession(session, "timeout");
            if (connection !== undefined && connection.sessions.size === 0) {
                connection.socket.destroy();
            }
        }
        for (const connection of [...this.#connections]) {
            if (connection.sessions.size === 0 && nowMs - connection.lastActivityMs > timeoutMs) {
                connection.socket.destroy();
            }
        }
        const inUse = new Set([...this.#sessions.values()].map((session) => session.cameraId));
        for (const cameraId of [...this.#infos.keys()]) {
            if (!inUse.has(cameraId)) {
                this.#infos.delete(cameraId);
            }
        }
    }

    #sendReports(): void {
        const nowMs = Date.now();
        for (const broadcast of this.#broadcasts.values()) {
            broadcast.sendReports(nowMs, `v720-bridge@${broadcast.cameraId}`);
        }
    }

    // ---- UDP -----------------------------------------------------------------------------------

    async #bindUdp(port: number): Promise<void> {
        for (let attempt = 0; attempt < UDP_BIND_ATTEMPTS; attempt++) {
            const rtp = await bindSocket(port, this.#options.host);
            const rtpPort = rtp?.address().port;
            if (rtp === undefined || rtpPort === undefined || rtpPort % 2 !== 0) {
                rtp?.close();
                if (port !== 0) {
                    break;
                }
                continue;
            }
            const rtcp = await bindSocket(rtpPort + 1, this.#options.host);
            if (rtcp === undefined) {
                rtp.close();
                if (port !== 0) {
                    break;
                }
                continue;
            }
            rtp.on("error", (error) => this.#log.debug(`rtp socket: ${error.message}`));
            rtcp.on("error", (error) => this.#log.debug(`rtcp socket: ${error.message}`));
            rtcp.on("message", (_message, remote) => this.#handleRtcp(remote.address, remote.port));
            rtp.on("message", () => undefined);
            this.#rtpSocket = rtp;
            this.#rtcpSocket = rtcp;
            this.#udpPorts = [rtpPort, rtpPort + 1];
            return;
        }
        this.#log.warn("rtsp: no UDP port pair could be bound; RTP/UDP is off (TCP interleaved still works)");
    }

    #handleRtcp(address: string, port: number): void {
        const nowMs = Date.now();
        const from = stripIpv4Mapped(address);
        for (const [session, connection] of this.#sessionConnections) {
            if (connection.remoteAddress !== from) {
                continue;
            }
            for (const track of session.tracks.values()) {
                if (track.transport.kind === "udp" && track.transport.rtcpPort === port) {
                    session.lastActivityMs = nowMs;
                }
            }
        }
    }

    #sendUdp(packet: Buffer, port: number, address: string, isRtcp: boolean): void {
        const socket = isRtcp ? this.#rtcpSocket : this.#rtpSocket;
        socket?.send(packet, port, address, (error) => {
            if (error !== null) {
                this.#log.debug(`udp send to ${address}:${port} failed: ${error.message}`);
            }
        });
    }
}

function bindSocket(port: number, host: string): Promise<dgram.Socket | undefined> {
    return new Promise((resolve) => {
        const socket = dgram.createSocket("udp4");
        const onError = (): void => {
            socket.close();
            resolve(undefined);
        };
        socket.once("error", onError);
        const bindHost = net.isIPv4(host) ? host : "0.0.0.0";
        socket.bind(port, bindHost, () => {
            socket.off("error", onError);
            resolve(socket);
        });
    });
}

export type RtspTarget = {readonly cameraId: string; readonly track: number | undefined};

/** `rtsp://h:p/<id>[/trackID=N]`, `/<id>...` or `*`; undefined for anything else. */
export function parseRtspTarget(uri: string): RtspTarget | "*" | undefined {
    if (uri === "*") {
        return "*";
    }
    let path: string;
    if (/^rtsps?:\/\//i.test(uri)) {
        try {
            path = new URL(uri).pathname;
        } catch {
            return undefined;
        }
    } else if (uri.startsWith("/")) {
        path = uri.split("?")[0] ?? "";
    } else {
        return undefined;
    }
    const segments = path.split("/").filter((segment) => segment !== "");
    if (segments.length < 1 || segments.length > 2) {
        return undefined;
    }
    let cameraId: string;
    try {
        cameraId = decodeURIComponent(segments[0] ?? "");
    } catch {
        return undefined;
    }
    if (!CAMERA_ID.test(cameraId)) {
        return undefined;
    }
    if (segments.length === 1) {
        return {cameraId, track: undefined};
    }
    const match = /^trackID=(\d{1,2})$/.exec(segments[1] ?? "");
    return match === null ? undefined : {cameraId, track: Number(match[1])};
}

/** `rtsp://host:port/<id>` as the client addressed us (no trailing slash, no query). */
function baseUrl(uri: string, cameraId: string): string {
    if (/^rtsps?:\/\//i.test(uri)) {
        try {
            const url = new URL(uri);
            return `${url.protocol}//${url.host}/${encodeURIComponent(cameraId)}`;
        } catch {
            return `/${encodeURIComponent(cameraId)}`;
        }
    }
    return `/${encodeURIComponent(cameraId)}`;
}

function stripIpv4Mapped(address: string): string {
    return address.startsWith("::ffff:") && address.includes(".") ? address.slice("::ffff:".length) : address;
}
