/**
 * CameraServer on 127.0.0.1 with ephemeral ports, driven by a tiny device written here from the
 * protocol encoders only (no server internals): TCP register, answer 11 with UDP 20, TCP 12, UDP 51,
 * then stream JPEG fragments.
 */
import {createSocket, type Socket as UdpSocket} from "node:dgram";
import {once} from "node:events";
import {connect, type Socket} from "node:net";
import {afterEach, describe, expect, it} from "vitest";
import {CameraServer, type CameraServerOptions} from "../../src/camera/cameraServer.js";
import type {JpegFrame} from "../../src/model/media.js";
import {Cmd, Code, ContentCode, MsgFlag} from "../../src/protocol/commands.js";
import {decodeConfirm} from "../../src/protocol/confirm.js";
import {encodeHeader} from "../../src/protocol/header.js";
import {encodeJpegFragments} from "../../src/protocol/jpegFragments.js";
import {decodeJson, encodeJsonPacket, type WireMessage} from "../../src/protocol/messages.js";
import {decodeDatagram, encodePacket} from "../../src/protocol/packet.js";
import {TcpFramer} from "../../src/protocol/tcpFramer.js";
import {silentLogger} from "../../src/util/log.js";
import {syntheticJpeg} from "../support/fixtures/syntheticJpeg.js";

const HOST = "127.0.0.1";
const DEVICE_FORWARD_ID = "\0\0\0\0\0\0\0\0";

/** The device side, built from protocol encoders. Answers the handshake automatically. */
class TestCamera {
    readonly uid: string;
    readonly tcp: Socket;
    readonly udp: UdpSocket;
    readonly serverUdpPort: number;
    readonly tcpMessages: WireMessage[] = [];
    readonly udpMessages: WireMessage[] = [];
    readonly confirms: number[][] = [];
    udpHeartbeats = 0;
    probesReceived = 0;
    /** Answer every 50 with a 51, as the real camera does (protocol-notes.md §6.1 code 51). */
    echoesProbes = false;
    /** This many of the camera's unprompted 51s (after a 21) are lost on the way. */
    lostProbes = 0;
    isStreaming = false;
    isTcpClosed = false;
    #nextPackageId = 1000;
    #isUdpClosed = false;
    #framer = new TcpFramer();

    private constructor(uid: string, tcp: Socket, udp: UdpSocket, serverUdpPort: number) {
        this.uid = uid;
        this.tcp = tcp;
        this.udp = udp;
        this.serverUdpPort = serverUdpPort;
        tcp.on("data", (chunk: Buffer) => {
            for (const packet of this.#framer.push(chunk)) {
                if (packet.header.command === Cmd.json) {
                    this.#handleTcp(decodeJson(packet.payload));
                }
            }
        });
        tcp.on("error", () => undefined);
        tcp.on("close", () => {
            this.isTcpClosed = true;
        });
        udp.on("error", () => undefined);
        udp.on("message", (datagram: Buffer) => this.#handleUdp(datagram));
    }

    static async connect(tcpPort: number, udpPort: number, uid: string): Promise<TestCamera> {
        const udp = createSocket("udp4");
        udp.bind(0, HOST);
        await once(udp, "listening");
        const tcp = connect(tcpPort, HOST);
        await once(tcp, "connect");
        const camera = new TestCamera(uid, tcp, udp, udpPort);
        cameras.push(camera);
        return camera;
    }

    get udpPort(): number {
        return this.udp.address().port;
    }

    async register(): Promise<void> {
        // protocol-notes.md §8.1: spaced JSON, forwardId 00×8
        const json = `{"code": 100, "uid": "${this.uid}", "token": "91edf41f" ,"domain": "v720.naxclow.com"}`;
        this.tcp.write(encodePacket({command: Cmd.json, forwardId: DEVICE_FORWARD_ID}, Buffer.from(json)));
        await waitUntil(() => this.tcpMessages.some((message) => message.code === Code.registerResponse));
    }

    sendTcp(message: WireMessage): void {
        this.tcp.write(encodeJsonPacket(message, {forwardId: DEVICE_FORWARD_ID}));
    }

    sendUdp(packet: Buffer): void {
        this.udp.send(packet, this.serverUdpPort, HOST);
    }

    /** Sends one frame's fragments (optionally losing or reversing some); returns the JPEG. */
    sendFrame(counter: number, length = 12_000, faults: {lose?: number; reverse?: boolean} = {}): Buffer {
        const jpeg = syntheticJpeg(counter, length);
        const datagrams = encodeJpegFragments(jpeg, this.#nextPackageId);
        this.#nextPackageId += datagrams.length;
        if (faults.reverse === true) {
            datagrams.reverse();
        }
        datagrams.forEach((datagram, index) => {
            if (index !== faults.lose) {
                this.sendUdp(datagram);
            }
        });
        return jpeg;
    }

    close(): void {
        this.tcp.destroy();
        if (!this.#isUdpClosed) {
            this.#isUdpClosed = true;
            this.udp.close();
        }
    }

    #handleTcp(message: WireMessage): void {
        this.tcpMessages.push(message);
        if (message.code === Code.natRequestToDevice) {
            this.sendUdp(encodeJsonPacket({code: Code.udpRequest}, {forwardId: DEVICE_FORWARD_ID}));
            return;
        }
        if (message.code === Code.forward) {
            const content = message["content"] as WireMessage;
            if (content.code === ContentCode.baseInfo) {
                this.sendTcp({
                    code: 301,
                    target: message["target"],
                    content: {code: 4, devPower: 100, wifiName: "test", version: "202212011602"},
                });
            } else if (content.code === ContentCode.openAudioOpenVideo) {
                this.isStreaming = true;
                this.sendTcp({code: 301, target: message["target"], content: {code: 3}});
            } else if (content.code === ContentCode.closeAudioCloseVideo) {
                this.isStreaming = false;
                this.sendTcp({code: 301, target: message["target"], content: {code: 0}});
            }
        }
    }

    #handleUdp(datagram: Buffer): void {
        const packet = decodeDatagram(datagram);
        if (packet.header.command === Cmd.confirm) {
            this.confirms.push(decodeConfirm(packet.payload));
            return;
        }
        if (packet.header.command === Cmd.heartbeat) {
            this.udpHeartbeats += 1;
            return;
        }
        const message = decodeJson(packet.payload);
        this.udpMessages.push(message);
        if (message.code === Code.probeRequest) {
            this.probesReceived += 1;
            if (this.echoesProbes) {
                this.sendUdp(
                    encodeJsonPacket({code: 51, devTarget: this.uid, status: 200}, {forwardId: DEVICE_FORWARD_ID}),
                );
            }
        }
        if (message.code === Code.udpResponse) {
            const last11 = this.tcpMessages.findLast((m) => m.code === Code.natRequestToDevice);
            this.sendTcp({
                code: 12,
                status: 200,
                devIp: message["ip"],
                devPort: message["port"],
                devNatIp: HOST,
                devNatPort: this.udpPort,
                cliTarget: last11?.["cliTarget"],
                cliToken: last11?.["cliToken"],
            });
            if (this.lostProbes > 0) {
                this.lostProbes -= 1;
                return;
            }
            this.sendUdp(
                encodeJsonPacket({code: 51, devTarget: this.uid, status: 200}, {forwardId: DEVICE_FORWARD_ID}),
            );
        }
    }
}

const servers: CameraServer[] = [];
const cameras: TestCamera[] = [];

afterEach(async () => {
    for (const camera of cameras.splice(0)) {
        camera.close();
    }
    await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function startServer(overrides: Partial<CameraServerOptions> = {}) {
    const server = new CameraServer(
        {
            host: HOST,
            port: 0,
            loginTimeoutMs: 2000,
            heartbeatTimeoutMs: 10_000,
            stallTimeoutMs: 5000,
            stopGraceMs: 200,
            udpReceiveBufferBytes: 1 << 20,
            ...overrides,
        },
        silentLogger,
    );
    servers.push(server);
    const ports = await server.start();
    return {server, ...ports};
}

async function waitUntil(condition: () => boolean, timeoutMs = 3000): Promise<void> {
    await expect.poll(condition, {timeout: timeoutMs, interval: 5}).toBe(true);
}

function frameCollector() {
    const frames: JpegFrame[] = [];
    return {frames, consumer: {onFrame: (frame: JpegFrame) => frames.push(frame)}};
}

describe("CameraServer (integration, 127.0.0.1)", () => {
    it("listens on TCP and UDP with the same port number", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        expect(tcpPort).toBeGreaterThan(0);
        expect(udpPort).toBe(tcpPort);
        expect(server.addresses).toMatchObject({tcpAddress: HOST, udpAddress: HOST});
    });

    it.each([
        {udpWorker: true, where: "in a worker thread"},
        {udpWorker: false, where: "on the main thread"},
    ])(
        "runs the whole handshake and delivers byte-identical frames, confirming every fragment (UDP $where)",
        async ({udpWorker}) => {
            const {server, tcpPort, udpPort} = await startServer({udpWorker});
            const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
            await camera.register();
            expect(server.registry.get("0800c00128F8")?.online).toBe(true);
            const viewer = frameCollector();
            const result = server.registry.subscribe("0800c00128F8", viewer.consumer);
            expect(result.ok).toBe(true);
            await waitUntil(() => camera.isStreaming);

            // §8.3 order: 101, 11, then 53, 301{298}, 301{4}, 301{3}
            expect(
                camera.tcpMessages.map((m) => (m.code === 301 ? `301/${(m["content"] as WireMessage).code}` : m.code)),
            ).toStrictEqual([101, 11, 53, "301/298", "301/4", "301/3"]);
            const eleven = camera.tcpMessages[1];
            expect(eleven).toMatchObject({cliIp: HOST, cliPort: udpPort, cliNatIp: HOST, cliNatPort: udpPort});
            // code 21 carries the observed source of the camera's UDP socket
            expect(camera.udpMessages.find((m) => m.code === 21)).toStrictEqual({
                code: 21,
                ip: HOST,
                port: camera.udpPort,
            });
            // the 50 may trail the TCP messages: with the socket in a worker, UDP sends leave at the end of
            // the event-loop turn, TCP writes at once
            await waitUntil(() => camera.udpMessages.some((m) => m.code === 50));
            expect(camera.udpMessages.filter((m) => m.code === 50)).toHaveLength(1);

            const sent: Buffer[] = [];
            for (let counter = 1; counter <= 5; counter++) {
                sent.push(camera.sendFrame(counter));
                await waitUntil(() => viewer.frames.length === counter);
            }
            expect(viewer.frames.map((frame) => frame.sequence)).toStrictEqual([1, 2, 3, 4, 5]);
            viewer.frames.forEach((frame, index) => {
                expect(frame.data.equals(sent[index]!)).toBe(true);
            });
            const fragmentsPerFrame = encodeJpegFragments(sent[0]!, 0).length;
            await waitUntil(() => new Set(camera.confirms.flat()).size === 5 * fragmentsPerFrame);
            await waitUntil(() => server.registry.get("0800c00128F8")?.baseInfo !== null);
            expect(server.registry.get("0800c00128F8")).toMatchObject({
                firmware: "202212011602",
                streamState: "streaming",
                framesDelivered: 5,
            });
        },
    );

    it("never delivers a frame that lost a fragment; reordered frames arrive intact", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        const viewer = frameCollector();
        server.registry.subscribe(camera.uid, viewer.consumer);
        await waitUntil(() => camera.isStreaming);
        const expected: Buffer[] = [];
        for (let counter = 1; counter <= 20; counter++) {
            const isLost = counter % 4 === 0;
            const jpeg = camera.sendFrame(counter, 8000, {
                ...(isLost ? {lose: 3} : {}),
                reverse: counter % 3 === 0,
            });
            if (!isLost) {
                expected.push(jpeg);
                await waitUntil(() => viewer.frames.length === expected.length);
            }
        }
        camera.sendFrame(21, 8000); // its HEAD supersedes an unfinished frame 20
        await waitUntil(() => viewer.frames.length === expected.length + 1);
        expect(
            viewer.frames.slice(0, expected.length).every((frame, index) => frame.data.equals(expected[index]!)),
        ).toBe(true);
        expect(server.registry.get(camera.uid)?.framesDropped).toBe(5);
    });

    it("keeps two cameras on the same source IP apart", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const a = await TestCamera.connect(tcpPort, udpPort, "0800c0000001");
        const b = await TestCamera.connect(tcpPort, udpPort, "0800c0000002");
        await a.register();
        await b.register();
        const viewerA = frameCollector();
        const viewerB = frameCollector();
        server.registry.subscribe(a.uid, viewerA.consumer);
        server.registry.subscribe(b.uid, viewerB.consumer);
        await waitUntil(() => a.isStreaming && b.isStreaming);
        const sentA: Buffer[] = [];
        const sentB: Buffer[] = [];
        for (let counter = 1; counter <= 3; counter++) {
            sentA.push(a.sendFrame(100 + counter));
            sentB.push(b.sendFrame(200 + counter, 9000));
            await waitUntil(() => viewerA.frames.length === counter && viewerB.frames.length === counter);
        }
        expect(viewerA.frames.every((frame, index) => frame.data.equals(sentA[index]!))).toBe(true);
        expect(viewerB.frames.every((frame, index) => frame.data.equals(sentB[index]!))).toBe(true);
        expect(new Set(viewerA.frames.map((frame) => frame.cameraId))).toStrictEqual(new Set([a.uid]));
        // each camera's confirms go to its own socket
        expect(a.confirms.length).toBeGreaterThan(0);
        expect(b.confirms.length).toBeGreaterThan(0);
    });

    it("garbage on one TCP connection closes only that connection", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        const intruder = connect(tcpPort, HOST);
        intruder.on("error", () => undefined);
        await once(intruder, "connect");
        intruder.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); // "GET " as a u32 LE length is 542 MB
        await once(intruder, "close");
        expect(server.registry.stats().badTcpStreams).toBe(1);
        expect(camera.isTcpClosed).toBe(false);
        expect(server.registry.get(camera.uid)?.online).toBe(true);
        camera.tcp.write(encodePacket({command: Cmd.heartbeat, forwardId: DEVICE_FORWARD_ID}));
        await waitUntil(() => server.registry.get(camera.uid)?.online === true && !camera.isTcpClosed);
    });

    it("closes a connection announcing a 4 GB payload without waiting for it", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        const rssBefore = process.memoryUsage().rss;
        camera.tcp.write(
            encodeHeader({
                payloadLength: 0xffff_ffff,
                command: Cmd.json,
                msgFlag: 0,
                dealFlag: 0,
                forwardId: DEVICE_FORWARD_ID,
                packageId: 0,
            }),
        );
        await waitUntil(() => camera.isTcpClosed);
        expect(server.registry.stats().badTcpStreams).toBe(1);
        expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
        await waitUntil(() => server.registry.get(camera.uid)?.online === false);
    });

    it("drops and counts garbage datagrams and media from unbound sources", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const stranger = createSocket("udp4");
        stranger.on("error", () => undefined);
        stranger.bind(0, HOST);
        await once(stranger, "listening");
        try {
            stranger.send(Buffer.from("0102030405", "hex"), udpPort, HOST); // truncated header
            stranger.send(encodePacket({command: Cmd.json}, Buffer.from("{oops")), udpPort, HOST);
            // lying length: says 1000 bytes, carries 4
            const lying = encodePacket({command: Cmd.jpeg, msgFlag: MsgFlag.head}, Buffer.alloc(4));
            lying.writeUInt32LE(1000, 0);
            stranger.send(lying, udpPort, HOST);
            const fragments = encodeJpegFragments(syntheticJpeg(1, 3000), 1);
            for (const datagram of fragments) {
                stranger.send(datagram, udpPort, HOST);
            }
            stranger.send(encodePacket({command: Cmd.heartbeat}), udpPort, HOST);
            stranger.send(encodeJsonPacket({code: 51, devTarget: "nobody", status: 200}), udpPort, HOST);
            await waitUntil(() => server.registry.stats().datagramsReceived === 3 + fragments.length + 2);
            expect(server.registry.stats()).toMatchObject({
                badDatagrams: 3,
                unknownSourceDatagrams: fragments.length + 1,
                unknownProbeTargets: 1,
            });
        } finally {
            stranger.close();
        }
        // the server still works
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
    });

    it("[quirk] does not ping-pong 50/51 with a camera that answers every 50 with a 51", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        camera.echoesProbes = true;
        await camera.register();
        server.registry.subscribe(camera.uid, {});
        await waitUntil(() => camera.isStreaming);
        // ~2 s of streaming (empty 605s every 500 ms): unthrottled, the pair exchanges thousands of probes by then
        await waitUntil(() => camera.confirms.length >= 4, 5000);
        expect(camera.probesReceived).toBeGreaterThanOrEqual(1);
        // at most two 50s a second: one answering a 51 and, while no media came, the session's own retry
        expect(camera.probesReceived).toBeLessThanOrEqual(6);
        expect(server.registry.stats().probeRepliesSuppressed).toBeGreaterThan(0);
    });

    it("recovers a lost 51 within about a second: the session sends a 50 to code 12's address, no stall restart", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        camera.echoesProbes = true; // a real camera answers every 50 with a 51
        camera.lostProbes = 1;
        await camera.register();
        const {frames, consumer} = frameCollector();
        server.registry.subscribe(camera.uid, consumer);
        await waitUntil(() => camera.isStreaming, 4000); // the stall restart would take 5 s
        expect(camera.probesReceived).toBeGreaterThanOrEqual(1);
        const jpeg = camera.sendFrame(1);
        await waitUntil(() => frames.length === 1);
        expect(frames[0]?.data.equals(jpeg)).toBe(true);
        const stats = server.registry.stats();
        expect(stats.probeRetries).toBeGreaterThanOrEqual(1);
        expect(stats.streamRestarts).toBe(0);
    });

    it("answers UDP heartbeats from a bound source", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        server.registry.subscribe(camera.uid, {});
        await waitUntil(() => camera.isStreaming);
        camera.sendUdp(encodePacket({command: Cmd.heartbeat, forwardId: DEVICE_FORWARD_ID}));
        await waitUntil(() => camera.udpHeartbeats === 1);
    });

    it("a camera that registers again replaces its old session and the stream restarts for the viewer", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const first = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await first.register();
        const viewer = frameCollector();
        server.registry.subscribe(first.uid, viewer.consumer);
        await waitUntil(() => first.isStreaming);
        first.sendFrame(1);
        await waitUntil(() => viewer.frames.length === 1);

        const second = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await second.register();
        await waitUntil(() => first.isTcpClosed);
        await waitUntil(() => second.isStreaming);
        const jpeg = second.sendFrame(2);
        await waitUntil(() => viewer.frames.length === 2);
        expect(viewer.frames[1]?.data.equals(jpeg)).toBe(true);
        expect(server.registry.list()).toHaveLength(1);
        expect(server.registry.get(first.uid)?.online).toBe(true);
    });

    it("a camera that disconnects goes offline, stays listed, and comes back", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const offline: string[] = [];
        server.registry.on("cameraOffline", (view) => offline.push(view.id));
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        camera.close();
        await waitUntil(() => offline.length === 1);
        expect(server.registry.get("0800c00128F8")).toMatchObject({online: false, address: null});
        const again = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await again.register();
        expect(server.registry.get("0800c00128F8")?.online).toBe(true);
    });

    it("closes a connection that never registers after loginTimeoutMs", async () => {
        const {server, tcpPort} = await startServer({loginTimeoutMs: 100});
        const silent = connect(tcpPort, HOST);
        silent.on("error", () => undefined);
        await once(silent, "close");
        expect(server.registry.stats().loginTimeouts).toBe(1);
    });

    it("sends 301{0} after the stop grace when the last viewer leaves", async () => {
        const {server, tcpPort, udpPort} = await startServer({stopGraceMs: 50});
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        const result = server.registry.subscribe(camera.uid, {});
        await waitUntil(() => camera.isStreaming);
        if (result.ok) {
            result.subscription.close();
        }
        await waitUntil(() => !camera.isStreaming);
        expect(server.registry.get(camera.uid)?.streamState).toBe("idle");
    });

    it("stop() sends 301{0} to streaming cameras and closes their connections", async () => {
        const {server, tcpPort, udpPort} = await startServer();
        const camera = await TestCamera.connect(tcpPort, udpPort, "0800c00128F8");
        await camera.register();
        server.registry.subscribe(camera.uid, {});
        await waitUntil(() => camera.isStreaming);
        await server.stop();
        await waitUntil(() => camera.isTcpClosed);
        expect(camera.isStreaming).toBe(false); // the 301{0} arrived before the close
    });

    it("rejects start() with EADDRINUSE when the TCP port is taken", async () => {
        const {tcpPort} = await startServer();
        const second = new CameraServer(
            {
                host: HOST,
                port: tcpPort,
                loginTimeoutMs: 1000,
                heartbeatTimeoutMs: 1000,
                stallTimeoutMs: 1000,
                stopGraceMs: 1000,
                udpReceiveBufferBytes: 1 << 16,
            },
            silentLogger,
        );
        await expect(second.start()).rejects.toMatchObject({code: "EADDRINUSE"});
    });

    it("rejects start() with EADDRINUSE when only the UDP port is taken, and frees the TCP port", async () => {
        const blocker = createSocket("udp4");
        blocker.bind(0, HOST);
        await once(blocker, "listening");
        const port = blocker.address().port;
        try {
            const server = new CameraServer(
                {
                    host: HOST,
                    port,
                    loginTimeoutMs: 1000,
                    heartbeatTimeoutMs: 1000,
                    stallTimeoutMs: 1000,
                    stopGraceMs: 1000,
                    udpReceiveBufferBytes: 1 << 16,
                },
                silentLogger,
            );
            await expect(server.start()).rejects.toMatchObject({code: "EADDRINUSE"});
            const probe = connect(port, HOST);
            const outcome = await new Promise<string>((resolve) => {
                probe.once("connect", () => resolve("connected"));
                probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
            });
            probe.destroy();
            expect(outcome).toBe("ECONNREFUSED");
        } finally {
            blocker.close();
        }
    });
});
