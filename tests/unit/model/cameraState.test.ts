import {describe, expect, it} from "vitest";
import {applyCameraReport, emptyCameraState, withPresence} from "../../../src/model/cameraState.js";

describe("applyCameraReport", () => {
    it("changes only the reported keys", () => {
        const before = {...emptyCameraState("0800c00128F8"), batteryPercent: 90, wifiName: "a"};
        const after = applyCameraReport(before, {batteryPercent: 80, sdFreeMb: null}, 1000);
        expect(after).toStrictEqual({...before, batteryPercent: 80, sdFreeMb: null});
        expect(before.batteryPercent).toBe(90);
    });

    it("stores a scan with its time", () => {
        const after = applyCameraReport(emptyCameraState("x"), {wifiScan: {networks: [{ssid: "n", rssi: null}]}}, 5);
        expect(after.wifiScan).toStrictEqual([{ssid: "n", rssi: null}]);
        expect(after.wifiScanAtMs).toBe(5);
    });
});

describe("withPresence (decisions.md 9)", () => {
    it("is online with a TCP session or an MQTT Status 1", () => {
        const state = emptyCameraState("x");
        expect(withPresence(state, {tcpOnline: true}).online).toBe(true);
        expect(withPresence(state, {mqttOnline: true}).online).toBe(true);
        const both = withPresence(state, {tcpOnline: true, mqttOnline: true});
        expect(withPresence(both, {mqttOnline: false}).online).toBe(true);
        expect(withPresence(withPresence(both, {mqttOnline: false}), {tcpOnline: false}).online).toBe(false);
    });
});
