/** The real DoctorDeps: system resolver, interfaces, sockets, fetch, ffmpeg lookup and one MQTT client. */
import {createSocket} from "node:dgram";
import {lookup} from "node:dns/promises";
import {connect, createServer} from "node:net";
import {networkInterfaces} from "node:os";
import {connectAsync} from "mqtt";
import {locateFfmpeg} from "../media/ffmpegLocator.js";
import {silentLogger} from "../util/log.js";
import type {DoctorDeps, HttpAnswer, LocalAddress} from "./checks.js";

export interface SystemDepsOptions {
    /** HTTP and TCP deadline. Default 3000. */
    readonly timeoutMs?: number | undefined;
    /** How long retained messages are collected after subscribing. Default 1500. */
    readonly retainedWaitMs?: number | undefined;
}

export function systemDoctorDeps(options: SystemDepsOptions = {}): DoctorDeps {
    const timeoutMs = options.timeoutMs ?? 3000;
    const retainedWaitMs = options.retainedWaitMs ?? 1500;
    return {
        lookup: async (host) => (await lookup(host, {all: true})).map((entry) => entry.address),
        localAddresses: () => {
            const addresses: LocalAddress[] = [];
            for (const entries of Object.values(networkInterfaces())) {
                for (const entry of entries ?? []) {
                    addresses.push({address: entry.address, family: entry.family, internal: entry.internal});
                }
            }
            return addresses;
        },
        getJson: (url, headers) => getJson(url, headers, timeoutMs),
        probeBind,
        tcpConnect: (host, port) => tcpConnect(host, port, timeoutMs),
        locateFfmpeg: async (configuredPath) => {
            const found = await locateFfmpeg({configuredPath}, silentLogger);
            return found === undefined
                ? undefined
                : {path: found.path, version: found.version, hasLibx264: found.encoders.has("libx264")};
        },
        readRetained: (url, credentials, topics) => readRetained(url, credentials, topics, timeoutMs, retainedWaitMs),
    };
}

async function getJson(
    url: string,
    headers: Readonly<Record<string, string>>,
    timeoutMs: number,
): Promise<HttpAnswer | undefined> {
    let response: Response;
    try {
        response = await fetch(url, {
            headers: {accept: "application/json", ...headers},
            signal: AbortSignal.timeout(timeoutMs),
        });
    } catch {
        return undefined; // refused, timed out, no route: nothing answers there
    }
    const text = await response.text().catch(() => "");
    let body: unknown = null;
    try {
        body = JSON.parse(text);
    } catch {
        body = null;
    }
    return {status: response.status, body};
}

function probeBind(protocol: "tcp" | "udp", host: string, port: number): Promise<string | undefined> {
    return new Promise((resolve) => {
        const codeOf = (error: Error): string =>
            "code" in error && typeof error.code === "string" ? error.code : error.message;
        if (protocol === "udp") {
            const socket = createSocket(host.includes(":") ? "udp6" : "udp4");
            socket.once("error", (error) => {
                socket.close();
                resolve(codeOf(error));
            });
            socket.bind(port, host, () => {
                socket.close(() => resolve(undefined));
            });
            return;
        }
        const server = createServer();
        server.once("error", (error) => resolve(codeOf(error)));
        server.listen({port, host, exclusive: true}, () => {
            server.close(() => resolve(undefined));
        });
    });
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
        const socket = connect({host, port});
        const timer = setTimeout(() => {
            socket.destroy();
            resolve("timeout");
        }, timeoutMs);
        socket.once("connect", () => {
            clearTimeout(timer);
            socket.end();
            resolve(undefined);
        });
        socket.once("error", (error: Error) => {
            clearTimeout(timer);
            resolve("code" in error && typeof error.code === "string" ? error.code : error.message);
        });
    });
}

async function readRetained(
    url: string,
    credentials: {readonly username: string | null; readonly password: string | null},
    topics: readonly string[],
    timeoutMs: number,
    waitMs: number,
): Promise<ReadonlyMap<string, string>> {
    const client = await connectAsync(url, {
        clientId: `v720-doctor-${process.pid}`,
        connectTimeout: timeoutMs,
        reconnectPeriod: 0,
        clean: true,
        ...(credentials.username === null ? {} : {username: credentials.username}),
        ...(credentials.password === null ? {} : {password: credentials.password}),
    });
    const retained = new Map<string, string>();
    client.on("error", () => undefined);
    client.on("message", (topic, payload, packet) => {
        if (packet.retain) {
            retained.set(topic, payload.toString("utf8"));
        }
    });
    try {
        await client.subscribeAsync([...topics], {qos: 0});
        // Retained messages follow the SUBACK at once; a short wait collects them.
        await new Promise((resolve) => setTimeout(resolve, waitMs));
    } finally {
        await client.endAsync(true);
    }
    return retained;
}
