import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {CaptureHub} from "../../../src/capture/captureHub.js";
import {httpResponseRecord, mqttRecord, packetRecord, payloadJson} from "../../../src/capture/captureRecords.js";
import type {CapturedHeader, CaptureSink} from "../../../src/model/captureTap.js";
import {decodeHeader} from "../../../src/protocol/header.js";
import {encodeJsonPacket} from "../../../src/protocol/messages.js";
import {encodePacket} from "../../../src/protocol/packet.js";

const CAMERA = "0800c00128F8";
const PEER = {address: "10.42.0.22", port: 64365};
const T0 = Date.UTC(2025, 0, 1);

class LineSink implements CaptureSink {
    readonly lines: string[] = [];
    ended: string | undefined;
    write(line: string): void {
        this.lines.push(line);
    }
    end(reason: string): void {
        this.ended = reason;
    }
    get records(): Record<string, unknown>[] {
        return this.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    }
}

function header(command: number, overrides: Partial<CapturedHeader> = {}): CapturedHeader {
    return {payloadLength: 0, command, msgFlag: 0, dealFlag: 0, forwardId: "\0".repeat(8), packageId: 0, ...overrides};
}

function json(message: Record<string, unknown> & {code: number}): {header: CapturedHeader; payload: Buffer} {
    const packet = encodeJsonPacket(message);
    return {header: decodeHeader(packet), payload: packet.subarray(20)};
}

let nowMs = T0;
beforeEach(() => {
    vi.useFakeTimers();
    nowMs = T0;
});
afterEach(() => {
    vi.useRealTimers();
});

function hub(options: ConstructorParameters<typeof CaptureHub>[0] = {}): CaptureHub {
    return new CaptureHub({nowMs: () => nowMs, ...options});
}

describe("CaptureHub", () => {
    it("is inactive until a capture starts and inactive again after it ends", () => {
        const capture = hub();
        expect(capture.isActive).toBe(false);
        const handle = capture.start(CAMERA, new LineSink(), {durationMs: 60_000});
        expect([capture.isActive, capture.isCapturing(CAMERA), capture.isCapturing("other")]).toStrictEqual([
            true,
            true,
            false,
        ]);
        handle.stop("done");
        expect(capture.isActive).toBe(false);
    });

    it("writes a start line, the camera's traffic and an end line with the record count", () => {
        const capture = hub({describe: () => ({online: true, baseInfo: {code: 4, pwd: "x"}})});
        const sink = new LineSink();
        const handle = capture.start(CAMERA, sink, {durationMs: 30_000});
        const register = json({code: 100, uid: CAMERA, token: "91edf41f", domain: "v720.naxclow.com"});
        capture.packet("tcp", "in", CAMERA, PEER, register.header, register.payload);
        const other = json({code: 100, uid: "0800c0000001", token: "x", domain: "d"});
        capture.packet("tcp", "in", "0800c0000001", PEER, other.header, other.payload); // another camera
        handle.stop("client went away");
        const records = sink.records;
        expect(records.map((record) => [record["proto"], record["event"] ?? record["dir"]])).toStrictEqual([
            ["capture", "start"],
            ["tcp", "in"],
            ["capture", "end"],
        ]);
        expect(records[0]).toMatchObject({
            t: "2025-01-01T00:00:00.000Z",
            camera: CAMERA,
            seconds: 30,
            family: "classic",
            model: "A9-4",
            mqttRecorded: false,
            state: {online: true, baseInfo: {code: 4, pwd: "<redacted>"}},
        });
        expect(records[1]).toMatchObject({
            json: {code: 100, uid: CAMERA, token: "<redacted>"},
            peer: "10.42.0.22:64365",
        });
        expect(records[2]).toMatchObject({event: "end", reason: "client went away", records: 2});
        expect(sink.ended).toBe("client went away");
        expect(sink.lines.join("\n")).not.toContain("91edf41f");
    });

    it("ends a capture when its time is up", () => {
        const capture = hub();
        const sink = new LineSink();
        capture.start(CAMERA, sink, {durationMs: 5000});
        vi.advanceTimersByTime(4999);
        expect(sink.ended).toBeUndefined();
        vi.advanceTimersByTime(1);
        expect(sink.ended).toBe("time is up");
        expect(capture.isActive).toBe(false);
    });

    it("attributes UDP code 20 by IP and code 51 by devTarget when the producer names no camera", () => {
        const capture = hub({addressesOf: () => ["10.42.0.22"]});
        const sink = new LineSink();
        capture.start(CAMERA, sink, {durationMs: 60_000});
        const code20 = json({code: 20});
        capture.packet("udp", "in", undefined, {address: "10.42.0.22", port: 5000}, code20.header, code20.payload);
        capture.packet("udp", "in", undefined, {address: "10.42.0.99", port: 5000}, code20.header, code20.payload);
        const code51 = json({code: 51, devTarget: CAMERA, status: 200});
        capture.packet("udp", "in", undefined, {address: "10.42.0.99", port: 5001}, code51.header, code51.payload);
        expect(
            sink.records.slice(1).map((record) => [record["peer"], (record["json"] as {code: number}).code]),
        ).toStrictEqual([
            ["10.42.0.22:5000", 20],
            ["10.42.0.99:5001", 51],
        ]);
    });

    it("learns the camera's address from its TCP session and HTTP requests", () => {
        const capture = hub();
        const sink = new LineSink();
        capture.start(CAMERA, sink, {durationMs: 60_000});
        const heartbeat = header(100);
        capture.packet("tcp", "in", CAMERA, {address: "10.0.0.5", port: 4000}, heartbeat, Buffer.alloc(0));
        capture.http({
            deviceId: undefined,
            remoteAddress: "10.0.0.5",
            method: "GET",
            url: "/x",
            rawHeaders: ["Host", "logo.naxclow.com.cn"],
            requestBody: undefined,
            requestBodyBytes: 0,
            status: 200,
            responseHeaders: [["Content-Length", "2"]],
            responseBody: Buffer.from("{}"),
        });
        expect(sink.records.slice(1).map((record) => `${record["proto"]} ${record["dir"]}`)).toStrictEqual([
            "tcp in",
            "http in",
            "http out",
        ]);
    });

    it("records the first media packets in full, then one summary per interval, and flushes at the end", () => {
        const capture = hub({detailedMediaPackets: 2, summaryIntervalMs: 1000});
        const sink = new LineSink();
        const handle = capture.start(CAMERA, sink, {durationMs: 60_000});
        for (let index = 0; index < 30; index += 1) {
            const flag = index % 3 === 0 ? 250 : 251;
            capture.packet(
                "udp",
                "in",
                CAMERA,
                PEER,
                header(1, {payloadLength: 1000, msgFlag: flag, packageId: 100 + index}),
                Buffer.alloc(1000, 0xff),
            );
            nowMs += 50; // 20 packets a second
        }
        handle.stop("done");
        const records = sink.records.slice(1, -1);
        expect(records.filter((record) => record["header"] !== undefined)).toHaveLength(2);
        const summaries = records.filter((record) => record["summary"] !== undefined);
        expect(summaries.map((record) => record["summary"])).toStrictEqual([
            {cmd: 1, packets: 21, bytes: 21_000, firstPkgId: 102, lastPkgId: 122, frameHeads: 7, periodMs: 1000},
            {cmd: 1, packets: 7, bytes: 7000, firstPkgId: 123, lastPkgId: 129, frameHeads: 2, periodMs: 350},
        ]);
        expect(sink.lines.reduce((sum, line) => sum + line.length, 0)).toBeLessThan(3000);
    });

    it("sends every record to every capture of the camera and survives a throwing sink", () => {
        const capture = hub();
        const first = new LineSink();
        const broken: CaptureSink = {
            write: () => {
                throw new Error("sink bug");
            },
            end: () => undefined,
        };
        capture.start(CAMERA, first, {durationMs: 60_000});
        capture.start(CAMERA, broken, {durationMs: 60_000});
        capture.mqtt(CAMERA, "in", {
            kind: "publish",
            topic: "Naxclow/P2P/Users/Device/Status",
            payload: '{"status":1}',
        });
        expect(first.records.at(-1)).toMatchObject({proto: "mqtt", packet: "publish", json: {status: 1}});
        capture.stopAll("server stopping");
        expect(first.ended).toBe("server stopping");
        expect(capture.isActive).toBe(false);
    });
});

describe("capture records", () => {
    it("shows a JSON payload parsed as UTF-8 with replacement, and non-JSON as redacted text", () => {
        const bytes = Buffer.concat([
            Buffer.from('{"code": 4, "wifiName": "Caf'),
            Buffer.from([0xe9]),
            Buffer.from('"}'),
        ]);
        expect(payloadJson(bytes)).toStrictEqual({json: {code: 4, wifiName: "Caf\uFFFD"}});
        expect(payloadJson('{"code": 204, "p": "hunter2", }')).toStrictEqual({
            text: '{"code": 204, "p": "<redacted>", }',
            error: "not valid JSON",
        });
    });

    it("describes a packet header and a binary payload preview", () => {
        const packet = encodePacket({command: 1, msgFlag: 250, packageId: 2802}, Buffer.alloc(40, 0xab));
        const record = packetRecord(T0, CAMERA, "udp", "in", PEER, decodeHeader(packet), packet.subarray(20));
        expect(record).toStrictEqual({
            t: "2025-01-01T00:00:00.000Z",
            camera: CAMERA,
            proto: "udp",
            dir: "in",
            peer: "10.42.0.22:64365",
            header: {len: 40, cmd: 1, msgFlag: 250, dealFlag: 0, forwardId: "3030303030303030", pkgId: 2802},
            hex: `${"ab".repeat(32)}…`,
        });
    });

    it("redacts pwd in an HTTP reply body", () => {
        const body = Buffer.from('{"code":200,"data":{"pwd":"91edf41f","host":"10.0.0.1"}}');
        expect(httpResponseRecord(T0, CAMERA, 200, [["Content-Length", String(body.length)]], body)).toMatchObject({
            status: 200,
            body: {code: 200, data: {pwd: "<redacted>", host: "10.0.0.1"}},
        });
    });

    it("never shows the MQTT CONNECT password", () => {
        const record = mqttRecord(T0, CAMERA, "in", {
            kind: "connect",
            clientId: CAMERA,
            username: CAMERA,
            password: '"656f41d93b"',
            keepaliveS: 10,
            will: {
                topic: "Naxclow/P2P/Users/Device/Status",
                payload: `{"device":"${CAMERA}","token":"NAXCLOW","status": 0}`,
            },
        });
        expect(JSON.stringify(record)).not.toContain("656f41d93b");
        expect(JSON.stringify(record)).not.toContain("NAXCLOW");
        expect(record).toMatchObject({packet: "connect", password: "<redacted>", keepaliveS: 10});
    });
});
