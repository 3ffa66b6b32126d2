import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {CameraCounters} from "../../../src/camera/cameraCounters.js";
import {CameraSession, type CameraSessionOptions} from "../../../src/camera/cameraSession.js";
import {SessionTicker} from "../../../src/camera/sessionTicker.js";
import {Cmd, MsgFlag} from "../../../src/protocol/commands.js";
import {encodeJpegFragments} from "../../../src/protocol/jpegFragments.js";
import {decodeJson, localUnixTimer} from "../../../src/protocol/messages.js";
import {decodeDatagram, encodePacket} from "../../../src/protocol/packet.js";
import {silentLogger} from "../../../src/util/log.js";
import {syntheticJpeg} from "../../support/fixtures/syntheticJpeg.js";
import {FakeLink, FakeSink, FakeUdp} from "./fakes.js";

const OPTIONS: CameraSessionOptions = {stallTimeoutMs: 5000, stopGraceMs: 3000};
const UID = "0800c00128F8";
const CAMERA_UDP = {address: "10.0.0.50", port: 43258};

function setup(options: CameraSessionOptions = OPTIONS, ticker = new SessionTicker(silentLogger)) {
    const link = new FakeLink();
    const udp = new FakeUdp(6123);
    const sink = new FakeSink();
    const counters = new CameraCounters();
    const session = new CameraSession(UID, {link, udp, ticker, sink, counters}, options, silentLogger);
    return {link, udp, sink, counters, session, ticker};
}

type Setup = ReturnType<typeof setup>;

/** Consumer arrives, camera answers 12 and 51: the session has sent 11, 53, 298, 4, 3. */
function startStreaming(s: Setup): void {
    s.session.setWanted(true);
    s.session.handleMessage({
        code: 12,
        status: 200,
        devIp: CAMERA_UDP.address,
        devPort: CAMERA_UDP.port,
        devNatIp: "192.168.1.50",
        devNatPort: CAMERA_UDP.port,
        cliTarget: s.session.cliTarget,
        cliToken: s.session.cliToken,
    });
    s.session.handleProbe(200, CAMERA_UDP.address, CAMERA_UDP.port);
    s.link.take();
}

function sendFrame(s: Setup, counter: number, firstId: number, length = 3000): Buffer {
    const jpeg = syntheticJpeg(counter, length);
    for (const datagram of encodeJpegFragments(jpeg, firstId)) {
        const packet = decodeDatagram(datagram);
        s.session.handleMedia(packet.header.command, packet.header.msgFlag, packet.header.packageId, packet.payload);
    }
    return jpeg;
}

function sendAudio(s: Setup, packageId: number, command: number = Cmd.g711, data = Buffer.alloc(160, 0xd5)): void {
    const packet = decodeDatagram(encodePacket({command, msgFlag: MsgFlag.whole, packageId}, data));
    s.session.handleMedia(packet.header.command, packet.header.msgFlag, packet.header.packageId, packet.payload);
}

beforeEach(() => {
    vi.useFakeTimers({now: new Date("2025-06-01T12:00:00Z")});
});
afterEach(() => {
    vi.useRealTimers();
});

describe("CameraSession handshake (protocol-notes.md §8.3)", () => {
    it("sends nothing until a consumer wants video", () => {
        const s = setup();
        vi.advanceTimersByTime(60_000);
        expect(s.link.sent).toHaveLength(0);
        expect(s.session.streamState).toBe("idle");
    });

    it("sends code 11 with its client id, token, local address and UDP port when the first consumer arrives", () => {
        const s = setup();
        s.session.setWanted(true);
        const sent = s.link.take();
        expect(sent).toStrictEqual([
            {
                code: 11,
                cliTarget: s.session.cliTarget,
                cliToken: s.session.cliToken,
                cliIp: "10.0.0.1",
                cliPort: 6123,
                cliNatIp: "10.0.0.1",
                cliNatPort: 6123,
            },
        ]);
        expect(s.session.cliTarget).toMatch(/^[0-9a-f]{32}$/);
        expect(s.session.cliToken).toHaveLength(8);
        expect(s.session.streamState).toBe("starting");
    });

    it("uses advertiseHost in code 11 when configured", () => {
        const s = setup({...OPTIONS, advertiseHost: "192.168.1.2"});
        s.session.setWanted(true);
        expect(s.link.take()[0]).toMatchObject({cliIp: "192.168.1.2", cliNatIp: "192.168.1.2"});
    });

    it("answers the first 51 with status 200 with 53, 301{298}, 301{4 local unixTimer}, 301{3} without waiting for a 4 reply", () => {
        const s = setup();
        s.session.setWanted(true);
        s.link.take();
        s.session.handleMessage({
            code: 12,
            status: 200,
            devIp: "10.0.0.50",
            devPort: 43258,
            devNatIp: "192.168.1.50",
            devNatPort: 43258,
            cliTarget: s.session.cliTarget,
            cliToken: s.session.cliToken,
        });
        expect(s.link.take()).toStrictEqual([]);
        expect(s.session.devNat).toStrictEqual({ip: "192.168.1.50", port: 43258});
        s.session.handleProbe(200, "10.0.0.50", 43258);
        const nowMs = Date.now();
        const target = s.session.cliTarget;
        expect(s.link.take()).toStrictEqual([
            {code: 53, status: 1},
            {code: 301, target, content: {code: 298}},
            {
                code: 301,
                target,
                content: {code: 4, unixTimer: localUnixTimer(nowMs, new Date(nowMs).getTimezoneOffset())},
            },
            {code: 301, target, content: {code: 3}},
        ]);
        expect(s.session.udpSource).toBe("10.0.0.50:43258");
    });

    it("does not proceed on a 51 with another status, and proceeds only once", () => {
        const s = setup();
        s.session.setWanted(true);
        s.link.take();
        s.session.handleProbe(500, "10.0.0.50", 43258);
        expect(s.link.take()).toStrictEqual([]);
        s.session.handleProbe(200, "10.0.0.50", 43258);
        expect(s.link.take()).toHaveLength(4);
        s.session.handleProbe(200, "10.0.0.50", 43258);
        expect(s.link.take()).toStrictEqual([]);
    });

    it("binds the source of a 51 that arrives while idle but starts nothing", () => {
        const s = setup();
        s.session.handleProbe(200, "10.0.0.50", 43258);
        expect(s.link.sent).toHaveLength(0);
        expect(s.session.udpSource).toBe("10.0.0.50:43258");
    });

    it("keeps the code 4 reply as base info and reports every 301 content", () => {
        const s = setup();
        startStreaming(s);
        const content = {code: 4, devPower: 100, wifiName: "x", version: "202212011602"};
        s.session.handleMessage({code: 301, target: s.session.cliTarget, content});
        s.session.handleMessage({code: 301, target: s.session.cliTarget, content: {code: 3}});
        expect(s.sink.baseInfos).toStrictEqual([content]);
        expect(s.sink.forwards).toStrictEqual([content, {code: 3}]);
    });

    it("drops an unusable 12 or 301 with a count, without throwing", () => {
        const s = setup();
        startStreaming(s);
        s.session.handleMessage({code: 12, status: "x"});
        s.session.handleMessage({code: 301, content: "nope"});
        expect(s.counters.badTcpMessages).toBe(2);
        expect(s.sink.forwards).toStrictEqual([]);
    });

    it("sends a 301 forward with the session's client id as target", () => {
        const s = setup();
        expect(s.session.sendForward({code: 216, mirrorFlip: 4})).toBe(true);
        expect(s.link.take()).toStrictEqual([
            {code: 301, target: s.session.cliTarget, content: {code: 216, mirrorFlip: 4}},
        ]);
    });
});

describe("CameraSession media and 605 confirms (protocol-notes.md §9)", () => {
    it("delivers a frame byte-identical and confirms its ids at once to the bound source", () => {
        const s = setup();
        startStreaming(s);
        const jpeg = sendFrame(s, 1, 2802, 25_775);
        expect(s.sink.frames).toHaveLength(1);
        expect(s.sink.frames[0]?.jpeg.equals(jpeg)).toBe(true);
        const expectedIds = Array.from({length: 26}, (_, index) => 2802 + index);
        expect(s.udp.confirms()).toStrictEqual([expectedIds]);
        expect(s.udp.sent[0]).toMatchObject({port: CAMERA_UDP.port, address: CAMERA_UDP.address});
        expect(s.session.streamState).toBe("streaming");
        expect(s.sink.states).toStrictEqual(["starting", "streaming"]);
    });

    it("adds pending audio ids to the frame confirm and delivers A-law with the trailer cut", () => {
        const s = setup();
        startStreaming(s);
        const samples = Buffer.alloc(160, 0x55);
        const trailer = Buffer.alloc(5);
        trailer.writeUInt32LE(160, 1);
        sendAudio(s, 100, Cmd.g711, Buffer.concat([samples, trailer]));
        sendFrame(s, 1, 101, 1500);
        expect(s.udp.confirms()).toStrictEqual([[101, 102, 100]]);
        expect(s.sink.audio).toStrictEqual([{codec: "alaw", data: samples}]);
    });

    it("flushes pending ids (video and audio) on the 100 ms tick", () => {
        const s = setup();
        startStreaming(s);
        sendAudio(s, 7);
        const [head] = encodeJpegFragments(syntheticJpeg(1, 3000), 8);
        const packet = decodeDatagram(head!);
        s.session.handleMedia(packet.header.command, packet.header.msgFlag, packet.header.packageId, packet.payload);
        expect(s.udp.confirms()).toStrictEqual([]);
        vi.advanceTimersByTime(100);
        expect(s.udp.confirms()).toStrictEqual([[8, 7]]);
        vi.advanceTimersByTime(100);
        expect(s.udp.confirms()).toHaveLength(1);
    });

    it("tolerates cmd 6 PCM: delivered as pcm_s16le, never confirmed", () => {
        const s = setup();
        startStreaming(s);
        for (let id = 1; id <= 50; id++) {
            sendAudio(s, id, Cmd.pcm, Buffer.alloc(320, id));
        }
        vi.advanceTimersByTime(100);
        expect(s.sink.audio).toHaveLength(50);
        expect(s.sink.audio[0]?.codec).toBe("pcm_s16le");
        expect(s.udp.confirms().flat()).toStrictEqual([]);
        expect(s.counters.pcmChunks).toBe(50);
    });

    it("sends an empty 605 at most every 500 ms while streaming and idle of media", () => {
        const s = setup();
        startStreaming(s);
        vi.advanceTimersByTime(499);
        expect(s.udp.confirms()).toStrictEqual([]);
        vi.advanceTimersByTime(1);
        expect(s.udp.confirms()).toStrictEqual([[]]);
        vi.advanceTimersByTime(1000);
        expect(s.udp.confirms()).toStrictEqual([[], [], []]);
        const confirms = s.udp.sent.filter((datagram) => datagram.header.command === Cmd.confirm);
        expect(confirms.every((datagram) => datagram.packet.length === 20)).toBe(true);
    });

    it("does not send an empty 605 while frames keep the confirms flowing", () => {
        const s = setup();
        startStreaming(s);
        for (let index = 0; index < 20; index++) {
            sendFrame(s, index, 1000 + index * 10, 2000);
            vi.advanceTimersByTime(100);
        }
        expect(s.udp.confirms().filter((ids) => ids.length === 0)).toStrictEqual([]);
        expect(s.udp.confirms()).toHaveLength(20);
    });

    it("splits a flood of pending ids into confirms of at most 1000 ids", () => {
        const s = setup();
        startStreaming(s);
        for (let id = 0; id < 2500; id++) {
            const packet = decodeDatagram(encodePacket({command: Cmd.jpeg, msgFlag: MsgFlag.body, packageId: id}));
            s.session.handleMedia(
                packet.header.command,
                packet.header.msgFlag,
                packet.header.packageId,
                packet.payload,
            );
        }
        vi.advanceTimersByTime(100);
        const confirms = s.udp.confirms();
        expect(confirms.every((ids) => ids.length <= 1000)).toBe(true);
        expect(confirms.flat()).toHaveLength(2500);
    });

    it("counts frames dropped by the assembler", () => {
        const s = setup();
        startStreaming(s);
        const fragments = encodeJpegFragments(syntheticJpeg(1, 3000), 10);
        for (const datagram of fragments.slice(0, 2)) {
            const packet = decodeDatagram(datagram);
            s.session.handleMedia(
                packet.header.command,
                packet.header.msgFlag,
                packet.header.packageId,
                packet.payload,
            );
        }
        sendFrame(s, 2, 20, 3000); // a new HEAD supersedes the unfinished frame
        expect(s.sink.framesDropped).toBe(1);
        expect(s.counters.framesDropped).toBe(1);
        expect(s.sink.frames).toHaveLength(1);
    });

    it("uses one shared ticker interval for all streaming sessions", () => {
        const ticker = new SessionTicker(silentLogger);
        const sessions = [setup(OPTIONS, ticker), setup(OPTIONS, ticker), setup(OPTIONS, ticker)];
        for (const s of sessions) {
            startStreaming(s);
        }
        expect(ticker.size).toBe(3);
        expect(vi.getTimerCount()).toBe(1);
        vi.advanceTimersByTime(500);
        for (const s of sessions) {
            expect(s.udp.confirms()).toStrictEqual([[]]);
        }
        for (const s of sessions) {
            s.session.close("test");
        }
        expect(ticker.isRunning).toBe(false);
        expect(vi.getTimerCount()).toBe(0);
    });
});

/** The 50s the session sent, as "address:port". */
function probesSent(s: Setup): string[] {
    return s.udp.sent
        .filter((datagram) => datagram.header.command === Cmd.json)
        .filter((datagram) => decodeJson(decodeDatagram(datagram.packet).payload).code === 50)
        .map((datagram) => `${datagram.address}:${datagram.port}`);
}

function natResponse(s: Setup, devIp: string, devPort: number): void {
    s.session.handleMessage({
        code: 12,
        status: 200,
        devIp,
        devPort,
        devNatIp: "192.168.1.50",
        devNatPort: 43_999,
        cliTarget: s.session.cliTarget,
        cliToken: s.session.cliToken,
    });
}

describe("CameraSession probe retries (a lost 51 or 50)", () => {
    it("sends a 50 every second to code 12's devIp:devPort until a 51 binds a source, then to that source", () => {
        const s = setup();
        s.session.setWanted(true);
        natResponse(s, CAMERA_UDP.address, CAMERA_UDP.port);
        vi.advanceTimersByTime(999);
        expect(probesSent(s)).toStrictEqual([]);
        vi.advanceTimersByTime(1);
        expect(probesSent(s)).toStrictEqual(["10.0.0.50:43258"]);
        vi.advanceTimersByTime(1000);
        expect(probesSent(s)).toHaveLength(2);
        expect(s.counters.probeRetries).toBe(2);
        s.session.handleProbe(200, "10.0.0.51", 40_000); // the 51 came from elsewhere: that source wins
        expect(s.session.streamState).toBe("starting");
        vi.advanceTimersByTime(1000);
        expect(probesSent(s).at(-1)).toBe("10.0.0.51:40000");
    });

    it("keeps probing after the 51 while no media comes (our 50 was lost), and stops at the first media datagram", () => {
        const s = setup();
        startStreaming(s);
        vi.advanceTimersByTime(2000);
        expect(probesSent(s)).toStrictEqual(["10.0.0.50:43258", "10.0.0.50:43258"]);
        sendAudio(s, 7);
        vi.advanceTimersByTime(2900); // the stall restart (5 s without a frame) would start over
        expect(probesSent(s)).toHaveLength(2);
        expect(s.counters.streamRestarts).toBe(0);
    });

    it("sends nothing before code 12 or a 51 named an address, nor to a 0.0.0.0:0 devIp (then devNat is used)", () => {
        const s = setup();
        s.session.setWanted(true);
        vi.advanceTimersByTime(3000);
        expect(probesSent(s)).toStrictEqual([]);
        natResponse(s, "0.0.0.0", 0);
        vi.advanceTimersByTime(1000);
        expect(probesSent(s)).toStrictEqual(["192.168.1.50:43999"]);
    });

    it("starts again after a stall restart", () => {
        const s = setup();
        startStreaming(s);
        sendFrame(s, 1, 100);
        vi.advanceTimersByTime(4900);
        expect(probesSent(s)).toStrictEqual([]);
        vi.advanceTimersByTime(200); // stall: code 11 again, a new handshake without media
        expect(s.counters.streamRestarts).toBe(1);
        vi.advanceTimersByTime(1000);
        expect(probesSent(s)).toStrictEqual(["10.0.0.50:43258"]);
    });
});

describe("CameraSession stall, stop and close", () => {
    it("restarts from code 11 when no frame arrives for stallTimeoutMs, including the first frame", () => {
        const s = setup();
        s.session.setWanted(true);
        expect(s.link.take().map((message) => message.code)).toStrictEqual([11]);
        vi.advanceTimersByTime(4900);
        expect(s.link.take()).toStrictEqual([]);
        vi.advanceTimersByTime(100);
        expect(s.link.take().map((message) => message.code)).toStrictEqual([11]);
        expect(s.counters.streamRestarts).toBe(1);
        expect(s.session.streamState).toBe("starting");
    });

    it("restarts when frames stop, and not while they flow", () => {
        const s = setup();
        startStreaming(s);
        for (let index = 0; index < 100; index++) {
            sendFrame(s, index, index * 10, 2000);
            vi.advanceTimersByTime(100);
        }
        expect(s.link.take()).toStrictEqual([]);
        vi.advanceTimersByTime(4800); // 4900 ms since the last frame
        expect(s.link.take()).toStrictEqual([]);
        vi.advanceTimersByTime(100);
        expect(s.link.take().map((message) => message.code)).toStrictEqual([11]);
        expect(s.counters.streamRestarts).toBe(1);
    });

    it("sends 301{0} stopGraceMs after the last consumer leaves and goes idle", () => {
        const s = setup();
        startStreaming(s);
        sendFrame(s, 1, 1);
        s.session.setWanted(false);
        expect(s.session.streamState).toBe("stopping");
        vi.advanceTimersByTime(2999);
        expect(s.link.take()).toStrictEqual([]);
        vi.advanceTimersByTime(1);
        expect(s.link.take()).toStrictEqual([{code: 301, target: s.session.cliTarget, content: {code: 0}}]);
        expect(s.session.streamState).toBe("idle");
        expect(s.counters.streamStops).toBe(1);
        const confirmsBefore = s.udp.confirms().length;
        sendFrame(s, 2, 100);
        vi.advanceTimersByTime(10_000);
        expect(s.sink.frames).toHaveLength(1);
        expect(s.udp.confirms()).toHaveLength(confirmsBefore);
        expect(s.counters.mediaWhileIdle).toBeGreaterThan(0);
        expect(s.link.take()).toStrictEqual([]); // no stall restart while idle
    });

    it("keeps streaming without a new handshake when a consumer returns within the grace period", () => {
        const s = setup();
        startStreaming(s);
        sendFrame(s, 1, 1);
        s.session.setWanted(false);
        vi.advanceTimersByTime(2000);
        s.session.setWanted(true);
        for (let index = 0; index < 8; index++) {
            sendFrame(s, index, 100 + index * 10);
            vi.advanceTimersByTime(1000);
        }
        expect(s.link.take()).toStrictEqual([]);
        expect(s.session.streamState).toBe("streaming");
    });

    it("does not restart a stalled stream while nobody wants it", () => {
        const s = setup({stallTimeoutMs: 1000, stopGraceMs: 10_000});
        startStreaming(s);
        s.session.setWanted(false);
        vi.advanceTimersByTime(5000);
        expect(s.link.take()).toStrictEqual([]);
    });

    it("close() releases the UDP binding, closes the link, leaves the ticker and reports once", () => {
        const s = setup();
        startStreaming(s);
        s.session.close("replaced");
        s.session.close("again");
        expect(s.udp.released).toStrictEqual([s.session]);
        expect(s.link.closedReason).toBe("replaced");
        expect(s.sink.closed).toStrictEqual([{session: s.session, reason: "replaced"}]);
        expect(s.ticker.size).toBe(0);
        expect(s.session.sendForward({code: 0})).toBe(false);
    });

    it("close({sendStop}) sends 301{0} first when streaming", () => {
        const s = setup();
        startStreaming(s);
        s.session.close("server stopping", {sendStop: true});
        expect(s.link.take()).toStrictEqual([{code: 301, target: s.session.cliTarget, content: {code: 0}}]);
    });

    it("reports UDP activity to the link as liveness on the tick", () => {
        const s = setup();
        startStreaming(s);
        vi.advanceTimersByTime(1000);
        const before = s.link.lastActivityAtMs;
        sendAudio(s, 1);
        vi.advanceTimersByTime(100);
        expect(s.link.lastActivityAtMs).toBeGreaterThan(before);
    });
});
