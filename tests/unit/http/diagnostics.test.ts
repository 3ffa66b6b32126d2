import {describe, expect, it} from "vitest";
import {BootstrapDiagnostics, type RequestNote, redactQuery} from "../../../src/http/diagnostics.js";

function clock(startMs = Date.UTC(2025, 0, 1)) {
    let nowMs = startMs;
    return {
        nowMs: () => nowMs,
        advance: (ms: number) => {
            nowMs += ms;
        },
    };
}

function note(overrides: Partial<RequestNote> = {}): RequestNote {
    return {
        kind: "getDevInfo",
        method: "POST",
        host: "v720.naxclow.com",
        path: "/app/api/ApiSysDevices/getDevInfo",
        query: "devicesCode=5c00200204AB&random=ABCDEF&token=0123456789",
        firmware: "202509111709",
        deviceId: "5c00200204AB",
        remoteAddress: "10.0.0.7",
        status: 200,
        ...overrides,
    };
}

describe("BootstrapDiagnostics", () => {
    it("keeps recent requests newest first, with the bootstrap token redacted", () => {
        const time = clock();
        const diagnostics = new BootstrapDiagnostics({nowMs: time.nowMs});
        diagnostics.noteRequest(note());
        time.advance(1000);
        diagnostics.noteRequest(note({kind: "getA9ConfCheck", path: "/app/api/ApiServer/getA9ConfCheck"}));
        const snapshot = diagnostics.snapshot();
        expect(snapshot.recentRequests.map((request) => request.kind)).toStrictEqual(["getA9ConfCheck", "getDevInfo"]);
        expect(snapshot.recentRequests[1]).toStrictEqual({
            at: "2025-01-01T00:00:00.000Z",
            kind: "getDevInfo",
            unknown: null,
            method: "POST",
            host: "v720.naxclow.com",
            path: "/app/api/ApiSysDevices/getDevInfo",
            query: "devicesCode=5c00200204AB&random=ABCDEF&token=<redacted>",
            firmware: "202509111709",
            deviceId: "5c00200204AB",
            remoteAddress: "10.0.0.7",
            status: 200,
        });
        expect(snapshot.bootstrapCounts).toStrictEqual({getDevInfo: 1, getA9ConfCheck: 1});
        expect(snapshot.unknownRequests).toStrictEqual([]);
        expect(snapshot.generatedAt).toBe("2025-01-01T00:00:01.000Z");
    });

    it("aggregates unknown endpoints by kind, method, host and path, most recent first", () => {
        const time = clock();
        const diagnostics = new BootstrapDiagnostics({nowMs: time.nowMs});
        const unknown = note({kind: "unknown", unknown: "unknown-bootstrap", path: "/app/api/X/new"});
        diagnostics.noteRequest(unknown);
        time.advance(10);
        diagnostics.noteRequest(note({kind: "sinkhole", unknown: "sinkhole", host: "dl2.naxclow.com", path: "/a.bin"}));
        time.advance(10);
        diagnostics.noteRequest({...unknown, firmware: "202411201737", deviceId: "0800c00128F8"});
        const {unknownEndpoints, unknownRequests, bootstrapCounts} = diagnostics.snapshot();
        expect(unknownEndpoints).toStrictEqual([
            {
                kind: "unknown-bootstrap",
                method: "POST",
                host: "v720.naxclow.com",
                path: "/app/api/X/new",
                count: 2,
                firstSeenAt: "2025-01-01T00:00:00.000Z",
                lastSeenAt: "2025-01-01T00:00:00.020Z",
                lastFirmware: "202411201737",
                lastDeviceId: "0800c00128F8",
            },
            {
                kind: "sinkhole",
                method: "POST",
                host: "dl2.naxclow.com",
                path: "/a.bin",
                count: 1,
                firstSeenAt: "2025-01-01T00:00:00.010Z",
                lastSeenAt: "2025-01-01T00:00:00.010Z",
                lastFirmware: "202509111709",
                lastDeviceId: "5c00200204AB",
            },
        ]);
        expect(unknownRequests).toHaveLength(3);
        expect(bootstrapCounts).toStrictEqual({unknown: 2}); // sinkholes are not bootstrap calls
    });

    it("stays bounded: rings and tables drop the oldest", () => {
        const diagnostics = new BootstrapDiagnostics({
            maxRecentRequests: 3,
            maxUnknownRequests: 2,
            maxEndpoints: 2,
            maxFirmwareVersions: 2,
            maxCamerasPerVersion: 1,
        });
        for (let index = 0; index < 10; index += 1) {
            diagnostics.noteRequest(
                note({kind: "unknown", unknown: "unknown-path", path: `/p${index}`, firmware: `20250000000${index}`}),
            );
        }
        diagnostics.noteFirmware("other-camera", "202500000009", "code4");
        const snapshot = diagnostics.snapshot();
        expect(snapshot.recentRequests.map((request) => request.path)).toStrictEqual(["/p9", "/p8", "/p7"]);
        expect(snapshot.unknownRequests.map((request) => request.path)).toStrictEqual(["/p9", "/p8"]);
        expect(snapshot.unknownEndpoints.map((endpoint) => endpoint.path)).toStrictEqual(["/p9", "/p8"]);
        expect(snapshot.firmwareVersions.map((entry) => entry.version)).toStrictEqual(["202500000009", "202500000008"]);
        expect(snapshot.firmwareVersions[0]?.cameras).toStrictEqual([
            {id: "5c00200204AB", family: "mqtt-first", model: "CloudIpc"},
        ]);
    });

    it("joins the sources of a firmware version and ignores empty or absurd versions", () => {
        const diagnostics = new BootstrapDiagnostics();
        diagnostics.noteFirmware("0800c00128F8", "202212011602", "http");
        diagnostics.noteFirmware("0800c00128F8", " 202212011602 ", "code4");
        diagnostics.noteFirmware(null, "202212011602", "mqtt");
        diagnostics.noteFirmware("0800c00128F8", "", "code4");
        diagnostics.noteFirmware("0800c00128F8", "x".repeat(65), "code4");
        expect(diagnostics.snapshot().firmwareVersions).toMatchObject([
            {
                version: "202212011602",
                sources: ["code4", "http", "mqtt"],
                cameras: [{id: "0800c00128F8", family: "classic", model: "A9-4"}],
            },
        ]);
    });

    it("finds the recent requests of one camera by id or address", () => {
        const diagnostics = new BootstrapDiagnostics();
        diagnostics.noteRequest(note());
        diagnostics.noteRequest(note({deviceId: null, kind: "sinkhole", remoteAddress: "10.0.0.7"}));
        diagnostics.noteRequest(note({deviceId: "0800c00128F8", remoteAddress: "10.0.0.8"}));
        expect(diagnostics.recentRequestsOf("5c00200204AB")).toHaveLength(1);
        expect(diagnostics.recentRequestsOf("5c00200204AB", ["10.0.0.7"]).map((r) => r.kind)).toStrictEqual([
            "getDevInfo",
            "sinkhole",
        ]);
    });
});

describe("redactQuery", () => {
    it.each([
        ["", ""],
        ["devicesCode=X&random=ABCDEF&token=0123456789", "devicesCode=X&random=ABCDEF&token=<redacted>"],
        [
            "pwd=a&Password=b&p=c&x=1&tok%65n=d",
            "pwd=<redacted>&Password=<redacted>&p=<redacted>&x=1&tok%65n=<redacted>",
        ],
        ["token&a=%zz", "token&a=%zz"],
    ])("%s → %s", (input, expected) => {
        expect(redactQuery(input)).toBe(expected);
    });
});
