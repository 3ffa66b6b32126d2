/**
 * `http.auth` on the real app (issue 5 item 7, decisions.md 21): every viewer, command, UI and metrics
 * route answers 401 without credentials on BOTH ports the viewer routes are served on (http.port and
 * cloud.http_port); the camera bootstrap, /healthz and /readyz stay open, so a camera still registers.
 */
import {request} from "node:http";
import {afterEach, describe, expect, it} from "vitest";
import {basicAuthorization} from "../../src/http/auth.js";
import {SimCamera} from "../../src/simulator/simCamera.js";
import {startTestApp, type TestApp} from "../support/testApp.js";

const ID = "0800c00128F8";
const CREDENTIALS = {username: "admin", password: "correct horse"};
const AUTH = {authorization: basicAuthorization(CREDENTIALS)};

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) {
        await cleanup();
    }
});

async function protectedApp(): Promise<TestApp> {
    const app = await startTestApp({http: {host: "127.0.0.1", port: 0, auth: CREDENTIALS}});
    cleanups.push(() => app.stop());
    return app;
}

const PROTECTED: readonly (readonly [method: string, path: string])[] = [
    ["GET", "/"],
    ["GET", "/ui/app.js"],
    ["GET", "/api/cameras"],
    ["GET", `/api/cameras/${ID}`],
    ["GET", `/api/cameras/${ID}/stream.mjpeg`],
    ["GET", `/api/cameras/${ID}/snapshot.jpg`],
    ["GET", `/api/cameras/${ID}/audio.wav`],
    ["GET", `/api/cameras/${ID}/state`],
    ["POST", `/api/cameras/${ID}/commands`],
    ["DELETE", `/api/cameras/${ID}`],
    ["GET", "/api/states"],
    ["GET", "/api/diagnostics"],
    ["GET", "/dev/list"],
    ["GET", `/dev/${ID}/live`],
    ["GET", "/metrics"],
];

describe("http.auth", () => {
    it("answers 401 with a Basic challenge on every viewer and command route, on both ports", async () => {
        const app = await protectedApp();
        for (const port of [app.ports.http, app.ports.cloudHttp]) {
            for (const [method, path] of PROTECTED) {
                const response = await fetch(`http://127.0.0.1:${port}${path}`, {
                    method,
                    headers: {"content-type": "application/json"},
                    ...(method === "POST" ? {body: '{"entity":"reboot","payload":"PRESS"}'} : {}),
                });
                expect(response.status, `${method} :${port}${path}`).toBe(401);
                expect(response.headers.get("www-authenticate")).toMatch(/^Basic realm="v720-bridge"/);
                await response.body?.cancel();
            }
            const wrong = await fetch(`http://127.0.0.1:${port}/api/cameras`, {
                headers: {authorization: basicAuthorization({username: "admin", password: "wrong"})},
            });
            expect(wrong.status).toBe(401);
        }
    });

    it("serves the same routes with the credentials", async () => {
        const app = await protectedApp();
        for (const port of [app.ports.http, app.ports.cloudHttp]) {
            expect((await fetch(`http://127.0.0.1:${port}/api/cameras`, {headers: AUTH})).status).toBe(200);
            expect((await fetch(`http://127.0.0.1:${port}/`, {headers: AUTH})).status).toBe(200);
            expect((await fetch(`http://127.0.0.1:${port}/metrics`, {headers: AUTH})).status).toBe(200);
        }
    });

    it("keeps /healthz, /readyz and the camera bootstrap open: a camera registers without credentials", async () => {
        const app = await protectedApp();
        expect((await fetch(`${app.baseUrl}/healthz`)).status).toBe(200);
        expect((await fetch(`${app.baseUrl}/readyz`)).status).toBe(200);
        const sim = new SimCamera({
            id: ID,
            serverHost: "127.0.0.1",
            httpPort: app.ports.cloudHttp,
            heartbeatIntervalMs: 1000,
        });
        cleanups.push(() => sim.close({abrupt: true}));
        sim.start();
        await expect
            .poll(
                async () => {
                    const response = await fetch(`${app.baseUrl}/api/cameras/${ID}`, {headers: AUTH});
                    return response.status === 200 ? ((await response.json()) as {online: boolean}).online : false;
                },
                {timeout: 10_000},
            )
            .toBe(true);
        // a camera asking for a path nobody knows (newer firmware) still gets the 404 and lands in diagnostics
        const status = await new Promise<number>((resolve, reject) => {
            const req = request(
                {
                    host: "127.0.0.1",
                    port: app.ports.cloudHttp,
                    method: "GET",
                    path: "/cloud/new/call",
                    headers: {version: "1"},
                },
                (res) => {
                    res.resume();
                    resolve(res.statusCode ?? 0);
                },
            );
            req.on("error", reject);
            req.end();
        });
        expect(status).toBe(404);
    });
});
