/**
 * Both UDP endpoints under UdpServer (camera/udpEndpoint.ts, camera/udpWorkerEndpoint.ts) with real
 * sockets on loopback: order, source addresses and ports, large datagrams, sends from the bound port,
 * bind errors, close, and (worker) the address table starting over and the restart after a crash.
 */
import {createSocket, type RemoteInfo, type Socket} from "node:dgram";
import {Worker} from "node:worker_threads";
import {afterEach, describe, expect, it, vi} from "vitest";
import {CameraCounters} from "../../src/camera/cameraCounters.js";
import {DirectUdpEndpoint, type UdpEndpoint, type UdpEndpointOptions} from "../../src/camera/udpEndpoint.js";
import {type UdpPeer, UdpServer} from "../../src/camera/udpServer.js";
import {WorkerUdpEndpoint} from "../../src/camera/udpWorkerEndpoint.js";
import {Cmd} from "../../src/protocol/commands.js";
import {encodePacket} from "../../src/protocol/packet.js";
import {silentLogger} from "../../src/util/log.js";

interface Received {
    readonly data: Buffer;
    readonly address: string;
    readonly port: number;
}

interface Harness {
    readonly endpoint: UdpEndpoint;
    readonly received: Received[];
    readonly errors: Error[];
}

type Kind = "direct" | "worker";

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

function makeEndpoint(kind: Kind, extra: Partial<UdpEndpointOptions> = {}): Harness {
    const received: Received[] = [];
    const errors: Error[] = [];
    const handlers = {
        onDatagram: (datagram: Buffer, address: string, port: number) =>
            received.push({data: Buffer.from(datagram), address, port}),
        onError: (error: Error) => errors.push(error),
    };
    const options = {receiveBufferBytes: 1 << 20, ...extra};
    const endpoint =
        kind === "direct"
            ? new DirectUdpEndpoint(options, handlers, silentLogger)
            : new WorkerUdpEndpoint(options, handlers, silentLogger);
    cleanups.push(() => endpoint.close());
    return {endpoint, received, errors};
}

async function clientSocket(address = "127.0.0.1"): Promise<Socket> {
    const socket = createSocket("udp4");
    cleanups.push(() => new Promise<void>((resolve) => socket.close(() => resolve())));
    await new Promise<void>((resolve, reject) => {
        socket.once("error", reject);
        socket.bind(0, address, () => resolve());
    });
    return socket;
}

function sendTo(socket: Socket, data: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
        socket.send(data, port, "127.0.0.1", (error) => (error ? reject(error) : resolve())),
    );
}

function datagram(index: number, size = 64): Buffer {
    const data = Buffer.alloc(size, index & 0xff);
    data.writeUInt32LE(index, 0);
    return data;
}

describe.each<Kind>(["direct", "worker"])("%s UDP endpoint", (kind) => {
    it("delivers every datagram in order, with its source address and port, across many batches", async () => {
        const {endpoint, received} = makeEndpoint(kind);
        const {port} = await endpoint.bind("127.0.0.1", 0);
        const first = await clientSocket("127.0.0.1");
        const second = await clientSocket("127.0.0.2");
        const count = 400; // 400 × 1 KB: several size-triggered batches in the worker
        for (let index = 0; index < count; index += 1) {
            await sendTo(index % 2 === 0 ? first : second, datagram(index, 1024), port);
        }
        await vi.waitFor(() => expect(received).toHaveLength(count), {timeout: 5000});
        received.forEach((item, index) => {
            expect(item.data.readUInt32LE(0)).toBe(index);
            expect(item.data.length).toBe(1024);
            const from = index % 2 === 0 ? first : second;
            expect(`${item.address}:${item.port}`).toBe(`${from.address().address}:${from.address().port}`);
        });
    });

    it("passes a 60 000-byte datagram intact", async () => {
        const {endpoint, received} = makeEndpoint(kind);
        const {port} = await endpoint.bind("127.0.0.1", 0);
        const client = await clientSocket();
        const big = Buffer.alloc(60_000);
        for (let index = 0; index < big.length; index += 1) {
            big[index] = (index * 7) & 0xff;
        }
        await sendTo(client, big, port);
        await sendTo(client, datagram(1), port);
        await vi.waitFor(() => expect(received).toHaveLength(2));
        expect(received[0]?.data.equals(big)).toBe(true);
        expect(received[1]?.data.readUInt32LE(0)).toBe(1);
    });

    it("sends from the bound port, in order, including a burst made in one task", async () => {
        const {endpoint} = makeEndpoint(kind);
        const {port} = await endpoint.bind("127.0.0.1", 0);
        const peer = await clientSocket();
        const got: {data: Buffer; remote: RemoteInfo}[] = [];
        peer.on("message", (data, remote) => got.push({data, remote}));
        for (let index = 0; index < 100; index += 1) {
            endpoint.send(datagram(index, 200), peer.address().port, "127.0.0.1");
        }
        await vi.waitFor(() => expect(got).toHaveLength(100));
        got.forEach((item, index) => {
            expect(item.data.readUInt32LE(0)).toBe(index);
            expect(item.remote.port).toBe(port);
        });
    });

    it("rejects a port in use with the original error code", async () => {
        const {endpoint} = makeEndpoint(kind);
        const {port} = await endpoint.bind("127.0.0.1", 0);
        const {endpoint: other} = makeEndpoint(kind);
        await expect(other.bind("127.0.0.1", port)).rejects.toMatchObject({code: "EADDRINUSE"});
    });

    it("frees the port on close and delivers nothing after it", async () => {
        const {endpoint, received} = makeEndpoint(kind);
        const {port} = await endpoint.bind("127.0.0.1", 0);
        await endpoint.close();
        const replacement = createSocket("udp4");
        cleanups.push(() => new Promise<void>((resolve) => replacement.close(() => resolve())));
        await new Promise<void>((resolve, reject) => {
            replacement.once("error", reject);
            replacement.bind(port, "127.0.0.1", () => resolve());
        });
        const seen = new Promise<Buffer>((resolve) => replacement.once("message", resolve));
        const client = await clientSocket();
        await sendTo(client, datagram(7), port);
        expect((await seen).readUInt32LE(0)).toBe(7); // the new owner got it…
        expect(received).toHaveLength(0); // …the closed endpoint did not
        endpoint.send(datagram(8), port, "127.0.0.1"); // and sending after close is a no-op
    });
});

describe("worker UDP endpoint", () => {
    it("keeps naming sources right when the address table starts over", async () => {
        const {endpoint, received} = makeEndpoint("worker", {addressTableLimit: 2});
        const {port} = await endpoint.bind("127.0.0.1", 0);
        const clients: Socket[] = [];
        for (let index = 2; index < 8; index += 1) {
            clients.push(await clientSocket(`127.0.0.${index}`));
        }
        const expected: string[] = [];
        for (let round = 0; round < 3; round += 1) {
            for (const [index, client] of clients.entries()) {
                expected.push(`${client.address().address}:${client.address().port}`);
                await sendTo(client, datagram(round * 10 + index), port);
            }
        }
        await vi.waitFor(() => expect(received).toHaveLength(expected.length));
        expect(received.map((item) => `${item.address}:${item.port}`)).toEqual(expected);
    });

    it("drops and reports datagrams while the main thread is too far behind, and never queues more than the limit", async () => {
        const received: Buffer[] = [];
        let dropped = 0;
        const signal = new Int32Array(new SharedArrayBuffer(8)); // [0]: main is blocked, [1]: flood sent
        const endpoint = new WorkerUdpEndpoint(
            {receiveBufferBytes: 1 << 20, maxInFlightBytes: 4096},
            {
                onDatagram: (data) => {
                    received.push(Buffer.from(data));
                    if (received.length === 1) {
                        // a stalled event loop: block until the flood has been sent
                        Atomics.store(signal, 0, 1);
                        Atomics.notify(signal, 0);
                        Atomics.wait(signal, 1, 0, 10_000);
                    }
                },
                onError: () => undefined,
                onDroppedBehind: (count) => {
                    dropped += count;
                },
            },
            silentLogger,
        );
        cleanups.push(() => endpoint.close());
        const {port} = await endpoint.bind("127.0.0.1", 0);
        const flood = 300;
        // the flood comes from another thread, so it runs while this one is blocked
        const flooder = new Worker(
            `const {workerData} = require("node:worker_threads");
            const socket = require("node:dgram").createSocket("udp4");
            const signal = new Int32Array(workerData.signal);
            socket.send(Buffer.alloc(1024), workerData.port, "127.0.0.1", () => {
                Atomics.wait(signal, 0, 0, 10000);
                let sent = 0;
                const next = () => {
                    if (sent === workerData.flood) {
                        Atomics.store(signal, 1, 1);
                        Atomics.notify(signal, 1);
                        socket.close();
                        return;
                    }
                    sent += 1;
                    socket.send(Buffer.alloc(1024, 1), workerData.port, "127.0.0.1", next);
                };
                next();
            });`,
            {eval: true, workerData: {port, flood, signal: signal.buffer}},
        );
        cleanups.push(() => flooder.terminate().then(() => undefined));
        await vi.waitFor(() => expect(received.length + dropped).toBe(1 + flood), {timeout: 10_000});
        expect(dropped).toBeGreaterThan(flood / 2); // at most ~4 KiB of batches could wait for this thread
        expect(received.length).toBeGreaterThan(1); // and delivery resumed once it caught up
    });

    it("re-opens the same port after the worker dies", async () => {
        const received: Buffer[] = [];
        const endpoint = new WorkerUdpEndpoint(
            {receiveBufferBytes: 1 << 16},
            {onDatagram: (data) => received.push(Buffer.from(data)), onError: () => undefined},
            silentLogger,
        );
        cleanups.push(() => endpoint.close());
        const {port} = await endpoint.bind("127.0.0.1", 0);
        await endpoint.killWorkerForTesting();
        const client = await clientSocket();
        // until the restart (about a second), datagrams are refused; keep sending until one gets through
        await vi.waitFor(
            async () => {
                await sendTo(client, datagram(42), port).catch(() => undefined);
                expect(received.length).toBeGreaterThan(0);
            },
            {timeout: 5000, interval: 50},
        );
        expect(received[0]?.readUInt32LE(0)).toBe(42);
        expect(endpoint.restarts).toBe(1);
    });
});

describe("UdpServer with udp_worker auto", () => {
    it("moves a live socket to a worker at the threshold, same port, and keeps routing both ways", async () => {
        const server = new UdpServer(
            {udpReceiveBufferBytes: 1 << 20, udpWorker: "auto", udpWorkerAutoAt: 2},
            {probeTarget: () => undefined},
            new CameraCounters(),
            silentLogger,
        );
        cleanups.push(() => server.close());
        const {port} = await server.listen("127.0.0.1", 0);
        const media = (index: number): Buffer =>
            encodePacket({command: Cmd.jpeg, msgFlag: 251, packageId: index}, Buffer.from([index]));
        const peer = (): {readonly ids: number[]; readonly peer: UdpPeer} => {
            const ids: number[] = [];
            return {
                ids,
                peer: {
                    handleProbe: () => undefined,
                    handleMedia: (_command, _flag, packageId) => ids.push(packageId),
                    handleUdpHeartbeat: () => undefined,
                    handleUdpMessage: () => undefined,
                },
            };
        };
        const first = peer();
        const second = peer();
        const a = await clientSocket();
        const b = await clientSocket();
        server.bind(first.peer, "127.0.0.1", a.address().port);
        await sendTo(a, media(1), port);
        await vi.waitFor(() => expect(first.ids).toEqual([1]));
        expect([server.threaded, server.movingToWorker]).toEqual([false, false]); // one camera: stays

        server.bind(second.peer, "127.0.0.1", b.address().port);
        expect(server.movingToWorker).toBe(true); // the threshold starts the move at once
        await vi.waitFor(() => expect(server.threaded).toBe(true));
        expect(server.port).toBe(port);
        await sendTo(a, media(2), port);
        await sendTo(b, media(3), port);
        await vi.waitFor(() => expect([first.ids, second.ids]).toEqual([[1, 2], [3]]));
        const reply = new Promise<RemoteInfo>((resolve) => a.once("message", (_data, remote) => resolve(remote)));
        server.send(Buffer.from("605"), a.address().port, "127.0.0.1");
        expect((await reply).port).toBe(port); // sends still leave from the camera port
    });

    it("stays on the main thread with udp_worker false, whatever the number of cameras", async () => {
        const server = new UdpServer(
            {udpReceiveBufferBytes: 1 << 20, udpWorker: false, udpWorkerAutoAt: 1},
            {probeTarget: () => undefined},
            new CameraCounters(),
            silentLogger,
        );
        cleanups.push(() => server.close());
        await server.listen("127.0.0.1", 0);
        for (let index = 0; index < 3; index += 1) {
            server.bind(
                {
                    handleProbe: () => undefined,
                    handleMedia: () => undefined,
                    handleUdpHeartbeat: () => undefined,
                    handleUdpMessage: () => undefined,
                },
                "127.0.0.1",
                40_000 + index,
            );
        }
        expect([server.threaded, server.movingToWorker]).toEqual([false, false]);
    });
});
