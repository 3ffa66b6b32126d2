/**
 * ApClient and the AP-mode simulator below the CLI: heartbeats, interrupting a download, the live stream
 * over TCP (§11.2) and the simulator's own fault handling.
 */
import {once} from "node:events";
import {mkdtempSync, readFileSync, rmSync} from "node:fs";
import {connect, type Socket} from "node:net";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterAll, afterEach, describe, expect, it} from "vitest";
import {ApClient} from "../../src/ap/apClient.js";
import {runSdCommand} from "../../src/ap/apCommands.js";
import {ApCode, buildApCommand, buildSdFileRequest} from "../../src/protocol/apMessages.js";
import {Cmd, ContentCode} from "../../src/protocol/commands.js";
import {encodeConfirm} from "../../src/protocol/confirm.js";
import {decodeJson, encodeJsonPacket} from "../../src/protocol/messages.js";
import {encodePacket, type Packet} from "../../src/protocol/packet.js";
import {TcpFramer} from "../../src/protocol/tcpFramer.js";
import {ApCamera, syntheticAviBytes} from "../../src/simulator/apCamera.js";
import {readSimFrameCounter} from "../../src/simulator/syntheticJpeg.js";

const cameras: ApCamera[] = [];
const sockets: Socket[] = [];
const dirs: string[] = [];

afterEach(async () => {
    for (const socket of sockets.splice(0)) {
        socket.destroy();
    }
    await Promise.all(cameras.splice(0).map((camera) => camera.stop()));
});

afterAll(() => {
    for (const dir of dirs.splice(0)) {
        rmSync(dir, {recursive: true, force: true});
    }
});

async function startCamera(camera: ApCamera): Promise<number> {
    cameras.push(camera);
    return await camera.start();
}

/** A raw client socket that collects framed packets. */
async function rawClient(
    port: number,
): Promise<{socket: Socket; packets: Packet[]; next: (cmd: number) => Promise<Packet>}> {
    const socket = connect({host: "127.0.0.1", port});
    sockets.push(socket);
    socket.on("error", () => undefined);
    await once(socket, "connect");
    const framer = new TcpFramer();
    const packets: Packet[] = [];
    const waiters: {cmd: number; resolve: (packet: Packet) => void}[] = [];
    socket.on("data", (chunk: Buffer) => {
        for (const packet of framer.push(chunk)) {
            packets.push(packet);
            const index = waiters.findIndex((waiter) => waiter.cmd === packet.header.command);
            if (index >= 0) {
                waiters.splice(index, 1)[0]?.resolve(packet);
            }
        }
    });
    const next = (cmd: number): Promise<Packet> => new Promise((resolve) => waiters.push({cmd, resolve}));
    return {socket, packets, next};
}

describe("ApClient", () => {
    it("sends a cmd 100 heartbeat after the idle time and the simulator answers it", async () => {
        const camera = new ApCamera();
        const port = await startCamera(camera);
        const client = await ApClient.connect({
            host: "127.0.0.1",
            port,
            connectTimeoutMs: 2000,
            replyTimeoutMs: 2000,
            heartbeatIdleMs: 50,
        });
        await client.openSession("token", 1_675_206_015);
        await expect.poll(() => camera.stats.heartbeatsReceived).toBeGreaterThanOrEqual(2);
        expect(client.stats.heartbeatsSent).toBeGreaterThanOrEqual(2);
        expect(camera.lastUnixTimer).toBe(1_675_206_015);
        await client.close();
    });

    it("returns 'unconfirmed' for a 204 the camera never answers, and a rejected step names itself", async () => {
        const camera = new ApCamera({faults: {silentFrom: "502"}});
        const port = await startCamera(camera);
        const client = await ApClient.connect({host: "127.0.0.1", port, connectTimeoutMs: 2000, replyTimeoutMs: 200});
        await client.openSession("token", 1);
        expect(await client.setWifi("Home", "12345678")).toBe("unconfirmed");
        expect(await client.sdCardStatus()).toBeUndefined();
        await client.close();
    });
});

describe("sd download interrupted", () => {
    it("exits 130 and keeps FILE.part when the signal aborts", async () => {
        const key = {date: 20230123, hours: 2, minute: 5};
        const camera = new ApCamera({
            recordings: [{...key, bytes: syntheticAviBytes(key, 30_000)}],
            faults: {stallDownloadAfterBytes: 10_000},
        });
        const port = await startCamera(camera);
        const dir = mkdtempSync(join(tmpdir(), "v720-ap-"));
        dirs.push(dir);
        const file = join(dir, "x.avi");
        const controller = new AbortController();
        let err = "";
        const code = await runSdCommand(["download", "20230123-02-05", "-o", file, "--camera", `127.0.0.1:${port}`], {
            stdout: {write: () => true},
            stderr: {
                write: (text: string) => {
                    err += text;
                    if (text.includes("30%")) {
                        controller.abort(); // at 30 %; the camera would stall at 10 000 of 30 000 bytes anyway
                    }
                    return true;
                },
            },
            signal: controller.signal,
        });
        expect(code).toBe(130);
        expect(err).toMatch(/v720-bridge sd: interrupted\. The [\d.]+ KiB received so far are in .*x\.avi\.part/);
        const part = readFileSync(`${file}.part`);
        expect(part.length).toBeGreaterThanOrEqual(30_000 * 0.3);
        expect(part.equals(syntheticAviBytes(key, 30_000).subarray(0, part.length))).toBe(true);
    });
});

describe("AP simulator live view (§11.2)", () => {
    it("streams JPEG fragments on TCP after 502 {3}, stalls without 605 and stops on 502 {0}", async () => {
        const camera = new ApCamera({fps: 20, stallAfterMs: 300});
        const port = await startCamera(camera);
        const {socket, packets, next} = await rawClient(port);
        socket.write(encodeJsonPacket(buildApCommand({code: ContentCode.openAudioOpenVideo})));
        const reply = await next(Cmd.json);
        expect(decodeJson(reply.payload)).toStrictEqual({code: 502, content: {code: 3}});
        const first = await next(Cmd.jpeg);
        socket.write(encodeConfirm([first.header.packageId]));
        await expect.poll(() => camera.stats.framesSent, {timeout: 5000}).toBeGreaterThanOrEqual(3);
        // Frames are real JPEGs with increasing counters: reassemble the first whole one.
        const jpegPayloads = packets.filter((packet) => packet.header.command === Cmd.jpeg);
        const head = jpegPayloads.findIndex((packet) => packet.header.msgFlag === 250 || packet.header.msgFlag === 255);
        const frame: Buffer[] = [];
        for (const packet of jpegPayloads.slice(head)) {
            frame.push(packet.payload);
            if (packet.header.msgFlag === 252 || packet.header.msgFlag === 255) {
                break;
            }
        }
        const joined = Buffer.concat(frame);
        const jpeg = joined.subarray(0, joined.length - 5);
        expect(jpeg.subarray(0, 2).toString("hex")).toBe("ffd8");
        expect(readSimFrameCounter(jpeg)).toBe(0);
        // No more confirms: the camera stalls, and sends nothing more until a 605 comes.
        await once(camera, "liveStalled");
        const sentAtStall = camera.stats.framesSent;
        socket.write(encodeConfirm([]));
        await expect.poll(() => camera.stats.framesSent, {timeout: 5000}).toBeGreaterThan(sentAtStall);
        socket.write(encodeJsonPacket(buildApCommand({code: ContentCode.closeAudioCloseVideo})));
        await expect
            .poll(() =>
                packets.some((packet) => packet.header.command === Cmd.json && packet.payload.includes('"code": 0')),
            )
            .toBe(true);
    });

    it("answers 502 {4} with base info, 408 with 409, 412 with 413 and cmd 114 with the device id", async () => {
        const camera = new ApCamera({id: "0800c0ABCDEF", firmware: "202509111709"});
        const port = await startCamera(camera);
        const {socket, next} = await rawClient(port);
        const ask = async (bytes: Buffer): Promise<unknown> => {
            const reply = next(Cmd.json);
            socket.write(bytes);
            return decodeJson((await reply).payload);
        };
        expect(await ask(encodeJsonPacket(buildApCommand({code: ContentCode.baseInfo, unixTimer: 1})))).toMatchObject({
            code: 502,
            content: {code: 4, version: "202509111709", sdDevStatus: 1},
        });
        const key = {date: 20230123, hours: 2, minute: 5};
        expect(await ask(encodeJsonPacket(buildSdFileRequest(ApCode.sdStop, key)))).toStrictEqual({
            code: 409,
            status: 200,
        });
        expect(await ask(encodeJsonPacket(buildSdFileRequest(ApCode.sdDelete, key)))).toStrictEqual({
            code: 413,
            status: 200,
        });
        expect(await ask(encodePacket({command: Cmd.directMotion}))).toStrictEqual({code: 114, devId: "0800c0ABCDEF"});
        expect(camera.recording(key)).toBeDefined(); // 412 has no effect, as on firmware 202509111709
    });

    it("closes a connection whose framing is lost and keeps serving others", async () => {
        const camera = new ApCamera();
        const port = await startCamera(camera);
        const bad = await rawClient(port);
        const header = Buffer.alloc(20);
        header.writeUInt32LE(0xffff_fff0, 0); // payload length far above the cap
        bad.socket.write(header);
        await once(bad.socket, "close");
        expect(camera.stats.badInput).toBe(1);
        const good = await ApClient.connect({host: "127.0.0.1", port, connectTimeoutMs: 2000, replyTimeoutMs: 2000});
        await good.openSession("token", 1);
        expect(await good.listDates()).toStrictEqual([20230123, 20230124]);
        await good.close();
    });
});
