/**
 * The simulated camera's MQTT leg writes exactly the bytes of the capture (issue 3 "Done when"):
 * CONNECT, SUBSCRIBE and the Status / Info PUBLISHes, checked against a raw TCP peer that plays the
 * broker, and against the pcapng itself when it is available.
 */
import {existsSync, readFileSync} from "node:fs";
import {createServer, type Server, type Socket} from "node:net";
import {fileURLToPath} from "node:url";
import {afterEach, describe, expect, it} from "vitest";
import {MqttDevice} from "../../src/simulator/mqttDevice.js";
import {
    CAPTURE_DEVICE_ID,
    CAPTURE_PASSWORD,
    CONNECT_BYTES,
    INFO_SD_PUBLISH_BYTES,
    STATUS_PUBLISH_BYTES,
    SUBSCRIBE_BYTES,
} from "../support/fixtures/mqttCapture.js";
import {readPcapngTcpSegments, reassembleTcpStreams} from "../support/pcapng.js";

const CONNACK = Buffer.from("20020000", "hex");
const SUBACK_QOS1 = Buffer.from("9003000101", "hex");

interface RawBroker {
    readonly port: number;
    readonly server: Server;
    /** Resolves with the first `length` bytes the client sent. */
    received(length: number): Promise<Buffer>;
}

/** Plays the broker of the capture: CONNACK after CONNECT, SUBACK (granted 1) after SUBSCRIBE. */
async function startRawBroker(): Promise<RawBroker> {
    let bytes = Buffer.alloc(0);
    const waiters = new Set<() => void>();
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
        sockets.add(socket);
        socket.on("error", () => undefined);
        let connAcked = false;
        let subAcked = false;
        socket.on("data", (chunk) => {
            bytes = Buffer.concat([bytes, chunk]);
            if (!connAcked && bytes.length >= CONNECT_BYTES.length) {
                connAcked = true;
                socket.write(CONNACK);
            }
            if (!subAcked && bytes.length >= CONNECT_BYTES.length + SUBSCRIBE_BYTES.length) {
                subAcked = true;
                socket.write(SUBACK_QOS1);
            }
            for (const waiter of waiters) {
                waiter();
            }
        });
    });
    server.on("close", () => {
        for (const socket of sockets) {
            socket.destroy();
        }
    });
    await new Promise<void>((resolve) => {
        server.listen(0, "127.0.0.1", () => {
            resolve();
        });
    });
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    return {
        port,
        server,
        received: (length) =>
            new Promise<Buffer>((resolve) => {
                const check = (): void => {
                    if (bytes.length >= length) {
                        waiters.delete(check);
                        resolve(bytes.subarray(0, length));
                    }
                };
                waiters.add(check);
                check();
            }),
    };
}

describe("simulated camera MQTT leg", () => {
    let device: MqttDevice | undefined;
    let broker: RawBroker | undefined;

    afterEach(async () => {
        await device?.stop();
        for (const socket of [broker?.server]) {
            socket?.close();
        }
    });

    it("writes CONNECT, SUBSCRIBE, Status and Info exactly as the capture (frames 45, 48, 50, 58)", async () => {
        broker = await startRawBroker();
        device = new MqttDevice({
            url: `mqtt://127.0.0.1:${broker.port}`,
            deviceId: CAPTURE_DEVICE_ID,
            password: CAPTURE_PASSWORD,
            wifiName: "intl-laptop",
            firmware: "202212011602",
            infoDelayMs: 0,
            nonce: () => ({random: "HIJKLM", token: "f8c7a5810f"}),
        });
        const expected = Buffer.concat([CONNECT_BYTES, SUBSCRIBE_BYTES, STATUS_PUBLISH_BYTES, INFO_SD_PUBLISH_BYTES]);
        const started = device.start();
        const sent = await broker.received(expected.length);
        await started;
        expect(sent.subarray(0, CONNECT_BYTES.length).toString("hex")).toBe(CONNECT_BYTES.toString("hex"));
        expect(sent.toString("hex")).toBe(expected.toString("hex"));
    });

    const capturePath = fileURLToPath(new URL("../../../shared/fake-server-cap.pcapng", import.meta.url));
    it.skipIf(!existsSync(capturePath))(
        "matches the camera→1883 stream of the real pcapng (skipped when ../shared/fake-server-cap.pcapng is absent)",
        async () => {
            const stream = reassembleTcpStreams(readPcapngTcpSegments(readFileSync(capturePath))).find(
                (s) => s.dstPort === 1883,
            );
            expect(stream).toBeDefined();
            broker = await startRawBroker();
            device = new MqttDevice({
                url: `mqtt://127.0.0.1:${broker.port}`,
                deviceId: CAPTURE_DEVICE_ID,
                password: CAPTURE_PASSWORD,
                infoDelayMs: 60_000,
            });
            const prefixLength = CONNECT_BYTES.length + SUBSCRIBE_BYTES.length + STATUS_PUBLISH_BYTES.length;
            const started = device.start();
            const sent = await broker.received(prefixLength);
            await started;
            expect(sent.toString("hex")).toBe(stream?.bytes.subarray(0, prefixLength).toString("hex"));
        },
    );
});
