import {createSocket, type Socket as UdpSocket} from "node:dgram";
import {createServer as createHttpServer} from "node:http";
import {createServer, type Server} from "node:net";
import {afterEach, describe, expect, it} from "vitest";
import {bindUdp, describeListenFailure, ListenError, listen} from "../../src/util/listen.js";

const HOST = "127.0.0.1";
const opened: (Server | UdpSocket)[] = [];

function tcpServer(): Server {
    const server = createServer();
    server.on("error", () => undefined);
    opened.push(server);
    return server;
}

function udpSocket(): UdpSocket {
    const socket = createSocket("udp4");
    socket.on("error", () => undefined);
    opened.push(socket);
    return socket;
}

afterEach(async () => {
    await Promise.all(
        opened.splice(0).map(
            (handle) =>
                new Promise<void>((resolve) => {
                    try {
                        handle.close(() => resolve());
                    } catch {
                        resolve();
                    }
                }),
        ),
    );
});

async function rejection(promise: Promise<unknown>): Promise<ListenError> {
    try {
        await promise;
    } catch (error) {
        if (error instanceof ListenError) {
            return error;
        }
        throw error;
    }
    throw new Error("expected a ListenError");
}

describe("listen", () => {
    it("resolves with the bound port (port 0 = ephemeral), for net and http servers", async () => {
        const port = await listen(tcpServer(), 0, HOST, "cloud.tcp_port");
        expect(port).toBeGreaterThan(0);
        const http = createHttpServer();
        http.on("error", () => undefined);
        opened.push(http);
        const httpPort = await listen(http, 0, HOST, "http.port");
        expect(httpPort).toBeGreaterThan(0);
        expect(httpPort).not.toBe(port);
    });

    it("explains EADDRINUSE in one line: which port, why, what to do", async () => {
        const port = await listen(tcpServer(), 0, HOST, "first");
        const error = await rejection(listen(tcpServer(), port, HOST, "cloud.http_port"));
        expect(error.code).toBe("EADDRINUSE");
        expect(error.port).toBe(port);
        expect(error.host).toBe(HOST);
        expect(error.what).toBe("cloud.http_port");
        expect(error.message).not.toContain("\n");
        expect(error.message).toBe(
            `cannot listen on ${HOST}:${port} (cloud.http_port): address already in use by another process — ` +
                `stop it (e.g. an old fake server or mosquitto; \`ss -tlnp 'sport = :${port}'\` shows which) ` +
                "or change cloud.http_port / V720_CLOUD__HTTP_PORT",
        );
    });

    it("leaves no stray 'listening' listener after a failure, so the server can be retried", async () => {
        const port = await listen(tcpServer(), 0, HOST, "first");
        const second = tcpServer();
        await rejection(listen(second, port, HOST, "http.port"));
        expect(second.listenerCount("listening")).toBe(0);
        const retried = await listen(second, 0, HOST, "http.port");
        expect(retried).toBeGreaterThan(0);
        expect(second.listenerCount("error")).toBe(1);
    });

    it("explains EADDRNOTAVAIL for an address this machine does not have", async () => {
        // 192.0.2.1 is TEST-NET-1: never assigned to a local interface; binding sends no traffic.
        const error = await rejection(listen(tcpServer(), 0, "192.0.2.1", "http.port"));
        expect(error.code).toBe("EADDRNOTAVAIL");
        expect(error.message).toContain("cannot listen on 192.0.2.1:0 (http.port): address not available");
        expect(error.message).toContain("listen on 0.0.0.0 or one of its own addresses");
    });
});

describe("bindUdp", () => {
    it("resolves with the bound port", async () => {
        expect(await bindUdp(udpSocket(), 0, HOST, "cloud.tcp_port")).toBeGreaterThan(0);
    });

    it("explains EADDRINUSE for UDP", async () => {
        const port = await bindUdp(udpSocket(), 0, HOST, "first");
        const error = await rejection(bindUdp(udpSocket(), port, HOST, "cloud.tcp_port"));
        expect(error.code).toBe("EADDRINUSE");
        expect(error.message).toContain(
            `cannot listen on ${HOST}:${port}/udp (cloud.tcp_port): address already in use`,
        );
        expect(error.message).toContain(`ss -ulnp 'sport = :${port}'`);
        expect(error.message).toContain("V720_CLOUD__TCP_PORT");
    });
});

describe("describeListenFailure", () => {
    it("explains EACCES on a privileged port with the three ways out", () => {
        expect(describeListenFailure("EACCES", "0.0.0.0", 80, "cloud.http_port")).toBe(
            "cannot listen on 0.0.0.0:80 (cloud.http_port): permission denied — run as root, grant " +
                "CAP_NET_BIND_SERVICE, or set cloud.http_port / V720_CLOUD__HTTP_PORT to a port above 1023 " +
                "and forward 80 to it",
        );
    });

    it("does not suggest a port forward for EACCES on a high port", () => {
        const text = describeListenFailure("EACCES", "0.0.0.0", 8099, "http.port");
        expect(text).toContain("permission denied");
        expect(text).not.toContain("forward");
        expect(text).toContain("http.port / V720_HTTP__PORT");
    });

    it("brackets IPv6 addresses and keeps free-text descriptions as they are", () => {
        expect(describeListenFailure("EADDRINUSE", "::", 1883, "the embedded broker")).toContain(
            "cannot listen on [::]:1883 (the embedded broker)",
        );
        expect(describeListenFailure("EADDRINUSE", "::", 1883, "the embedded broker")).toContain(
            "or change the embedded broker",
        );
    });

    it("falls back to the system's message for other codes", () => {
        expect(describeListenFailure("EINVAL", "0.0.0.0", 1, "rtsp.port", "tcp", "invalid argument")).toBe(
            "cannot listen on 0.0.0.0:1 (rtsp.port): invalid argument — check rtsp.port / V720_RTSP__PORT",
        );
    });
});
