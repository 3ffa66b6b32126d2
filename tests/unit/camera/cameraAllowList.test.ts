/** `cameras.allow` and `cloud.max_cameras` at registration (issue 5 item 7). */
import {describe, expect, it} from "vitest";
import {CameraCounters} from "../../../src/camera/cameraCounters.js";
import {CameraRegistry, type CameraRegistryOptions} from "../../../src/camera/cameraRegistry.js";
import {SessionTicker} from "../../../src/camera/sessionTicker.js";
import {silentLogger} from "../../../src/util/log.js";
import {FakeLink, FakeUdp} from "./fakes.js";

const BASE: CameraRegistryOptions = {stallTimeoutMs: 5000, stopGraceMs: 3000};

function setup(options: Partial<CameraRegistryOptions>) {
    const counters = new CameraCounters();
    const registry = new CameraRegistry(
        {...BASE, ...options},
        {udp: new FakeUdp(), ticker: new SessionTicker(silentLogger), counters},
        silentLogger,
    );
    const register = (uid: string) => registry.handleRegister(new FakeLink(), {uid, token: "t", domain: "d"});
    return {registry, counters, register};
}

describe("camera allow-list", () => {
    it("registers only allowed ids, counts the refusals and never lists a refused camera", () => {
        const allowed = new Set(["0800c00128F8"]);
        const t = setup({isAllowed: (id) => allowed.has(id)});
        expect(t.register("0800c0FFFFFF")).toBeUndefined();
        expect(t.register("0800c0FFFFFF")).toBeUndefined();
        expect(t.register("0800c00128F8")).toBeDefined();
        expect(t.registry.list().map((view) => view.id)).toStrictEqual(["0800c00128F8"]);
        expect(t.registry.get("0800c0FFFFFF")).toBeUndefined();
        expect(t.registry.stats().camerasRefused).toBe(2);
    });

    it("lets every id in without an allow-list", () => {
        const t = setup({});
        expect(t.register("0800c0000001")).toBeDefined();
        expect(t.register("0800c0000002")).toBeDefined();
        expect(t.registry.stats().camerasRefused).toBe(0);
    });

    it("refuses a new id beyond maxCameras while every known camera is online", () => {
        const t = setup({maxCameras: 2});
        expect(t.register("0800c0000001")).toBeDefined();
        expect(t.register("0800c0000002")).toBeDefined();
        expect(t.register("0800c0000003")).toBeUndefined();
        expect(t.registry.list()).toHaveLength(2);
        expect(t.registry.stats().camerasRefused).toBe(1);
        // a known camera registering again is not a new session slot
        expect(t.register("0800c0000001")).toBeDefined();
    });
});
