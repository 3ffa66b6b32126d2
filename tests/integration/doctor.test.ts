/**
 * `v720-bridge doctor` against the real app and real sockets on 127.0.0.1 (issue 5 item 5). Only the
 * resolver and the ffmpeg lookup are stubbed: no query leaves this machine.
 */
import {execFile} from "node:child_process";
import {createServer, type Server} from "node:net";
import {networkInterfaces} from "node:os";
import {promisify} from "node:util";
import {afterEach, describe, expect, it} from "vitest";
import type {DoctorDeps} from "../../src/doctor/checks.js";
import {runDoctorCommand} from "../../src/doctor/doctor.js";
import {systemDoctorDeps} from "../../src/doctor/systemDeps.js";
import {MqttDevice} from "../../src/simulator/mqttDevice.js";
import {SimCamera} from "../../src/simulator/simCamera.js";
import {freePort, TestMqttClient} from "../support/mqttHarness.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const run = promisify(execFile);
const ID = "0800c00128F8";
const VENDOR = "47.91.92.93";

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

/** An address of this machine that the stub resolver hands out for the camera names. */
function thisMachine(): string {
    for (const entries of Object.values(networkInterfaces())) {
        for (const entry of entries ?? []) {
            if (entry.family === "IPv4" && !entry.internal) {
                return entry.address;
            }
        }
    }
    return "127.0.0.1";
}

function deps(names: Readonly<Record<string, readonly string[]>>, lookups: string[]): DoctorDeps {
    return {
        ...systemDoctorDeps({timeoutMs: 2000, retainedWaitMs: 300}),
        lookup: (host) => {
            lookups.push(host);
            const answer = names[host];
            return answer === undefined
                ? Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), {code: "ENOTFOUND"}))
                : Promise.resolve(answer);
        },
        locateFfmpeg: () => Promise.resolve({path: "/usr/bin/ffmpeg", version: "5.1.6", hasLibx264: true}),
    };
}

async function doctor(
    env: Readonly<Record<string, string>>,
    stubs: DoctorDeps,
    argv: readonly string[] = [],
): Promise<{code: number; out: string}> {
    let out = "";
    const sink = {
        write: (text: string) => {
            out += text;
        },
    };
    const code = await runDoctorCommand(argv, {stdout: sink, stderr: sink, env}, stubs);
    return {code, out};
}

function envOf(entries: readonly (readonly [string, string | number])[]): Record<string, string> {
    return Object.fromEntries(entries.map(([key, value]) => [key, String(value)]));
}

describe("doctor against a running service", () => {
    it("reads /readyz, the broker, Home Assistant's status and the registered camera", async () => {
        const app: TestApp = await startTestApp({
            mqtt: {enabled: true, snapshot_interval_s: 0, broker: {port: 0, host: "127.0.0.1"}},
        });
        cleanups.push(() => app.stop());
        const brokerUrl = `mqtt://127.0.0.1:${app.ports.mqttBroker}`;
        const sim = new SimCamera({id: ID, serverHost: "127.0.0.1", httpPort: app.ports.cloudHttp});
        cleanups.push(() => sim.close({abrupt: true}));
        sim.start();
        const device = new MqttDevice({url: brokerUrl, deviceId: ID, infoDelayMs: 10});
        cleanups.push(() => device.stop());
        await device.start();
        const ha = await TestMqttClient.connect(brokerUrl);
        cleanups.push(() => ha.client.endAsync());
        await ha.publish("homeassistant/status", "online", {retain: true});
        await expect
            .poll(async () => ((await (await fetch(`${app.baseUrl}/api/cameras`)).json()) as unknown[]).length, {
                timeout: 10_000,
            })
            .toBe(1);

        const lookups: string[] = [];
        const here = thisMachine();
        const env = envOf([
            ["V720_HTTP__PORT", app.ports.http],
            ["V720_CLOUD__HTTP_PORT", app.ports.cloudHttp],
            ["V720_CLOUD__TCP_PORT", app.ports.tcp],
            ["V720_MQTT__BROKER__PORT", app.ports.mqttBroker ?? 0],
            ["V720_MQTT__BROKER__HOST", "127.0.0.1"],
            ["V720_MQTT__SNAPSHOT_INTERVAL_S", 0],
        ]);
        const names = {"v720.naxclow.com": [here], "v720.p2p.naxclow.com": [here]};
        await expect
            .poll(async () => (await doctor(env, deps(names, lookups))).out, {timeout: 10_000})
            .toContain("2 from v720-bridge"); // the bridge's own device and the camera's
        const {code, out} = await doctor(env, deps(names, lookups));
        expect(out).toContain(`✓ service running at http://127.0.0.1:${app.ports.http} and ready`);
        expect(out).toContain("    ✓ mqtt: connected to the Home Assistant broker");
        expect(out).not.toContain("port "); // the service holds its ports: no bind probes
        expect(out).toContain(`✓ v720.naxclow.com → ${here}`);
        expect(out).toContain(`✓ camera broker (embedded) reachable at 127.0.0.1:${app.ports.mqttBroker}`);
        expect(out).toContain(`✓ Home Assistant is online on ${brokerUrl} (homeassistant/status)`);
        expect(out).toContain("✓ 1 camera registered, 1 online");
        expect(out).toContain(`    ${ID}: online, firmware`);
        expect(code).toBe(0);
        expect(new Set(lookups)).toStrictEqual(new Set(["v720.naxclow.com", "v720.p2p.naxclow.com"]));
    }, 60_000);

    it("sends http.auth from the config to the API", async () => {
        const app = await startTestApp({http: {host: "127.0.0.1", port: 0, auth: {username: "u", password: "p"}}});
        cleanups.push(() => app.stop());
        const base = envOf([
            ["V720_HTTP__PORT", app.ports.http],
            ["V720_MQTT__ENABLED", "false"],
        ]);
        const names = {"v720.naxclow.com": ["127.0.0.1"], "v720.p2p.naxclow.com": ["127.0.0.1"]};
        const without = await doctor(base, deps(names, []));
        expect(without.out).toContain("✗ the API asks for credentials (http.auth)");
        const withAuth = await doctor(
            {
                ...base,
                ...envOf([
                    ["V720_HTTP__AUTH__USERNAME", "u"],
                    ["V720_HTTP__AUTH__PASSWORD", "p"],
                ]),
            },
            deps(names, []),
        );
        expect(withAuth.out).toContain("✗ no camera has registered yet");
        expect(withAuth.out).not.toContain("asks for credentials");
    });
});

describe("doctor without a service", () => {
    it("probes the ports for real and reports the one another process holds", async () => {
        const busy: Server = createServer();
        await new Promise<void>((resolve) => {
            busy.listen(0, "127.0.0.1", resolve);
        });
        cleanups.push(() => new Promise((resolve) => busy.close(resolve)));
        const busyPort = (busy.address() as {port: number}).port;
        const [httpPort, tcpPort, brokerPort] = [await freePort(), await freePort(), await freePort()];
        const env = envOf([
            ["V720_CLOUD__HOST", "127.0.0.1"],
            ["V720_CLOUD__HTTP_PORT", busyPort],
            ["V720_CLOUD__TCP_PORT", tcpPort],
            ["V720_HTTP__HOST", "127.0.0.1"],
            ["V720_HTTP__PORT", httpPort],
            ["V720_MQTT__BROKER__HOST", "127.0.0.1"],
            ["V720_MQTT__BROKER__PORT", brokerPort],
            ["V720_RTSP__ENABLED", "false"],
        ]);
        const {code, out} = await doctor(env, deps({"v720.naxclow.com": [VENDOR]}, []), [
            "--url",
            `http://127.0.0.1:${httpPort}`,
        ]);
        expect(code).toBe(1);
        expect(out).toContain(`- no service answers at http://127.0.0.1:${httpPort}`);
        expect(out).toContain(
            `✗ port ${busyPort}/tcp on 127.0.0.1 (cloud.http_port, camera bootstrap) cannot be opened (EADDRINUSE)`,
        );
        expect(out).toContain(`✓ port ${tcpPort}/udp on 127.0.0.1 (cloud.tcp_port, camera video and audio) is free`);
        expect(out).toContain(`✓ port ${httpPort}/tcp on 127.0.0.1 (http.port, web UI and API) is free`);
        expect(out).toContain(`✗ v720.naxclow.com → ${VENDOR}, not this machine`);
        expect(out).toContain("✗ v720.p2p.naxclow.com does not resolve (ENOTFOUND)");
    });
});

describe("doctor on the command line", () => {
    it("is a command of the CLI", async () => {
        const {stdout} = await run(process.execPath, ["--import", "tsx", "src/main.ts", "doctor", "--help"]);
        expect(stdout).toContain("Usage: v720-bridge doctor [--config FILE] [--url URL]");
        const help = await run(process.execPath, ["--import", "tsx", "src/main.ts", "--help"]);
        expect(help.stdout).toContain("doctor [--config FILE] [--url URL]");
    });
});
