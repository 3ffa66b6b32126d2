/**
 * One RTSP session: its tracks (each with a transport, SSRC and sequence counter) and the RTP/RTCP
 * sending for them. A session never waits on its client: over TCP a frame is dropped (and the
 * video resumes at the next keyframe) while the socket queues more than `maxQueuedBytes`.
 */
import {randomBytes} from "node:crypto";
import {buildRtpHeader, RTP_HEADER_LENGTH, type RtpPayload} from "./rtpPacketizer.js";
import type {ChosenTransport} from "./rtspTransport.js";

export interface SessionTrack {
    readonly index: number;
    readonly transport: ChosenTransport;
    readonly ssrc: number;
    sequence: number;
    packets: number;
    octets: number;
}

/** Where a session's bytes go; implemented by the server for each connection / the UDP socket. */
export interface SessionOutput {
    /** Interleaved data on the RTSP connection; false when it was dropped (backed up or closed). */
    writeInterleaved(frames: readonly Buffer[]): boolean;
    /** A datagram to the client's address. */
    sendUdp(packet: Buffer, port: number, isRtcp: boolean): void;
}

export type SessionState = "ready" | "playing";

export interface SessionStats {
    framesSent: number;
    framesDropped: number;
}

export class RtspSession {
    readonly id: string;
    readonly cameraId: string;
    readonly tracks = new Map<number, SessionTrack>();
    readonly stats: SessionStats = {framesSent: 0, framesDropped: 0};
    state: SessionState = "ready";
    lastActivityMs: number;
    /** Video waits for a keyframe (start, or after a dropped frame). */
    needsKeyframe = true;
    readonly #output: SessionOutput;

    constructor(cameraId: string, output: SessionOutput, nowMs: number) {
        this.id = randomBytes(8).toString("hex").toUpperCase();
        this.cameraId = cameraId;
        this.#output = output;
        this.lastActivityMs = nowMs;
    }

    addTrack(index: number, transport: ChosenTransport): SessionTrack {
        const track: SessionTrack = {
            index,
            transport,
            ssrc: randomBytes(4).readUInt32BE(0),
            sequence: randomBytes(2).readUInt16BE(0),
            packets: 0,
            octets: 0,
        };
        this.tracks.set(index, track);
        return track;
    }

    /** Sends one frame's payloads on track `index`. Returns false when the frame was dropped. */
    sendFrame(index: number, payloadType: number, timestamp: number, payloads: readonly RtpPayload[]): boolean {
        const track = this.tracks.get(index);
        if (track === undefined || payloads.length === 0) {
            return true;
        }
        const packets: Buffer[] = [];
        let sequence = track.sequence;
        let octets = 0;
        for (const {payload, marker, timestampOffset} of payloads) {
            const header = buildRtpHeader(payloadType, sequence, timestamp + timestampOffset, track.ssrc, marker);
            sequence = (sequence + 1) & 0xffff;
            octets += payload.length;
            packets.push(header, payload);
        }
        if (track.transport.kind === "tcp") {
            const frames: Buffer[] = [];
            for (let i = 0; i < packets.length; i += 2) {
                const header = packets[i] ?? Buffer.alloc(0);
                const payload = packets[i + 1] ?? Buffer.alloc(0);
                frames.push(
                    interleavedPrefix(track.transport.rtpChannel, RTP_HEADER_LENGTH + payload.length),
                    header,
                    payload,
                );
            }
            if (!this.#output.writeInterleaved(frames)) {
                this.stats.framesDropped += 1;
                return false;
            }
        } else {
            for (let i = 0; i < packets.length; i += 2) {
                this.#output.sendUdp(
                    Buffer.concat([packets[i] ?? Buffer.alloc(0), packets[i + 1] ?? Buffer.alloc(0)]),
                    track.transport.rtpPort,
                    false,
                );
            }
        }
        track.sequence = sequence;
        track.packets += payloads.length;
        track.octets += octets;
        this.stats.framesSent += 1;
        return true;
    }

    sendRtcp(index: number, packet: Buffer): void {
        const track = this.tracks.get(index);
        if (track === undefined) {
            return;
        }
        if (track.transport.kind === "tcp") {
            this.#output.writeInterleaved([interleavedPrefix(track.transport.rtcpChannel, packet.length), packet]);
        } else {
            this.#output.sendUdp(packet, track.transport.rtcpPort, true);
        }
    }

    usesInterleavedChannel(channel: number): boolean {
        for (const track of this.tracks.values()) {
            if (
                track.transport.kind === "tcp" &&
                (track.transport.rtpChannel === channel || track.transport.rtcpChannel === channel)
            ) {
                return true;
            }
        }
        return false;
    }
}

function interleavedPrefix(channel: number, length: number): Buffer {
    const prefix = Buffer.allocUnsafe(4);
    prefix[0] = 0x24;
    prefix[1] = channel & 0xff;
    prefix.writeUInt16BE(length, 2);
    return prefix;
}
