import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {CameraCounters} from "../../../src/camera/cameraCounters.js";
import {CameraRegistry, type CameraRegistryOptions} from "../../../src/camera/cameraRegistry.js";
import {SessionTicker} from "../../../src/camera/sessionTicker.js";
import type {CameraView} from "../../../src/model/camera.js";
import type {JpegFrame} from "../../../src/model/media.js";
import {encodeJpegFragments} from "../../../src/protocol/jpegFragments.js";
import {decodeDatagram} from "../../../src/protocol/packet.js";
import {silentLogger} from "../../../src/util/log.js";
import {syntheticJpeg} from "../../support/fixtures/syntheticJpeg.js";
import {FakeLink, FakeUdp} from "./fakes.js";

const OPTIONS: CameraRegistryOptions = {stallTimeoutMs: 5000, stopGraceMs: 3000, offlineGraceMs: 30_000};
const UID = "0800c00128F8";

function setup(options: CameraRegistryOptions = OPTIONS) {
    const udp = new FakeUdp();
    const counters = new CameraCounters();
    const ticker = new SessionTicker(silentLogger);
    const registry = new CameraRegistry(options, {udp, ticker, counters}, silentLogger);
    return {udp, counters, ticker, registry};
}

type Setup = ReturnType<typeof setup>;

function register(t: Setup, uid = UID, link = new FakeLink()) {
    const listener = t.registry.handleRegister(link, {uid, token: "t", domain: "d"});
    if (listener === undefined) {
        throw new Error(`${uid} refused`);
    }
    return {link, listener};
}

/** Plays the camera's side after code 11: 51 status 200, then one frame. */
function streamFrame(t: Setup, uid: string, counter: number, firstId: number): Buffer {
    const peer = t.registry.probeTarget(uid);
    if (peer === undefined) {
        throw new Error(`${uid} has no session`);
    }
    peer.handleProbe(200, "10.0.0.50", 40000);
    const jpeg = syntheticJpeg(counter, 2500);
    for (const datagram of encodeJpegFragments(jpeg, firstId)) {
        const packet = decodeDatagram(datagram);
        peer.handleMedia(packet.header.command, packet.header.msgFlag, packet.header.packageId, packet.payload);
    }
    return jpeg;
}

function collector() {
    const frames: JpegFrame[] = [];
    const ends: string[] = [];
    return {
        frames,
        ends,
        consumer: {onFrame: (frame: JpegFrame) => frames.push(frame), onEnd: (reason: string) => ends.push(reason)},
    };
}

beforeEach(() => {
    vi.useFakeTimers();
});
afterEach(() => {
    vi.useRealTimers();
});

describe("CameraRegistry directory", () => {
    it("refuses subscriptions to never-seen cameras", () => {
        const t = setup();
        expect(t.registry.subscribe("nope", {})).toStrictEqual({ok: false, reason: "unknown-camera"});
        expect(t.registry.get("nope")).toBeUndefined();
        expect(t.registry.list()).toStrictEqual([]);
    });

    it("lists a registered camera and keeps it, offline, after its connection ends", () => {
        const t = setup();
        const online: CameraView[] = [];
        const offline: CameraView[] = [];
        t.registry.on("cameraOnline", (view) => online.push(view));
        t.registry.on("cameraOffline", (view) => offline.push(view));
        const {listener} = register(t);
        expect(t.registry.get(UID)).toMatchObject({
            id: UID,
            online: true,
            address: "10.0.0.50:40000",
            streamState: "idle",
            consumers: 0,
            framesDelivered: 0,
        });
        listener.handleClose("connection closed");
        expect(t.registry.list()).toMatchObject([{id: UID, online: false, address: null}]);
        expect(online).toHaveLength(1);
        expect(offline).toHaveLength(1);
        expect(t.registry.probeTarget(UID)).toBeUndefined();
    });

    it("starts the stream on the first subscription and delivers frames with sequence numbers", () => {
        const t = setup();
        const {link} = register(t);
        const c = collector();
        const result = t.registry.subscribe(UID, c.consumer);
        expect(result.ok).toBe(true);
        expect(link.take().map((message) => message.code)).toStrictEqual([11]);
        const first = streamFrame(t, UID, 1, 10);
        const second = streamFrame(t, UID, 2, 20);
        expect(c.frames.map((frame) => frame.sequence)).toStrictEqual([1, 2]);
        expect(c.frames[0]?.data.equals(first)).toBe(true);
        expect(t.registry.latestFrame(UID)?.data.equals(second)).toBe(true);
        expect(t.registry.get(UID)).toMatchObject({framesDelivered: 2, streamState: "streaming", consumers: 1});
        expect(t.registry.get(UID)?.fps).toBeGreaterThan(0);
    });

    it("keeps the code 4 reply as baseInfo and its version as firmware", () => {
        const t = setup();
        const {listener} = register(t);
        const events: unknown[] = [];
        t.registry.on("baseInfo", (event) => events.push(event));
        const content = {code: 4, devPower: 80, version: "202212011602"};
        listener.handleMessage({code: 301, target: "x", content});
        expect(t.registry.get(UID)).toMatchObject({baseInfo: content, firmware: "202212011602"});
        expect(events).toStrictEqual([{id: UID, baseInfo: content}]);
    });

    it("sends a 301 forward to a connected camera and reports false for offline or unknown ones", () => {
        const t = setup();
        const {link, listener} = register(t);
        expect(t.registry.sendForward(UID, {code: 216, mirrorFlip: 4})).toBe(true);
        expect(link.take()).toMatchObject([{code: 301, content: {code: 216, mirrorFlip: 4}}]);
        listener.handleClose("gone");
        expect(t.registry.sendForward(UID, {code: 216, mirrorFlip: 0})).toBe(false);
        expect(t.registry.sendForward("nope", {code: 216})).toBe(false);
    });
});

describe("CameraRegistry consumers", () => {
    it("removes a throwing consumer and keeps delivering to the others", () => {
        const t = setup();
        register(t);
        const good = collector();
        t.registry.subscribe(UID, {
            onFrame: () => {
                throw new Error("bad consumer");
            },
        });
        t.registry.subscribe(UID, good.consumer);
        streamFrame(t, UID, 1, 10);
        streamFrame(t, UID, 2, 20);
        expect(good.frames).toHaveLength(2);
        expect(t.registry.get(UID)?.consumers).toBe(1);
    });

    it("stops the stream a grace period after the last subscription closes (close is idempotent)", () => {
        const t = setup();
        const {link} = register(t);
        const a = t.registry.subscribe(UID, {});
        const b = t.registry.subscribe(UID, {});
        streamFrame(t, UID, 1, 10);
        link.take();
        if (!a.ok || !b.ok) {
            throw new Error("subscribe failed");
        }
        a.subscription.close();
        a.subscription.close();
        expect(t.registry.get(UID)?.consumers).toBe(1);
        b.subscription.close();
        vi.advanceTimersByTime(3000);
        expect(link.take().map((message) => message["content"])).toStrictEqual([{code: 0}]);
        expect(t.registry.get(UID)?.streamState).toBe("idle");
    });

    it("accepts a subscription to a known offline camera and starts when it registers", () => {
        const t = setup();
        const {listener} = register(t);
        listener.handleClose("gone");
        const c = collector();
        expect(t.registry.subscribe(UID, c.consumer).ok).toBe(true);
        const {link} = register(t, UID, new FakeLink("10.0.0.50:40001"));
        expect(link.take().map((message) => message.code)).toStrictEqual([11]);
        streamFrame(t, UID, 1, 10);
        expect(c.frames).toHaveLength(1);
    });

    it("ends consumers of a camera that stays offline for offlineGraceMs", () => {
        const t = setup();
        const {listener} = register(t);
        const c = collector();
        t.registry.subscribe(UID, c.consumer);
        listener.handleClose("gone");
        vi.advanceTimersByTime(29_999);
        expect(c.ends).toStrictEqual([]);
        vi.advanceTimersByTime(1);
        expect(c.ends).toStrictEqual(["offline"]);
        expect(t.registry.get(UID)?.consumers).toBe(0);
    });

    it("forget() ends consumers, closes the session and drops the camera", () => {
        const t = setup();
        const {link} = register(t);
        const c = collector();
        t.registry.subscribe(UID, c.consumer);
        expect(t.registry.forget(UID)).toBe(true);
        expect(c.ends).toStrictEqual(["forgotten"]);
        expect(link.closedReason).toBe("forgotten");
        expect(t.registry.get(UID)).toBeUndefined();
        expect(t.registry.forget(UID)).toBe(false);
    });
});

describe("CameraRegistry reconnect", () => {
    it("a second registration replaces the session: old link closed, consumers kept, stream restarted", () => {
        const t = setup();
        const offline: CameraView[] = [];
        t.registry.on("cameraOffline", (view) => offline.push(view));
        const first = register(t, UID, new FakeLink("10.0.0.50:40000"));
        const c = collector();
        t.registry.subscribe(UID, c.consumer);
        streamFrame(t, UID, 1, 10);
        const second = register(t, UID, new FakeLink("10.0.0.50:40002"));
        expect(first.link.closedReason).toBe("replaced by a new connection");
        expect(t.udp.released).toHaveLength(1);
        first.listener.handleClose("connection closed"); // the old socket's close event arrives later
        expect(offline).toStrictEqual([]);
        expect(t.registry.get(UID)).toMatchObject({online: true, address: "10.0.0.50:40002", consumers: 1});
        expect(second.link.take().map((message) => message.code)).toStrictEqual([11]);
        streamFrame(t, UID, 2, 500);
        expect(c.frames.map((frame) => frame.sequence)).toStrictEqual([1, 2]);
        expect(c.ends).toStrictEqual([]);
    });

    it("bounds the number of remembered cameras: evicts the stalest offline one, else refuses", () => {
        const t = setup({...OPTIONS, maxCameras: 2});
        const a = register(t, "0800c0000001");
        register(t, "0800c0000002");
        a.listener.handleClose("gone");
        register(t, "0800c0000003"); // evicts the offline 0001
        expect(t.registry.list().map((view) => view.id)).toStrictEqual(["0800c0000002", "0800c0000003"]);
        const refusedLink = new FakeLink();
        expect(t.registry.handleRegister(refusedLink, {uid: "0800c0000004", token: "", domain: ""})).toBeUndefined();
        expect(t.registry.list()).toHaveLength(2);
        register(t, "0800c0000002", new FakeLink("10.0.0.50:40009")); // a known camera is always accepted
    });

    it("keeps several cameras apart", () => {
        const t = setup();
        register(t, "0800c0000001");
        register(t, "0800c0000002");
        const a = collector();
        const b = collector();
        t.registry.subscribe("0800c0000001", a.consumer);
        t.registry.subscribe("0800c0000002", b.consumer);
        streamFrame(t, "0800c0000001", 1, 10);
        streamFrame(t, "0800c0000002", 2, 10);
        expect(a.frames.map((frame) => frame.cameraId)).toStrictEqual(["0800c0000001"]);
        expect(b.frames.map((frame) => frame.cameraId)).toStrictEqual(["0800c0000002"]);
    });
});
