/** startDnsIfEnabled: what app.ts gets (issue 5 item 4), on 127.0.0.1 with a stub upstream, no dig needed. */
import dgram from "node:dgram";
import {once} from "node:events";
import {afterEach, describe, expect, it} from "vitest";
import {type DnsHandle, startDnsIfEnabled} from "../../src/app/dnsWiring.js";
import type {InterfaceAddress} from "../../src/dns/answerAddress.js";
import {
    DnsClass,
    type DnsMessage,
    DnsType,
    decodeDnsMessage,
    decodeIpv4,
    encodeDnsMessage,
} from "../../src/protocol/dnsPacket.js";
import {ListenError} from "../../src/util/listen.js";
import {silentLogger} from "../../src/util/log.js";

const handles: DnsHandle[] = [];
const sockets: dgram.Socket[] = [];

afterEach(async () => {
    await Promise.all(handles.splice(0).map((handle) => handle.stop()));
    await Promise.all(sockets.splice(0).map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))));
});

const LOOPBACK: InterfaceAddress = {address: "127.0.0.1", netmask: "255.0.0.0", family: "IPv4", internal: true};
const LAN: InterfaceAddress = {address: "192.168.7.2", netmask: "255.255.255.0", family: "IPv4", internal: false};

async function udpSocket(): Promise<dgram.Socket> {
    const socket = dgram.createSocket("udp4");
    sockets.push(socket);
    socket.on("error", () => undefined);
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    return socket;
}

async function resolveA(port: number, name: string): Promise<string | undefined> {
    const socket = await udpSocket();
    const query: DnsMessage = {
        id: 4242,
        flags: {qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: 0, rcode: 0},
        questions: [{name, type: DnsType.a, dnsClass: DnsClass.in}],
        answers: [],
        authorities: [],
        additionals: [],
    };
    socket.send(encodeDnsMessage(query), port, "127.0.0.1");
    const [raw] = (await once(socket, "message")) as [Buffer];
    const [answer] = decodeDnsMessage(raw).answers;
    return answer === undefined ? undefined : decodeIpv4(answer.data);
}

async function start(
    settings: Parameters<typeof startDnsIfEnabled>[0],
    advertiseHost: string | null,
    deps: Parameters<typeof startDnsIfEnabled>[3] = {},
): Promise<DnsHandle> {
    const upstream = await udpSocket(); // never answers; nothing here is forwarded
    const handle = await startDnsIfEnabled(
        {host: "127.0.0.1", port: 0, upstream: `127.0.0.1:${upstream.address().port}`, ...settings},
        advertiseHost,
        silentLogger,
        {interfaces: () => [LOOPBACK, LAN], ...deps},
    );
    handles.push(handle);
    return handle;
}

describe("startDnsIfEnabled", () => {
    it("does nothing when dns.enabled is false", async () => {
        const handle = await startDnsIfEnabled({enabled: false}, "10.0.0.1", silentLogger);
        expect(handle.port).toBeUndefined();
        expect(handle.stats()).toBeUndefined();
        await handle.stop();
    });

    it("answers with dns.answer_address first", async () => {
        const handle = await start({enabled: true, answerAddress: "10.1.1.1"}, "10.2.2.2");
        expect(await resolveA(handle.port ?? 0, "v720.naxclow.com")).toBe("10.1.1.1");
        expect(handle.stats()).toMatchObject({answeredLocally: 1});
    });

    it("answers with an IPv4 advertise_host", async () => {
        const handle = await start({enabled: true}, "10.2.2.2");
        expect(await resolveA(handle.port ?? 0, "v720.p2p.naxclow.com")).toBe("10.2.2.2");
    });

    it("resolves a host-name advertise_host once at start-up", async () => {
        const asked: string[] = [];
        const handle = await start({enabled: true}, "bridge.lan", {
            resolveIpv4: (host) => {
                asked.push(host);
                return Promise.resolve("10.3.3.3");
            },
        });
        expect(await resolveA(handle.port ?? 0, "v720.naxclow.com")).toBe("10.3.3.3");
        expect(await resolveA(handle.port ?? 0, "dl2.naxclow.com.cn")).toBe("10.3.3.3");
        expect(asked).toStrictEqual(["bridge.lan"]);
    });

    it("falls back to the interface facing the client (here loopback) when nothing is configured", async () => {
        const handle = await start({enabled: true}, null);
        expect(await resolveA(handle.port ?? 0, "v720.naxclow.com")).toBe("127.0.0.1");
        const unresolvable = await start({enabled: true}, "nowhere.invalid", {
            resolveIpv4: () => Promise.reject(new Error("ENOTFOUND")),
        });
        expect(await resolveA(unresolvable.port ?? 0, "v720.naxclow.com")).toBe("127.0.0.1");
    });

    it("answers custom zones", async () => {
        const handle = await start({enabled: true, answerAddress: "10.4.4.4", zones: ["example.internal"]}, null);
        expect(await resolveA(handle.port ?? 0, "cam.example.internal")).toBe("10.4.4.4");
    });

    it("rejects an upstream that is the responder itself, and a non-IPv4 answer address", async () => {
        await expect(
            startDnsIfEnabled({enabled: true, port: 5353, upstream: "127.0.0.1:5353"}, null, silentLogger),
        ).rejects.toThrow(/is this DNS responder itself/);
        await expect(
            startDnsIfEnabled(
                {enabled: true, port: 0, answerAddress: "fe80::1", upstream: "127.0.0.1"},
                null,
                silentLogger,
            ),
        ).rejects.toThrow(/dns.answer_address must be an IPv4 address/);
        await expect(startDnsIfEnabled({enabled: true, upstream: []}, null, silentLogger)).rejects.toThrow(
            /at least one DNS server/,
        );
        await expect(startDnsIfEnabled({enabled: true, upstream: "dns.google"}, null, silentLogger)).rejects.toThrow(
            /is not an IP address/,
        );
    });

    it("names dns.port when the port is taken", async () => {
        const taken = await udpSocket();
        const error = await startDnsIfEnabled(
            {enabled: true, host: "127.0.0.1", port: taken.address().port, upstream: "127.0.0.1:9"},
            null,
            silentLogger,
        ).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ListenError);
        expect(String((error as ListenError).message)).toMatch(/dns\.port.*address already in use/);
    });
});
