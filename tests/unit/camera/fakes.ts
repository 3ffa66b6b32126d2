/** Fake transports and sinks for the camera-layer unit tests (no sockets). */
import type {CameraLink} from "../../../src/camera/cameraConnection.js";
import type {CameraSession, SessionSink} from "../../../src/camera/cameraSession.js";
import type {UdpPeer, UdpTransport} from "../../../src/camera/udpServer.js";
import type {StreamState} from "../../../src/model/camera.js";
import type {AudioCodec} from "../../../src/model/media.js";
import {Cmd} from "../../../src/protocol/commands.js";
import {decodeConfirm} from "../../../src/protocol/confirm.js";
import {decodeHeader, type PacketHeader} from "../../../src/protocol/header.js";
import {decodeJson, type WireMessage} from "../../../src/protocol/messages.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";

/** Decodes one whole packet the server sent as JSON. */
export function jsonOf(packet: Buffer): WireMessage {
    const decoded = decodeDatagram(packet);
    if (decoded.header.command !== Cmd.json) {
        throw new Error(`expected cmd 0, got ${decoded.header.command}`);
    }
    return decodeJson(decoded.payload);
}

export class FakeLink implements CameraLink {
    readonly remoteAddress: string;
    readonly localIp: string;
    lastActivityAtMs = 0;
    readonly sent: Buffer[] = [];
    closedReason: string | undefined;

    constructor(remoteAddress = "10.0.0.50:40000", localIp = "10.0.0.1") {
        this.remoteAddress = remoteAddress;
        this.localIp = localIp;
    }

    send(packet: Buffer): void {
        this.sent.push(packet);
    }

    noteActivity(nowMs: number): void {
        this.lastActivityAtMs = nowMs;
    }

    close(reason: string): void {
        this.closedReason ??= reason;
    }

    /** Every JSON message sent so far. */
    messages(): WireMessage[] {
        return this.sent.map(jsonOf);
    }

    /** Messages sent since the last call to take(). */
    #taken = 0;
    take(): WireMessage[] {
        const out = this.sent.slice(this.#taken).map(jsonOf);
        this.#taken = this.sent.length;
        return out;
    }
}

export interface SentDatagram {
    readonly header: PacketHeader;
    readonly packet: Buffer;
    readonly port: number;
    readonly address: string;
}

export class FakeUdp implements UdpTransport {
    readonly port: number;
    readonly sent: SentDatagram[] = [];
    readonly released: UdpPeer[] = [];

    constructor(port = 6123) {
        this.port = port;
    }

    send(packet: Buffer, port: number, address: string): void {
        this.sent.push({header: decodeHeader(packet), packet, port, address});
    }

    release(peer: UdpPeer): void {
        this.released.push(peer);
    }

    /** The id lists of every 605 sent so far. */
    confirms(): number[][] {
        return this.sent
            .filter((datagram) => datagram.header.command === Cmd.confirm)
            .map((datagram) => decodeConfirm(decodeDatagram(datagram.packet).payload));
    }
}

export class FakeSink implements SessionSink {
    readonly frames: {jpeg: Buffer; receivedAtMs: number}[] = [];
    readonly audio: {codec: AudioCodec; data: Buffer}[] = [];
    readonly states: StreamState[] = [];
    readonly baseInfos: WireMessage[] = [];
    readonly forwards: WireMessage[] = [];
    readonly closed: {session: CameraSession; reason: string}[] = [];
    framesDropped = 0;

    handleFrame(jpeg: Buffer, receivedAtMs: number): void {
        this.frames.push({jpeg, receivedAtMs});
    }
    handleAudio(codec: AudioCodec, data: Buffer): void {
        this.audio.push({codec, data});
    }
    handleFramesDropped(count: number): void {
        this.framesDropped += count;
    }
    handleBaseInfo(content: WireMessage): void {
        this.baseInfos.push(content);
    }
    handleForward(content: WireMessage): void {
        this.forwards.push(content);
    }
    handleStreamState(state: StreamState): void {
        this.states.push(state);
    }
    handleClosed(session: CameraSession, reason: string): void {
        this.closed.push({session, reason});
    }
}
