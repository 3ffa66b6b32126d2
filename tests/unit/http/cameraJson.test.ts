import {describe, expect, it} from "vitest";
import {
    buildCameraJson,
    buildDevList,
    buildStreamUrls,
    resolvePublicHost,
    splitAddress,
} from "../../../src/http/cameraJson.js";
import type {CameraView} from "../../../src/model/camera.js";

const view: CameraView = {
    id: "0800c00128F8",
    address: "10.42.0.22:64365",
    firmware: "202212011602",
    online: true,
    streamState: "streaming",
    fps: 9.5,
    lastFrameAtMs: Date.UTC(2023, 1, 11, 12, 0, 0, 250),
    lastSeenAtMs: null,
    baseInfo: {code: 4, devPower: 100},
    consumers: 2,
    framesDelivered: 120,
    framesDropped: 3,
};

describe("resolvePublicHost", () => {
    it("prefers advertiseHost with the viewer port", () => {
        expect(resolvePublicHost("ignored:1", {advertiseHost: "192.168.1.5", httpPort: 8099})).toStrictEqual({
            authority: "192.168.1.5:8099",
            hostname: "192.168.1.5",
        });
    });

    it("brackets an IPv6 advertiseHost", () => {
        expect(resolvePublicHost(undefined, {advertiseHost: "fd00::5", httpPort: 8099}).authority).toBe(
            "[fd00::5]:8099",
        );
    });

    it.each([
        ["cam.local:8099", "cam.local:8099", "cam.local"],
        ["cam.local", "cam.local", "cam.local"],
        ["[::1]:8099", "[::1]:8099", "[::1]"],
    ])("uses the Host header %s", (header, authority, hostname) => {
        expect(resolvePublicHost(header, {httpPort: 8099})).toStrictEqual({authority, hostname});
    });

    it.each([undefined, "", "evil.com/path", "a b", 'x"y'])("falls back to 127.0.0.1 for Host %j", (header) => {
        expect(resolvePublicHost(header, {httpPort: 8099})).toStrictEqual({
            authority: "127.0.0.1:8099",
            hostname: "127.0.0.1",
        });
    });
});

describe("buildStreamUrls", () => {
    it("lists absolute URLs, rtsp and hls null when not configured", () => {
        expect(buildStreamUrls("0800c00128F8", {authority: "h:8099", hostname: "h"}, {httpPort: 8099})).toStrictEqual({
            mjpeg: "http://h:8099/api/cameras/0800c00128F8/stream.mjpeg",
            snapshot: "http://h:8099/api/cameras/0800c00128F8/snapshot.jpg",
            audio: "http://h:8099/api/cameras/0800c00128F8/audio.wav",
            rtsp: null,
            hls: null,
        });
    });

    it("adds rtsp and hls when configured", () => {
        const urls = buildStreamUrls(
            "0800c00128F8",
            {authority: "h:8099", hostname: "h"},
            {httpPort: 8099, rtspPort: 8554, isHlsEnabled: true},
        );
        expect(urls.rtsp).toBe("rtsp://h:8554/0800c00128F8");
        expect(urls.hls).toBe("http://h:8099/api/cameras/0800c00128F8/hls/index.m3u8");
    });
});

describe("buildCameraJson", () => {
    it("maps a view to camelCase JSON with ISO times", () => {
        const urls = buildStreamUrls(view.id, {authority: "h:1", hostname: "h"}, {httpPort: 1});
        expect(buildCameraJson(view, urls)).toStrictEqual({
            id: "0800c00128F8",
            address: "10.42.0.22:64365",
            firmware: "202212011602",
            family: "classic",
            model: "A9-4",
            online: true,
            tcpOnline: true,
            mqttOnline: null,
            wake: null,
            wakeState: null,
            lastWakeAt: null,
            lastWakeTemplate: null,
            errStatus: null,
            streaming: true,
            streamState: "streaming",
            fps: 9.5,
            lastFrameAt: "2023-02-11T12:00:00.250Z",
            lastSeenAt: null,
            baseInfo: {code: 4, devPower: 100},
            consumers: 2,
            framesDelivered: 120,
            framesDropped: 3,
            urls,
        });
    });

    it("shows a camera asleep on MQTT as online, stream idle, waking on demand (issue 6 item 3)", () => {
        const urls = buildStreamUrls("5c00200204AB", {authority: "h:1", hostname: "h"}, {httpPort: 1});
        const json = buildCameraJson(
            {
                ...view,
                id: "5c00200204AB",
                address: null,
                online: false,
                streamState: "idle",
                mqttOnline: true,
                wake: {
                    mode: "on-demand",
                    state: "asleep",
                    lastWakeAtMs: Date.UTC(2025, 0, 2),
                    lastTemplate: "candidate2",
                },
                errStatus: 2,
            },
            urls,
        );
        expect(json).toMatchObject({
            online: true,
            tcpOnline: false,
            mqttOnline: true,
            streaming: false,
            streamState: "idle",
            wake: "on-demand",
            wakeState: "asleep",
            lastWakeAt: "2025-01-02T00:00:00.000Z",
            lastWakeTemplate: "candidate2",
            errStatus: 2,
        });
        expect(buildCameraJson({...view, online: false, mqttOnline: false}, urls).online).toBe(false);
    });

    it.each([
        ["56000b00054B", "mqtt-first", "P3"],
        ["5c00200204AB", "mqtt-first", "CloudIpc"],
        ["600000000001", "mqtt-first", "monitor2"],
        ["0A0000000001", "classic", "A9-5"],
        ["990000000001", "classic", null],
    ])("derives family and model of %s from the id when the view has none", (id, family, model) => {
        const urls = buildStreamUrls(id, {authority: "h:1", hostname: "h"}, {httpPort: 1});
        const json = buildCameraJson({...view, id}, urls);
        expect([json.family, json.model]).toStrictEqual([family, model]);
    });

    it("keeps the family and model the view names", () => {
        const urls = buildStreamUrls(view.id, {authority: "h:1", hostname: "h"}, {httpPort: 1});
        const json = buildCameraJson({...view, family: "mqtt-first", model: null}, urls);
        expect([json.family, json.model]).toStrictEqual(["mqtt-first", null]);
    });

    it("is not streaming while starting", () => {
        const urls = buildStreamUrls(view.id, {authority: "h:1", hostname: "h"}, {httpPort: 1});
        expect(buildCameraJson({...view, streamState: "starting"}, urls).streaming).toBe(false);
    });
});

describe("buildDevList", () => {
    it("lists cameras with a TCP peer as uid/host/port and skips the others", () => {
        expect(
            buildDevList([
                view,
                {...view, id: "0800c0020ADC", address: null},
                {...view, id: "0800c0107D4A", address: "::ffff:10.42.0.23:5000"},
            ]),
        ).toStrictEqual([
            {uid: "0800c00128F8", host: "10.42.0.22", port: 64365},
            {uid: "0800c0107D4A", host: "10.42.0.23", port: 5000},
        ]);
    });
});

describe("splitAddress", () => {
    it.each([
        ["10.0.0.1:80", {host: "10.0.0.1", port: 80}],
        ["[fe80::1]:6123", {host: "fe80::1", port: 6123}],
        ["nonsense", undefined],
        ["host:port", undefined],
        [":80", undefined],
    ])("%s", (input, expected) => {
        expect(splitAddress(input)).toStrictEqual(expected);
    });
});
