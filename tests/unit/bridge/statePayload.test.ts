import {describe, expect, it} from "vitest";
import {
    buildBridgeInfoPayload,
    buildStatePayload,
    flipOption,
    flipValue,
    irLedState,
} from "../../../src/bridge/statePayload.js";
import {emptyCameraState} from "../../../src/model/cameraState.js";

describe("buildStatePayload", () => {
    it("renders unknown values as null and known ones as HA expects", () => {
        const state = {
            ...emptyCameraState("0800c00128F8"),
            online: true,
            mqttOnline: true,
            batteryPercent: 100,
            irLed: 0,
            statusLed: true,
            sdRecording: true,
            recordOnMotion: false,
            flip: 4,
            sdState: 1,
            sdCapacity: 60,
            sdFreeMb: 35359,
            sdTotalMb: 60334,
            wifiName: "intl-laptop",
            firmware: "202212011602",
            wifiScan: [{ssid: "home", rssi: -40}],
            lastSeenAtMs: Date.UTC(2023, 1, 11, 2, 13, 15),
            urls: {mjpeg: "http://h:8099/api/cameras/0800c00128F8/stream.mjpeg"},
        };
        expect(buildStatePayload(state)).toStrictEqual({
            online: true,
            tcp_online: false,
            mqtt_online: true,
            streaming: false,
            live_stream: "OFF",
            motion: "OFF",
            battery: 100,
            ir_led: "OFF",
            ir_led_raw: 0,
            status_led: "ON",
            sd_recording: "ON",
            motion_alert: null,
            record_on_motion: "OFF",
            flip: "flipped",
            motion_sensitivity: null,
            pir_sensitivity: null,
            pir_alert: null,
            sd_state: 1,
            sd_free: 35359,
            sd_capacity: 60334,
            sd_capacity_raw: 60,
            wifi_name: "intl-laptop",
            firmware: "202212011602",
            family: "classic",
            model: null,
            wake: null,
            err_status: null,
            wifi_networks: 1,
            wifi_scan: [{ssid: "home", rssi: -40}],
            last_seen: "2023-02-11T02:13:15.000Z",
            last_motion: null,
            urls: {mjpeg: "http://h:8099/api/cameras/0800c00128F8/stream.mjpeg"},
        });
    });

    it("says an MQTT-first camera wakes on demand and shows its errStatus (issue 6 item 3)", () => {
        const state = {
            ...emptyCameraState("5c00200204AB"),
            family: "mqtt-first" as const,
            model: "CloudIpc",
            wakesOnDemand: true,
            errStatus: 2,
        };
        expect(buildStatePayload(state)).toMatchObject({
            family: "mqtt-first",
            model: "CloudIpc",
            wake: "on-demand",
            err_status: 2,
        });
    });

    it("lets optimistic values override reported ones", () => {
        const state = {...emptyCameraState("0800c00128F8"), irLed: 0};
        expect(buildStatePayload(state, {ir_led: "ON"})["ir_led"]).toBe("ON");
    });

    it("[quirk] IrLed 2 (probably auto) is unknown for the switch", () => {
        expect(irLedState(2)).toBeNull();
        expect(irLedState(1)).toBe("ON");
        expect(irLedState(null)).toBeNull();
    });

    it("maps flip values and options both ways", () => {
        expect(flipOption(0)).toBe("normal");
        expect(flipOption(7)).toBeNull();
        expect(flipValue("mode 2")).toBe(2);
        expect(flipValue("sideways")).toBeUndefined();
    });

    it("builds the bridge info", () => {
        expect(buildBridgeInfoPayload({version: "1.2.3", camerasOnline: 2, camerasKnown: 3})).toStrictEqual({
            version: "1.2.3",
            cameras_online: 2,
            cameras_known: 3,
        });
    });
});
