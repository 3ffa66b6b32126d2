/**
 * Counters shared by the TCP server, the UDP server and every session of one CameraServer.
 * Plain mutable fields so the hot path pays one increment; `snapshot()` copies them.
 */

export interface CameraStats {
    /** TCP connections accepted. */
    readonly tcpConnections: number;
    /** TCP streams closed because they could not be framed (lying length, garbage). */
    readonly badTcpStreams: number;
    /** Single TCP messages dropped (invalid JSON, unusable fields). */
    readonly badTcpMessages: number;
    readonly loginTimeouts: number;
    /** Connections closed because their first message was not a usable code 100. */
    readonly loginRejected: number;
    readonly heartbeatTimeouts: number;
    readonly datagramsReceived: number;
    /**
     * Datagrams the UDP worker thread dropped because the main thread was this far behind
     * (udpWorkerEndpoint.ts MAX_IN_FLIGHT_BYTES): the same outcome as a full kernel socket buffer.
     */
    readonly datagramsDroppedBehind: number;
    /** Datagrams that could not be decoded (truncated, lying length, invalid JSON). */
    readonly badDatagrams: number;
    /** Media, heartbeats or JSON from a source no code 51 has bound. */
    readonly unknownSourceDatagrams: number;
    /** Code 51 naming a camera without a TCP session. */
    readonly unknownProbeTargets: number;
    /** Code 51s not answered with a 50 because one went to that camera less than a second ago. */
    readonly probeRepliesSuppressed: number;
    /** 50s a session sent by itself because no media came yet after code 11 (a 51 or our 50 was lost). */
    readonly probeRetries: number;
    /** Datagrams with a cmd the server does not handle. */
    readonly unsupportedDatagrams: number;
    readonly streamStarts: number;
    /** Handshakes restarted because no frame arrived for stallTimeoutMs. */
    readonly streamRestarts: number;
    readonly streamStops: number;
    readonly confirmsSent: number;
    readonly framesAssembled: number;
    /** Frames the assembler dropped (incomplete, expired, bad trailer, …). */
    readonly framesDropped: number;
    /** `framesDropped` by the assembler's drop reason (protocol/mjpegAssembler.ts DropReason). */
    readonly framesDroppedByReason: Readonly<Record<string, number>>;
    /** JPEG fragments (cmd 1 datagrams) handed to a streaming session's assembler. */
    readonly fragmentsReceived: number;
    /** Registrations refused: the id is not in `cameras.allow`, or `maxCameras` is reached. */
    readonly camerasRefused: number;
    readonly audioChunks: number;
    readonly pcmChunks: number;
    /** Media that arrived while the session was not streaming (dropped, not confirmed). */
    readonly mediaWhileIdle: number;
}

type Mutable<T> = {-readonly [K in keyof T]: T[K]};

export class CameraCounters implements Omit<Mutable<CameraStats>, "framesDroppedByReason"> {
    tcpConnections = 0;
    badTcpStreams = 0;
    badTcpMessages = 0;
    loginTimeouts = 0;
    loginRejected = 0;
    heartbeatTimeouts = 0;
    datagramsReceived = 0;
    datagramsDroppedBehind = 0;
    badDatagrams = 0;
    unknownSourceDatagrams = 0;
    unknownProbeTargets = 0;
    probeRepliesSuppressed = 0;
    probeRetries = 0;
    unsupportedDatagrams = 0;
    streamStarts = 0;
    streamRestarts = 0;
    streamStops = 0;
    confirmsSent = 0;
    framesAssembled = 0;
    framesDropped = 0;
    readonly framesDroppedByReason = new Map<string, number>();
    fragmentsReceived = 0;
    camerasRefused = 0;
    audioChunks = 0;
    pcmChunks = 0;
    mediaWhileIdle = 0;

    snapshot(): CameraStats {
        return {
            tcpConnections: this.tcpConnections,
            badTcpStreams: this.badTcpStreams,
            badTcpMessages: this.badTcpMessages,
            loginTimeouts: this.loginTimeouts,
            loginRejected: this.loginRejected,
            heartbeatTimeouts: this.heartbeatTimeouts,
            datagramsReceived: this.datagramsReceived,
            datagramsDroppedBehind: this.datagramsDroppedBehind,
            badDatagrams: this.badDatagrams,
            unknownSourceDatagrams: this.unknownSourceDatagrams,
            unknownProbeTargets: this.unknownProbeTargets,
            probeRepliesSuppressed: this.probeRepliesSuppressed,
            probeRetries: this.probeRetries,
            unsupportedDatagrams: this.unsupportedDatagrams,
            streamStarts: this.streamStarts,
            streamRestarts: this.streamRestarts,
            streamStops: this.streamStops,
            confirmsSent: this.confirmsSent,
            framesAssembled: this.framesAssembled,
            framesDropped: this.framesDropped,
            framesDroppedByReason: Object.fromEntries(this.framesDroppedByReason),
            fragmentsReceived: this.fragmentsReceived,
            camerasRefused: this.camerasRefused,
            audioChunks: this.audioChunks,
            pcmChunks: this.pcmChunks,
            mediaWhileIdle: this.mediaWhileIdle,
        };
    }
}
