/**
 * One SimCamera against a minimal fake cloud written here from the protocol encoders, on 127.0.0.1
 * with ephemeral ports: bootstrap, registration, the §8.3 handshake, streaming, 605 confirms and
 * the stall, stop, reconnect, and faults. The server side is deliberately naive (hand reassembly).
 */
import dgram from "node:dgram";
import {once} from "node:events";
import net from "node:net";
import {afterEach, beforeEach, describe, expect, it} from "vitest";
import {Cmd, Code, MsgFlag} from "../../src/protocol/commands.js";
import {encodeConfirm} from "../../src/protocol/confirm.js";
import {ProtocolError} from "../../src/protocol/errors.js";
import {HEADER_LENGTH} from "../../src/protocol/header.js";
import {
    buildForward,
    buildNatRequest,
    buildProbeRequest,
    buildRegisterResponse,
    buildUdpResponse,
    decodeJson,
    encodeJsonPacket,
    type WireMessage,
} from "../../src/protocol/messages.js";
import {decodeDatagram, type Packet} from "../../src/protocol/packet.js";
import {TcpFramer} from "../../src/protocol/tcpFramer.js";
import {SimCamera, type SimCameraOptions} from "../../src/simulator/simCamera.js";
import {Simulator} from "../../src/simulator/simulator.js";
import {readSimFrameCounter} from "../../src/simulator/syntheticJpeg.js";

const CLI_TARGET = "00112233445566778899aabbccddeeff";
const CLI_TOKEN = "55ABfb77";
const CAMERA_ID = "0800c00128F8";

/** Items in arrival order; `next` takes the first match, waiting up to `timeoutMs`. */
class Inbox<T> {
    readonly #items: T[] = [];
    readonly #waiters: {match: (item: T) => boolean; resolve: (item: T) => void}[] = [];

    push(item: T): void {
        const index = this.#waiters.findIndex((waiter) => waiter.match(item));
        if (index >= 0) {
            const [waiter] = this.#waiters.splice(index, 1);
            waiter?.resolve(item);
            return;
        }
        this.#items.push(item);
    }

    next(match: (item: T) => boolean = () => true, timeoutMs = 5000): Promise<T> {
        const index = this.#items.findIndex(match);
        if (index >= 0) {
            return Promise.resolve(this.#items.splice(index, 1)[0] as T);
        }
        return new Promise<T>((resolve, reject) => {
            const waiter = {
                match,
                resolve: (item: T) => {
                    clearTimeout(timer);
                    resolve(item);
                },
            };
            const timer = setTimeout(() => {
                this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
                reject(new Error(`no matching item within ${timeoutMs} ms`));
            }, timeoutMs);
            this.#waiters.push(waiter);
        });
    }

    clear(): void {
        this.#items.length = 0;
    }
}

interface TcpItem {
    readonly connection: number;
    readonly packet: Packet;
    readonly json: WireMessage | undefined;
    /** The decode error for cmd 0 payloads that are not valid JSON messages. */
    readonly jsonError: ProtocolError | undefined;
}

interface UdpItem {
    readonly packet: Packet;
    readonly json: WireMessage | undefined;
    readonly from: {address: string; port: number};
}

/** Bare-bones fake cloud: raw HTTP bootstrap, TCP with a framer, one UDP socket. */
class FakeCloud {
    readonly tcpInbox = new Inbox<TcpItem>();
    readonly udpInbox = new Inbox<UdpItem>();
    readonly mediaInbox = new Inbox<UdpItem>();
    readonly httpRequests = new Inbox<string>();
    readonly connections: net.Socket[] = [];
    readonly closedConnections = new Inbox<number>();
    readonly #tcpServer = net.createServer();
    readonly #httpServer = net.createServer();
    readonly udp = dgram.createSocket("udp4");
    /** When set, connections that send nothing within this time are closed (a server login timeout). */
    loginTimeoutMs: number | undefined;

    get tcpPort(): number {
        return (this.#tcpServer.address() as net.AddressInfo).port;
    }
    get httpPort(): number {
        return (this.#httpServer.address() as net.AddressInfo).port;
    }
    get udpPort(): number {
        return this.udp.address().port;
    }

    async start(): Promise<void> {
        this.#tcpServer.on("error", () => undefined);
        this.#httpServer.on("error", () => undefined);
        this.udp.on("error", () => undefined);
        this.#tcpServer.on("connection", (socket) => this.#acceptTcp(socket));
        this.#httpServer.on("connection", (socket) => this.#acceptHttp(socket));
        this.udp.on("message", (datagram, remote) => {
            const packet = decodeDatagram(datagram);
            const from = {address: remote.address, port: remote.port};
            if (packet.header.command === Cmd.json) {
                this.udpInbox.push({packet, json: decodeJson(packet.payload), from});
            } else {
                this.mediaInbox.push({
                    packet: {header: packet.header, payload: Buffer.from(packet.payload)},
                    json: undefined,
                    from,
                });
            }
        });
        this.#tcpServer.listen(0, "127.0.0.1");
        this.#httpServer.listen(0, "127.0.0.1");
        this.udp.bind(0, "127.0.0.1");
        await Promise.all([
            once(this.#tcpServer, "listening"),
            once(this.#httpServer, "listening"),
            once(this.udp, "listening"),
        ]);
    }

    async stop(): Promise<void> {
        for (const socket of this.connections) {
            socket.destroy();
        }
        await Promise.all([
            new Promise((resolve) => this.#tcpServer.close(resolve)),
            new Promise((resolve) => this.#httpServer.close(resolve)),
            new Promise((resolve) => this.udp.close(() => resolve(undefined))),
        ]);
    }

    send(connection: number, message: WireMessage): void {
        this.connections[connection]?.write(encodeJsonPacket(message));
    }

    sendUdp(bytes: Buffer, to: {address: string; port: number}): void {
        this.udp.send(bytes, to.port, to.address);
    }

    #acceptTcp(socket: net.Socket): void {
        const connection = this.connections.length;
        this.connections.push(socket);
        const framer = new TcpFramer();
        let received = 0;
        socket.on("error", () => undefined);
        socket.on("close", () => this.closedConnections.push(connection));
        if (this.loginTimeoutMs !== undefined) {
            setTimeout(() => {
                if (received === 0) {
                    socket.destroy();
                }
            }, this.loginTimeoutMs);
        }
        socket.on("data", (chunk: Buffer) => {
            received += chunk.length;
            let packets: Packet[];
            try {
                packets = framer.push(chunk);
            } catch {
                socket.destroy();
                return;
            }
            for (const packet of packets) {
                let json: WireMessage | undefined;
                let jsonError: ProtocolError | undefined;
                if (packet.header.command === Cmd.json) {
                    try {
                        json = decodeJson(packet.payload);
                    } catch (error) {
                        if (!(error instanceof ProtocolError)) {
                            throw error;
                        }
                        jsonError = error;
                    }
                }
                this.tcpInbox.push({connection, packet, json, jsonError});
            }
        });
    }

    #acceptHttp(socket: net.Socket): void {
        let text = "";
        socket.on("error", () => undefined);
        socket.on("data", (chunk: Buffer) => {
            text += chunk.toString("latin1");
            if (!text.includes("\r\n\r\n")) {
                return;
            }
            this.httpRequests.push(text);
            // The [CAP] fake's reply shape: 操作成功 makes the UTF-8 length exceed the character count.
            const body = JSON.stringify({
                code: 200,
                message: "操作成功",
                data: {
                    tcpPort: this.tcpPort,
                    uid: CAMERA_ID,
                    isBind: "8",
                    domain: "v720.naxclow.com",
                    updateUrl: null,
                    host: "127.0.0.1",
                    currTime: "1676097689",
                    pwd: "91edf41f",
                    version: null,
                },
            });
            socket.write(
                `HTTP/1.1 200 \r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`,
            );
        });
    }
}

interface Frame {
    readonly jpeg: Buffer;
    readonly packageIds: number[];
}

/** Hand reassembly: HEAD … END with consecutive pkgIds, trailer checked and cut (§9.2). */
class HandAssembler {
    readonly #fragments = new Map<number, Packet>();

    push(packet: Packet): Frame | undefined {
        if (packet.header.command !== Cmd.jpeg) {
            return undefined;
        }
        this.#fragments.set(packet.header.packageId, packet);
        if (packet.header.msgFlag !== MsgFlag.end) {
            return undefined;
        }
        const ids = [packet.header.packageId];
        for (let id = packet.header.packageId - 1; ; id -= 1) {
            const fragment = this.#fragments.get(id);
            if (fragment === undefined) {
                return undefined; // incomplete: never deliver
            }
            ids.unshift(id);
            if (fragment.header.msgFlag === MsgFlag.head) {
                break;
            }
            if (fragment.header.msgFlag !== MsgFlag.body) {
                return undefined;
            }
        }
        const data = Buffer.concat(ids.map((id) => this.#fragments.get(id)?.payload ?? Buffer.alloc(0)));
        for (const id of ids) {
            this.#fragments.delete(id);
        }
        const length = data.readUInt32LE(data.length - 4);
        expect(length).toBe(data.length - 5);
        return {jpeg: data.subarray(0, length), packageIds: ids};
    }
}

let cloud: FakeCloud;
const cameras: SimCamera[] = [];

beforeEach(async () => {
    cloud = new FakeCloud();
    await cloud.start();
});

afterEach(async () => {
    await Promise.all(cameras.map((camera) => camera.close({abrupt: true})));
    cameras.length = 0;
    await cloud.stop();
});

/** A started camera talking to `cloud` directly over TCP (unless `httpPort` is given). */
function startCamera(options: Partial<SimCameraOptions> = {}): SimCamera {
    const camera = new SimCamera({
        id: CAMERA_ID,
        serverHost: "127.0.0.1",
        ...(options.httpPort === undefined ? {tcpPort: cloud.tcpPort} : {}),
        udpPort: cloud.udpPort,
        width: 320,
        height: 240,
        fps: 25,
        reconnectDelayMs: 20,
        ...options,
    });
    cameras.push(camera);
    camera.start();
    return camera;
}

/** Registers and runs §8.3 steps 1–7; returns the camera's data socket address. */
async function handshake(camera: SimCamera, connection = 0): Promise<{address: string; port: number}> {
    const register = await cloud.tcpInbox.next((item) => item.json?.code === Code.registerRequest);
    expect(register.connection).toBe(connection);
    const registered = once(camera, "registered");
    cloud.send(connection, buildRegisterResponse());
    expect(await registered).toStrictEqual([200]);

    cloud.send(
        connection,
        buildNatRequest({
            cliTarget: CLI_TARGET,
            cliToken: CLI_TOKEN,
            cliIp: "255.255.255.255",
            cliPort: 0,
            cliNatIp: "127.0.0.1",
            cliNatPort: cloud.udpPort,
        }),
    );
    const udpRequest = await cloud.udpInbox.next((item) => item.json?.code === Code.udpRequest);
    expect(udpRequest.packet.header.payloadLength + HEADER_LENGTH).toBe(32); // `{"code": 20}` (§6.1)
    cloud.sendUdp(encodeJsonPacket(buildUdpResponse("198.51.100.7", 43_258)), udpRequest.from);

    const natResponse = await cloud.tcpInbox.next((item) => item.json?.code === Code.natResponseFromDevice);
    expect(natResponse.json).toStrictEqual({
        code: 12,
        status: 200,
        devIp: "198.51.100.7",
        devPort: 43_258,
        devNatIp: "127.0.0.1",
        devNatPort: udpRequest.from.port,
        cliTarget: CLI_TARGET,
        cliToken: CLI_TOKEN,
    });
    const probe = await cloud.udpInbox.next((item) => item.json?.code === Code.probeResponse);
    expect(probe.json).toStrictEqual({code: 51, devTarget: CAMERA_ID, status: 200});
    expect(probe.from).toStrictEqual(udpRequest.from);

    cloud.sendUdp(encodeJsonPacket(buildProbeRequest()), probe.from);
    const answer = await cloud.udpInbox.next((item) => item.json?.code === Code.probeResponse);
    expect(answer.json?.["devTarget"]).toBe(CAMERA_ID);
    return probe.from;
}

describe("SimCamera against a fake cloud", () => {
    it("bootstraps over HTTP with the camera's exact request and registers with the returned pwd", async () => {
        startCamera({httpPort: cloud.httpPort, firmware: "202212011602"});
        const request = await cloud.httpRequests.next();
        expect(request).toMatch(
            /^POST \/app\/api\/ApiServer\/getA9ConfCheck\?devicesCode=0800c00128F8&random=([A-Z])[A-Z]{5}&token=[0-9a-f]{10} HTTP\/1\.1\r\nHost: v720\.naxclow\.com\r\nversion: 202212011602\r\n\r\n$/,
        );
        const letters = /random=([A-Z]{6})/.exec(request)?.[1] ?? "";
        for (let index = 1; index < letters.length; index += 1) {
            expect(letters.charCodeAt(index)).toBe(letters.charCodeAt(index - 1) + 1);
        }
        const register = await cloud.tcpInbox.next((item) => item.json?.code === Code.registerRequest);
        // Byte-exact against the capture (§8.1): spaced JSON, stray space before ",domain", 00×8 forwardId.
        expect(register.packet.payload.toString("utf8")).toBe(
            '{"code": 100, "uid": "0800c00128F8", "token": "91edf41f" ,"domain": "v720.naxclow.com"}',
        );
        expect(register.packet.header).toStrictEqual({
            payloadLength: 87,
            command: 0,
            msgFlag: 0,
            dealFlag: 0,
            forwardId: "\0".repeat(8),
            packageId: 0,
        });
    });

    it("runs the live-view handshake, streams byte-identical frames and audio, stalls without 605 and resumes", async () => {
        const live = startCamera({stallAfterMs: 800, heartbeatIntervalMs: 150, audio: true, wifiName: "test-ap"});
        const dataSocket = await handshake(live);

        cloud.send(0, {code: Code.deviceStatus, status: 1});
        cloud.send(0, buildForward(CLI_TARGET, {code: 298}));
        cloud.send(0, buildForward(CLI_TARGET, {code: 4, unixTimer: 1_677_886_134}));
        const baseInfo = await cloud.tcpInbox.next((item) => item.json?.code === Code.forward);
        expect(baseInfo.json).toStrictEqual({
            code: 301,
            target: CLI_TARGET,
            content: {
                code: 4,
                // biome-ignore lint/style/useNamingConvention: the camera's wire spelling (protocol-notes.md §6.2)
                IrLed: 0,
                devPower: 100,
                speedGrade: 1,
                moveAlert: 0,
                sdMoveMode: 0,
                wifiName: "test-ap",
                instLed: 1,
                sdDevStatus: 0,
                mirrorFlip: 0,
                version: "202212011602",
            },
        });

        const started = once(live, "streamStarted");
        cloud.send(0, buildForward(CLI_TARGET, {code: 3}));
        const echo = await cloud.tcpInbox.next((item) => item.json?.code === Code.forward);
        expect(echo.json).toStrictEqual({code: 301, target: CLI_TARGET, content: {code: 3}});
        expect(await started).toStrictEqual([{video: true, audio: true}]);

        // Confirm every frame and audio packet; collect 10 frames.
        const assembler = new HandAssembler();
        const frames: Frame[] = [];
        const packageIds: number[] = [];
        let audioPackets = 0;
        while (frames.length < 10) {
            const media = await cloud.mediaInbox.next();
            expect(media.from).toStrictEqual(dataSocket);
            packageIds.push(media.packet.header.packageId);
            if (media.packet.header.command === Cmd.g711) {
                expect(media.packet.header.msgFlag).toBe(MsgFlag.whole);
                expect(media.packet.payload.length).toBe(160);
                audioPackets += 1;
                cloud.sendUdp(encodeConfirm([media.packet.header.packageId]), dataSocket);
                continue;
            }
            const frame = assembler.push(media.packet);
            if (frame !== undefined) {
                frames.push(frame);
                cloud.sendUdp(encodeConfirm(frame.packageIds), dataSocket);
            }
        }
        expect(audioPackets).toBeGreaterThan(0);
        // One pkgId sequence shared by video and audio, strictly increasing on loopback.
        for (let index = 1; index < packageIds.length; index += 1) {
            expect(packageIds[index]).toBe((packageIds[index - 1] ?? 0) + 1);
        }
        const counters = frames.map((frame) => readSimFrameCounter(frame.jpeg));
        expect(counters).toStrictEqual(Array.from({length: 10}, (_, index) => index + 1));
        for (const frame of frames) {
            expect(frame.jpeg.equals(live.expectedFrame(readSimFrameCounter(frame.jpeg) ?? -1))).toBe(true);
        }
        await expect.poll(() => live.stats.confirmsReceived).toBeGreaterThanOrEqual(10);
        expect(live.isStalled).toBe(false);

        // Stop confirming: the camera stalls after ~800 ms and sends nothing more.
        const stalled = once(live, "stalled");
        await stalled;
        const framesAtStall = live.stats.framesSent;
        const audioAtStall = live.stats.audioPacketsSent;
        // Two heartbeats later (≥ 300 ms, 7 frame intervals) still nothing was sent.
        const heartbeatsSeen = (count: number) =>
            cloud.tcpInbox.next((item) => item.packet.header.command === Cmd.heartbeat).then(() => count);
        cloud.tcpInbox.clear();
        await heartbeatsSeen(1);
        await heartbeatsSeen(2);
        expect(live.stats.framesSent).toBe(framesAtStall);
        expect(live.stats.audioPacketsSent).toBe(audioAtStall);
        expect(live.stats.unconfirmedIds).toBeGreaterThan(0);

        // One confirm (even empty) resumes the stream.
        const resumed = once(live, "resumed");
        cloud.sendUdp(encodeConfirm([]), dataSocket);
        await resumed;
        const [next] = await once(live, "frameSent");
        expect(next.counter).toBe(framesAtStall + 1);

        // 301/0 is echoed and stops the stream.
        const stopped = once(live, "streamStopped");
        cloud.send(0, buildForward(CLI_TARGET, {code: 0}));
        const stopEcho = await cloud.tcpInbox.next((item) => item.json?.code === Code.forward);
        expect(stopEcho.json).toStrictEqual({code: 301, target: CLI_TARGET, content: {code: 0}});
        await stopped;
        expect(live.isStreaming).toBe(false);
    });

    it("reconnects and registers again after an abrupt disconnect", async () => {
        const camera = startCamera();
        await handshake(camera, 0);
        const disconnected = once(camera, "disconnected");
        camera.dropConnection();
        await disconnected;
        expect(await cloud.closedConnections.next()).toBe(0);
        await handshake(camera, 1);
        expect(camera.stats.registrations).toBe(2);
        expect(camera.stats.disconnects).toBe(1);
    });

    it("never delivers a corrupt frame under loss, duplicates, reorder, garbage and lying UDP lengths", async () => {
        const camera = startCamera({
            fps: 50,
            stallAfterMs: 0,
            audio: false,
            faults: {
                seed: 7,
                fragmentLoss: 0.05,
                duplicate: 0.05,
                reorder: 0.3,
                garbageDatagram: 0.3,
                udpLengthLie: 0.3,
            },
        });
        // Garbage datagrams fail to decode in the naive server below: route media by hand.
        const dataSocket = await handshake(camera);
        const received: Buffer[] = [];
        cloud.udp.removeAllListeners("message");
        cloud.udp.on("message", (datagram) => received.push(Buffer.from(datagram)));
        cloud.send(0, buildForward(CLI_TARGET, {code: 2}));
        await expect.poll(() => camera.stats.framesSent, {timeout: 5000}).toBeGreaterThanOrEqual(40);
        cloud.send(0, buildForward(CLI_TARGET, {code: 0}));
        await once(camera, "streamStopped");
        expect(dataSocket.port).toBe(camera.udpLocalPort);

        const assembler = new HandAssembler();
        let complete = 0;
        let undecodable = 0;
        for (const datagram of received) {
            let packet: Packet;
            try {
                packet = decodeDatagram(datagram);
            } catch (error) {
                expect(error).toBeInstanceOf(ProtocolError);
                undecodable += 1;
                continue;
            }
            let frame: Frame | undefined;
            try {
                frame = assembler.push(packet);
            } catch {
                continue; // garbage that happened to decode as an END with a bad trailer
            }
            if (frame !== undefined) {
                complete += 1;
                const counter = readSimFrameCounter(frame.jpeg);
                expect(counter).toBeDefined();
                expect(frame.jpeg.equals(camera.expectedFrame(counter ?? -1))).toBe(true);
            }
        }
        const faults = camera.stats.faults;
        expect(faults.lost).toBeGreaterThan(0);
        expect(faults.duplicated).toBeGreaterThan(0);
        expect(faults.reorderedFrames).toBeGreaterThan(0);
        expect(faults.udpLengthLies).toBeGreaterThan(0);
        expect(undecodable).toBeGreaterThanOrEqual(faults.udpLengthLies);
        expect(complete).toBeGreaterThan(0);
        expect(complete).toBeLessThan(camera.stats.framesSent);
    });

    it("sends invalid JSON, unknown codes and unknown cmds on TCP when told to, and keeps its session", async () => {
        const camera = startCamera({heartbeatIntervalMs: 50, faults: {invalidJson: 1, unknownCode: 1}});
        await cloud.tcpInbox.next((item) => item.json?.code === Code.registerRequest);
        const invalid = await cloud.tcpInbox.next((item) => item.jsonError !== undefined);
        expect(invalid.packet.header.command).toBe(Cmd.json);
        expect((await cloud.tcpInbox.next((item) => item.json?.code === 777)).connection).toBe(0);
        expect((await cloud.tcpInbox.next((item) => item.packet.header.command === 999)).packet.payload.length).toBe(0);
        await cloud.tcpInbox.next((item) => item.packet.header.command === Cmd.heartbeat);
        expect(camera.stats.faults.invalidJson).toBeGreaterThan(0);
    });

    it("with neverLogin connects but sends nothing, and reconnects when the server gives up", async () => {
        cloud.loginTimeoutMs = 200;
        const camera = startCamera({heartbeatIntervalMs: 50, faults: {neverLogin: true}});
        expect(await cloud.closedConnections.next()).toBe(0);
        expect(await cloud.closedConnections.next()).toBe(1);
        expect(camera.stats.connects).toBeGreaterThanOrEqual(2);
        expect(camera.stats.registrations).toBe(0);
    });

    it("Simulator runs N cameras with unique ids, each on its own connection, and stops them all", async () => {
        const simulator = new Simulator({
            cameras: 3,
            serverHost: "127.0.0.1",
            httpPort: cloud.httpPort,
            width: 64,
            height: 48,
            firstIndex: 0x1a,
        });
        simulator.start();
        const uids = new Map<string, number>();
        for (let index = 0; index < 3; index += 1) {
            const register = await cloud.tcpInbox.next((item) => item.json?.code === Code.registerRequest);
            uids.set(String(register.json?.["uid"]), register.connection);
            cloud.send(register.connection, buildRegisterResponse());
        }
        expect([...uids.keys()].sort()).toStrictEqual(["0800c000001A", "0800c000001B", "0800c000001C"]);
        expect(new Set(uids.values()).size).toBe(3);
        await expect.poll(() => simulator.stats().registered).toBe(3);
        await simulator.stop();
        for (let index = 0; index < 3; index += 1) {
            await cloud.closedConnections.next();
        }
        expect(simulator.cameras.every((camera) => camera.state === "closed")).toBe(true);
    });
});
