/**
 * The composition root wires the camera layer, the MQTT bridge and the admin API together: a simulated camera
 * (TCP + its MQTT leg) shows up in Home Assistant discovery through the real app, a switch reaches it, and
 * `forget` (API and CLI) clears it everywhere.
 */
import {execFile} from "node:child_process";
import {promisify} from "node:util";
import {afterEach, describe, expect, it} from "vitest";
import {MqttDevice} from "../../src/simulator/mqttDevice.js";
import {SimCamera} from "../../src/simulator/simCamera.js";
import {readRetained, readRetainedJson, TestMqttClient} from "../support/mqttHarness.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const run = promisify(execFile);
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

const ID = "0800c00128F8";

async function appWithBroker(): Promise<{app: TestApp; brokerUrl: string}> {
    const app = await startTestApp({
        mqtt: {enabled: true, snapshot_interval_s: 0, broker: {port: 0, host: "127.0.0.1"}},
    });
    cleanups.push(() => app.stop());
    expect(app.ports.mqttBroker).toBeGreaterThan(0);
    return {app, brokerUrl: `mqtt://127.0.0.1:${app.ports.mqttBroker}`};
}

async function cameraWithMqtt(app: TestApp, brokerUrl: string): Promise<MqttDevice> {
    const sim = new SimCamera({
        id: ID,
        serverHost: "127.0.0.1",
        httpPort: app.ports.cloudHttp,
        heartbeatIntervalMs: 1000,
    });
    cleanups.push(() => sim.close({abrupt: true}));
    sim.start();
    const device = new MqttDevice({url: brokerUrl, deviceId: ID, infoDelayMs: 10});
    cleanups.push(() => device.stop());
    await device.start();
    return device;
}

describe("app wiring", () => {
    it("publishes a camera to Home Assistant and forwards a switch to the camera", async () => {
        const {app, brokerUrl} = await appWithBroker();
        const device = await cameraWithMqtt(app, brokerUrl);
        await expect
            .poll(async () => (await readRetainedJson(brokerUrl, "homeassistant/device/+/config")).size, {
                timeout: 10_000,
            })
            .toBeGreaterThan(0);
        const discovery = await readRetainedJson(brokerUrl, `homeassistant/device/${ID}/config`);
        const payload = discovery.get(`homeassistant/device/${ID}/config`);
        expect(payload).toMatchObject({device: {identifiers: [`v720_${ID}`]}});
        const components = (payload?.["cmps"] ?? {}) as Record<string, Record<string, unknown>>;
        const ir = Object.values(components).find((component) => component["unique_id"] === `v720_${ID}_ir_led`);
        expect(ir, "IR switch in discovery").toBeDefined();
        await expect
            .poll(async () =>
                (await readRetained(brokerUrl, `v720/${ID}/availability`)).get(`v720/${ID}/availability`)?.toString(),
            )
            .toBe("online");

        const ha = await TestMqttClient.connect(brokerUrl);
        cleanups.push(() => ha.end());
        await ha.publish(String(ir?.["command_topic"]), "ON", {qos: 1});
        await expect.poll(() => device.receivedCommands.at(-1)).toEqual(JSON.parse('{"code":202,"IrLed":1}'));
        await expect.poll(() => device.setting("IrLed")).toBe(1);
    });

    it("forgets a camera through the API and the CLI", async () => {
        const {app, brokerUrl} = await appWithBroker();
        await cameraWithMqtt(app, brokerUrl);
        await expect
            .poll(async () => (await fetch(`${app.baseUrl}/api/cameras/${ID}`)).status, {timeout: 10_000})
            .toBe(200);
        await expect
            .poll(async () => (await readRetained(brokerUrl, `homeassistant/device/${ID}/config`)).size)
            .toBe(1);

        const {stdout} = await run(process.execPath, [
            "--import",
            "tsx",
            "src/main.ts",
            "forget",
            ID,
            "--url",
            app.baseUrl,
        ]);
        expect(stdout).toContain(`camera ${ID} forgotten`);
        expect((await readRetained(brokerUrl, `homeassistant/device/${ID}/config`)).size).toBe(0);
        const again = await fetch(`${app.baseUrl}/api/cameras/${ID}`, {method: "DELETE"});
        // the camera is still connected and registers again only on its next connection: until then it is unknown
        expect([200, 404]).toContain(again.status);
        const unknown = await fetch(`${app.baseUrl}/api/cameras/0800c0FFFFFF`, {method: "DELETE"});
        expect(unknown.status).toBe(404);
    });
});
