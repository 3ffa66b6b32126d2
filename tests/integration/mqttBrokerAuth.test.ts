/**
 * The embedded camera broker's login and ACL rules (decisions.md 7) on a real aedes on 127.0.0.1:0.
 */
import {connect, type IClientOptions, type MqttClient} from "mqtt";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {type MqttCameraEvent, MqttCameraLink} from "../../src/camera/mqttCameraLink.js";
import {silentLogger} from "../../src/util/log.js";
import {TestMqttClient} from "../support/mqttHarness.js";

/** Resolves with the CONNACK return code (0 = accepted). */
function connackCode(url: string, options: IClientOptions): Promise<number> {
    return new Promise((resolve) => {
        const client = connect(url, {reconnectPeriod: 0, protocolVersion: 4, ...options});
        client.on("connect", (packet) => {
            client.end(true);
            resolve(packet.returnCode ?? 0);
        });
        client.on("error", (error) => {
            client.end(true);
            resolve((error as Error & {code?: number}).code ?? -1);
        });
    });
}

function waitClosed(client: MqttClient): Promise<void> {
    return new Promise((resolve) => {
        client.once("close", () => {
            resolve();
        });
    });
}

describe("embedded camera broker rules", () => {
    const link = new MqttCameraLink(
        {embedded: true, port: 0, host: "127.0.0.1", users: [{username: "ha", password: "secret"}]},
        silentLogger,
    );
    const events: MqttCameraEvent[] = [];
    let url: string;

    beforeAll(async () => {
        await link.start();
        link.onEvent((event) => events.push(event));
        url = `mqtt://127.0.0.1:${link.port}`;
    });

    afterAll(async () => {
        await link.stop();
    });

    it("lets a camera in with any password, literal quotes included", async () => {
        expect(
            await connackCode(url, {clientId: "0800c00128F8", username: "0800c00128F8", password: '"656f41d93b"'}),
        ).toBe(0);
        expect(await connackCode(url, {clientId: "56000b00054B", username: "56000b00054B", password: "x"})).toBe(0);
    });

    it("requires configured credentials from everyone else", async () => {
        expect(await connackCode(url, {clientId: "home-assistant"})).toBe(4);
        expect(await connackCode(url, {clientId: "home-assistant", username: "ha", password: "wrong"})).toBe(4);
        expect(await connackCode(url, {clientId: "home-assistant", username: "ha", password: "secret"})).toBe(0);
        // not a camera: client id differs from the username, or is not a device id
        expect(await connackCode(url, {clientId: "0800c00128F8", username: "0800c0020ADC", password: "x"})).toBe(4);
        expect(await connackCode(url, {clientId: "kitchen", username: "kitchen", password: "x"})).toBe(4);
    });

    it("lets the bridge's own client in with the local credentials", async () => {
        const local = link.localAccess;
        expect(local).not.toBeNull();
        expect(
            await connackCode(local?.url ?? "", {
                clientId: "bridge",
                username: local?.username ?? "",
                password: local?.password ?? "",
            }),
        ).toBe(0);
    });

    it("a camera may subscribe only its own command topic", async () => {
        const camera = await TestMqttClient.connect(url, {
            clientId: "0800c00128F8",
            username: "0800c00128F8",
            password: '"x"',
            reconnectPeriod: 0,
        });
        try {
            const own = await camera.client.subscribeAsync("Naxclow/P2P/Users/Device/sub/0800c00128F8", {qos: 1});
            expect(own.map((grant) => grant.qos)).toStrictEqual([1]);
            // SUBACK 0x80 (failure); mqtt.js turns it into a rejected promise.
            await expect(
                camera.client.subscribeAsync("Naxclow/P2P/Users/Device/sub/0800c0020ADC", {qos: 1}),
            ).rejects.toThrow(/Subscribe error/);
            await expect(camera.client.subscribeAsync("#", {qos: 0})).rejects.toThrow(/Subscribe error/);
        } finally {
            await camera.end();
        }
    });

    it("reports a camera's Status with its client id and drops it when it publishes elsewhere", async () => {
        const camera = await TestMqttClient.connect(url, {
            clientId: "0800c0107D4A",
            username: "0800c0107D4A",
            password: '"x"',
            reconnectPeriod: 0,
        });
        await camera.publish(
            "Naxclow/P2P/Users/Device/Status",
            '{"device":"0800c0107D4A","token":"NAXCLOW","status": 1}',
            {
                qos: 1,
            },
        );
        await expect.poll(() => events.some((e) => e.type === "status" && e.id === "0800c0107D4A")).toBe(true);
        const closed = waitClosed(camera.client);
        camera.client.publish("homeassistant/device/x/config", "{}", {qos: 0});
        await closed;
        await expect.poll(() => events.some((e) => e.type === "disconnected" && e.id === "0800c0107D4A")).toBe(true);
        await camera.end();
    });

    it("drops a camera that reports about another camera", async () => {
        const camera = await TestMqttClient.connect(url, {
            clientId: "0800c01A079A",
            username: "0800c01A079A",
            password: '"x"',
            reconnectPeriod: 0,
        });
        const closed = waitClosed(camera.client);
        camera.client.publish("Naxclow/P2P/Users/Device/Status", '{"device":"0800c00128F8","status": 0}', {qos: 0});
        await closed;
        expect(events.some((e) => e.type === "status" && e.id === "0800c00128F8" && !e.report.online)).toBe(false);
        await camera.end();
    });

    it("publishes commands to the camera's sub topic", async () => {
        const camera = await TestMqttClient.connect(url, {
            clientId: "0800c0064767",
            username: "0800c0064767",
            password: '"x"',
            reconnectPeriod: 0,
        });
        try {
            await camera.subscribe("Naxclow/P2P/Users/Device/sub/0800c0064767");
            expect(await link.sendCommand("0800c0064767", {code: 210, instLed: 0})).toBe(true);
            const message = await camera.next("Naxclow/P2P/Users/Device/sub/0800c0064767");
            expect(message.payload.toString("utf8")).toBe('{"code":210,"instLed":0}');
            expect(await link.sendCommand("../bad", {code: 210})).toBe(false);
        } finally {
            await camera.end();
        }
    });
});
