import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {
    describeErrStatus,
    WakeOnDemandDirectory,
    type WakePresence,
    type WakeRequest,
    type WakeSource,
} from "../../../src/camera/wakeOnDemand.js";
import type {CameraDirectory, CameraView, SubscribeResult, WakeRequestResult} from "../../../src/model/camera.js";
import type {JpegFrame, MediaConsumer} from "../../../src/model/media.js";
import {silentLogger} from "../../../src/util/log.js";

const ID = "5c00200204AB";
const TIMEOUT_MS = 15_000;
const MIN_INTERVAL_MS = 5000;

/** The registry as the wake directory sees it: views and consumers set by the test. */
class FakeRegistry implements CameraDirectory {
    readonly views = new Map<string, CameraView>();
    readonly consumers = new Map<string, Set<MediaConsumer>>();

    setView(id: string, patch: Partial<CameraView>): void {
        this.views.set(id, {
            id,
            address: null,
            firmware: null,
            online: false,
            streamState: "idle",
            fps: 0,
            lastFrameAtMs: null,
            lastSeenAtMs: null,
            baseInfo: null,
            consumers: this.consumers.get(id)?.size ?? 0,
            framesDelivered: 0,
            framesDropped: 0,
            ...this.views.get(id),
            ...patch,
        });
    }

    list(): CameraView[] {
        return [...this.views.values()];
    }

    get(id: string): CameraView | undefined {
        const view = this.views.get(id);
        return view === undefined ? undefined : {...view, consumers: this.consumers.get(id)?.size ?? 0};
    }

    subscribe(id: string, consumer: MediaConsumer): SubscribeResult {
        if (!this.views.has(id)) {
            return {ok: false, reason: "unknown-camera"};
        }
        const set = this.consumers.get(id) ?? new Set();
        set.add(consumer);
        this.consumers.set(id, set);
        return {ok: true, subscription: {close: () => set.delete(consumer)}};
    }

    latestFrame(): JpegFrame | undefined {
        return undefined;
    }

    frame(id: string): void {
        const frame: JpegFrame = {cameraId: id, data: Buffer.from([1]), sequence: 1, receivedAtMs: 0, receivedAtHr: 0};
        for (const consumer of this.consumers.get(id) ?? []) {
            consumer.onFrame?.(frame);
        }
    }
}

class FakeSource implements WakeSource {
    readonly presences = new Map<string, WakePresence>();
    readonly sent: {id: string; request: WakeRequest}[] = [];
    answer: WakeRequestResult | Error = {ok: true, template: "candidate1", payload: {code: 240}};

    setPresence(id: string, patch: Partial<WakePresence> = {}): void {
        this.presences.set(id, {
            mqttOnline: true,
            wakesOnDemand: true,
            family: "mqtt-first",
            errStatus: null,
            firmware: "202411152039",
            lastSeenAtMs: 1000,
            ...this.presences.get(id),
            ...patch,
        });
    }

    ids(): readonly string[] {
        return [...this.presences.keys()];
    }

    presence(id: string): WakePresence | undefined {
        return this.presences.get(id);
    }

    sendWake(id: string, request: WakeRequest): Promise<WakeRequestResult> {
        this.sent.push({id, request});
        return this.answer instanceof Error ? Promise.reject(this.answer) : Promise.resolve(this.answer);
    }
}

function recorder(): MediaConsumer & {frames: number; ends: string[]} {
    const consumer = {
        frames: 0,
        ends: [] as string[],
        onFrame: () => {
            consumer.frames += 1;
        },
        onEnd: (reason: string) => {
            consumer.ends.push(reason);
        },
    };
    return consumer;
}

let registry: FakeRegistry;
let source: FakeSource;
let directory: WakeOnDemandDirectory;

beforeEach(() => {
    vi.useFakeTimers({now: 1_000_000});
    registry = new FakeRegistry();
    source = new FakeSource();
    directory = new WakeOnDemandDirectory(
        registry,
        source,
        {timeoutMs: TIMEOUT_MS, minIntervalMs: MIN_INTERVAL_MS},
        silentLogger,
        () => Date.now(),
    );
});

afterEach(() => {
    directory.stop();
    vi.useRealTimers();
});

describe("WakeOnDemandDirectory listing", () => {
    it("lists an MQTT-first camera known only over MQTT as asleep, online over MQTT, stream idle", () => {
        source.setPresence(ID, {errStatus: 0});
        source.setPresence("0800c00128F8", {wakesOnDemand: false, family: "classic"});
        expect(directory.list()).toStrictEqual([
            {
                id: ID,
                address: null,
                firmware: "202411152039",
                family: "mqtt-first",
                model: "CloudIpc",
                online: false,
                streamState: "idle",
                fps: 0,
                lastFrameAtMs: null,
                lastSeenAtMs: 1000,
                baseInfo: null,
                consumers: 0,
                framesDelivered: 0,
                framesDropped: 0,
                mqttOnline: true,
                wake: {mode: "on-demand", state: "asleep", lastWakeAtMs: null, lastTemplate: null},
                errStatus: 0,
            },
        ]);
        expect(directory.get("0800c00128F8")).toBeUndefined();
        expect(directory.get("0800c0FFFFFF")).toBeUndefined();
    });

    it("decorates registry views with MQTT presence; classic cameras get no wake", () => {
        registry.setView(ID, {online: true, address: "10.0.0.5:1234", firmware: null});
        registry.setView("0800c00128F8", {online: true});
        registry.setView("0800c0000002", {online: true});
        source.setPresence(ID);
        source.setPresence("0800c00128F8", {wakesOnDemand: false, family: "classic", mqttOnline: false});
        const byId = new Map(directory.list().map((view) => [view.id, view]));
        expect(byId.get(ID)).toMatchObject({firmware: "202411152039", mqttOnline: true, wake: {state: "awake"}});
        expect(byId.get("0800c00128F8")).toMatchObject({mqttOnline: false, wake: null});
        expect(byId.get("0800c0000002")).not.toHaveProperty("wake");
        expect(byId.size).toBe(3);
    });

    it("shows unreachable when MQTT is gone as well", () => {
        source.setPresence(ID, {mqttOnline: false});
        expect(directory.get(ID)?.wake?.state).toBe("unreachable");
    });
});

describe("WakeOnDemandDirectory waking", () => {
    it("sends one wake, holds viewers, and hands them to the registry when the camera registers", async () => {
        source.setPresence(ID);
        const first = recorder();
        const second = recorder();
        const result = directory.subscribe(ID, first);
        expect(result).toMatchObject({ok: true, waking: {timeoutMs: TIMEOUT_MS}});
        expect(directory.subscribe(ID, second).ok).toBe(true);
        await vi.advanceTimersByTimeAsync(0);
        expect(source.sent).toStrictEqual([{id: ID, request: {}}]);
        expect(directory.get(ID)).toMatchObject({streamState: "starting", consumers: 2, wake: {state: "waking"}});
        expect(directory.pendingWakes).toBe(1);

        await vi.advanceTimersByTimeAsync(3000);
        registry.setView(ID, {online: true});
        directory.handleTcpOnline(ID);
        expect(registry.consumers.get(ID)?.size).toBe(2);
        registry.frame(ID);
        expect([first.frames, second.frames]).toStrictEqual([1, 1]);
        expect(directory.pendingWakes).toBe(0);
        expect(directory.get(ID)?.wake).toStrictEqual({
            mode: "on-demand",
            state: "awake",
            lastWakeAtMs: 1_000_000,
            lastTemplate: "candidate1",
        });

        // the timer is gone: nothing ends them later
        await vi.advanceTimersByTimeAsync(TIMEOUT_MS * 2);
        expect(first.ends).toStrictEqual([]);
        if (result.ok) {
            result.subscription.close();
        }
        expect(registry.consumers.get(ID)?.size).toBe(1);
    });

    it("ends waiting viewers with wake-timeout and leaves no timer or subscription behind", async () => {
        source.setPresence(ID);
        const viewer = recorder();
        directory.subscribe(ID, viewer);
        await vi.advanceTimersByTimeAsync(TIMEOUT_MS - 1);
        expect(viewer.ends).toStrictEqual([]);
        await vi.advanceTimersByTimeAsync(1);
        expect(viewer.ends).toStrictEqual([
            "wake-timeout: no TCP registration within 15000 ms after the wake (candidate1)",
        ]);
        expect(directory.pendingWakes).toBe(0);
        expect(vi.getTimerCount()).toBe(0);
        expect(directory.get(ID)).toMatchObject({consumers: 0, streamState: "idle", wake: {state: "no-answer"}});
        // a late registration finds nobody to hand over
        registry.setView(ID, {online: true});
        directory.handleTcpOnline(ID);
        expect(registry.consumers.get(ID)?.size ?? 0).toBe(0);
    });

    it("sends at most one wake per minIntervalMs; a viewer inside the window waits for the last one", async () => {
        source.setPresence(ID);
        directory.subscribe(ID, recorder());
        await vi.advanceTimersByTimeAsync(TIMEOUT_MS);
        expect(source.sent).toHaveLength(1);
        // 15 s later: a new attempt may send again
        directory.subscribe(ID, recorder());
        await vi.advanceTimersByTimeAsync(0);
        expect(source.sent).toHaveLength(2);
        directory.stop();

        const quick = new WakeOnDemandDirectory(registry, source, {timeoutMs: 1000, minIntervalMs: 5000}, silentLogger);
        source.sent.length = 0;
        quick.subscribe(ID, recorder());
        await vi.advanceTimersByTimeAsync(1000); // timed out
        const late = recorder();
        quick.subscribe(ID, late);
        await vi.advanceTimersByTimeAsync(1000);
        expect(source.sent).toHaveLength(1);
        expect(late.ends[0]).toMatch(/^wake-timeout/);
        quick.stop();
    });

    it("stops waiting when every viewer leaves before the camera comes", () => {
        source.setPresence(ID);
        const result = directory.subscribe(ID, recorder());
        expect(directory.pendingWakes).toBe(1);
        if (result.ok) {
            result.subscription.close();
            result.subscription.close();
        }
        expect(directory.pendingWakes).toBe(0);
        expect(vi.getTimerCount()).toBe(0);
        expect(directory.get(ID)?.wake?.state).toBe("asleep");
    });

    it("ends viewers at once when the wake cannot be sent", async () => {
        source.setPresence(ID);
        source.answer = {ok: false, error: "unavailable", reason: "camera broker unavailable"};
        const viewer = recorder();
        directory.subscribe(ID, viewer);
        await vi.advanceTimersByTimeAsync(0);
        expect(viewer.ends).toStrictEqual(["wake-failed: camera broker unavailable"]);
        source.answer = new Error("boom");
        await vi.advanceTimersByTimeAsync(MIN_INTERVAL_MS);
        const other = recorder();
        directory.subscribe(ID, other);
        await vi.advanceTimersByTimeAsync(0);
        expect(other.ends).toStrictEqual(["wake-failed: boom"]);
        expect(directory.pendingWakes).toBe(0);
    });

    it("ends the wait early when errStatus changes to non-zero during the wake", () => {
        source.setPresence(ID, {errStatus: 2});
        const viewer = recorder();
        directory.subscribe(ID, viewer);
        directory.handleErrStatus(ID, 2); // the stale value: no news
        directory.handleErrStatus(ID, 0);
        expect(viewer.ends).toStrictEqual([]);
        directory.handleErrStatus(ID, 1);
        expect(viewer.ends).toStrictEqual(["wake-refused: errStatus 1 (too many viewers)"]);
        directory.handleErrStatus("0800c0FFFFFF", 1);
        expect(describeErrStatus(0)).toBe("no error");
        expect(describeErrStatus(7)).toBe("unknown");
    });

    it("passes classic cameras, cameras with a session and cameras out of MQTT reach to the registry", () => {
        registry.setView("0800c00128F8", {online: true});
        source.setPresence("0800c00128F8", {wakesOnDemand: false});
        expect(directory.subscribe("0800c00128F8", recorder())).not.toHaveProperty("waking");
        registry.setView(ID, {online: true});
        source.setPresence(ID);
        expect(directory.subscribe(ID, recorder())).not.toHaveProperty("waking");
        source.setPresence("560000000001", {mqttOnline: false});
        expect(directory.subscribe("560000000001", recorder())).toStrictEqual({ok: false, reason: "offline"});
        registry.setView("560000000002", {online: false});
        source.setPresence("560000000002", {mqttOnline: false});
        expect(directory.subscribe("560000000002", recorder()).ok).toBe(true);
        expect(source.sent).toHaveLength(0);
        expect(directory.subscribe("0800c0FFFFFF", recorder())).toStrictEqual({ok: false, reason: "unknown-camera"});
    });

    it("wakes again when the camera drops TCP while viewers watch, rate limit permitting", async () => {
        source.setPresence(ID);
        registry.setView(ID, {online: true});
        directory.subscribe(ID, recorder());
        registry.setView(ID, {online: false});
        directory.handleTcpOffline(ID);
        directory.handleTcpOffline(ID);
        await vi.advanceTimersByTimeAsync(0);
        expect(source.sent).toHaveLength(1);
        directory.handleTcpOffline("0800c0FFFFFF");
        expect(source.sent).toHaveLength(1);
    });

    it("resolves a pending wake by polling when no registration event arrives", () => {
        source.setPresence(ID);
        const viewer = recorder();
        directory.subscribe(ID, viewer);
        directory.reconcile();
        expect(directory.pendingWakes).toBe(1);
        registry.setView(ID, {online: true});
        directory.reconcile();
        expect(directory.pendingWakes).toBe(0);
        expect(registry.consumers.get(ID)?.has(viewer)).toBe(true);
    });

    it("ends waiting viewers on forget and on stop", () => {
        source.setPresence(ID);
        source.setPresence("560000000001");
        const forgotten = recorder();
        const stopped = recorder();
        directory.subscribe(ID, forgotten);
        directory.subscribe("560000000001", stopped);
        directory.forget(ID);
        expect(forgotten.ends).toStrictEqual(["wake-failed: camera forgotten"]);
        directory.stop();
        expect(stopped.ends).toStrictEqual(["server stopping"]);
        expect(vi.getTimerCount()).toBe(0);
        // stopped: no more waking
        expect(directory.subscribe("560000000001", recorder())).toStrictEqual({ok: false, reason: "unknown-camera"});
    });
});

describe("WakeOnDemandDirectory manual wakes", () => {
    it("sends a chosen template, refuses unknown cameras and templates, and rate-limits", async () => {
        source.setPresence(ID);
        source.answer = {ok: true, template: "candidate3", payload: {code: 240}};
        expect(await directory.wake(ID, {template: "candidate3"})).toMatchObject({ok: true, template: "candidate3"});
        expect(source.sent).toStrictEqual([{id: ID, request: {template: "candidate3"}}]);
        expect(await directory.wake(ID, {})).toStrictEqual({
            ok: false,
            error: "too-soon",
            reason: "one wake per 5000 ms",
            retryAfterMs: 5000,
        });
        expect(await directory.wake(ID, {template: "candidate9"})).toMatchObject({ok: false, error: "invalid"});
        expect(await directory.wake("0800c0FFFFFF", {})).toMatchObject({ok: false, error: "unknown-camera"});
        expect(directory.get(ID)?.wake?.lastTemplate).toBe("candidate3");
    });

    it("does not count a wake that was refused as invalid against the rate limit", async () => {
        source.setPresence(ID);
        source.answer = {ok: false, error: "invalid", reason: "bad payload"};
        expect(await directory.wake(ID, {template: "custom"})).toMatchObject({ok: false, error: "invalid"});
        source.answer = {ok: true, template: "candidate1", payload: {code: 240}};
        expect(await directory.wake(ID, {})).toMatchObject({ok: true});
    });
});
