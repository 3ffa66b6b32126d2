/**
 * The built-in DNS responder (issue 5 item 4) with a real resolver client: `dig` from Debian bind9-dnsutils,
 * against the responder on 127.0.0.1 (ephemeral port). Other names are forwarded to a stub upstream in this
 * file, also on 127.0.0.1: no test sends anything to a non-loopback address.
 *
 * decisions.md 15: without dig the dig tests skip with a message locally and FAIL under CI=true. The raw
 * socket tests below them need nothing installed.
 */
import {execFile} from "node:child_process";
import dgram from "node:dgram";
import {once} from "node:events";
import {existsSync} from "node:fs";
import {afterAll, beforeAll, describe, expect, it} from "vitest";
import {DnsServer} from "../../src/dns/dnsServer.js";
import {NAXCLOW_HOST_NAMES} from "../../src/dns/dnsZones.js";
import {parseUpstream} from "../../src/dns/upstream.js";
import {
    DnsClass,
    type DnsMessage,
    DnsRcode,
    DnsType,
    decodeDnsMessage,
    decodeIpv4,
    encodeDnsMessage,
    encodeIpv4,
} from "../../src/protocol/dnsPacket.js";
import {silentLogger} from "../../src/util/log.js";

const ADVERTISED = "10.20.30.40";
const FORWARDED_ADDRESS = "198.51.100.7";

const isCi = process.env["CI"] === "true";
const DIG = ["/usr/bin/dig", "/bin/dig"].find((path) => existsSync(path));
const hasDig = DIG !== undefined;

/** A stub upstream DNS server on 127.0.0.1: answers forward.test, NXDOMAIN for nx.test, silence for slow.test. */
class StubUpstream {
    readonly queries: DnsMessage[] = [];
    readonly socket = dgram.createSocket("udp4");
    port = 0;

    async start(): Promise<void> {
        this.socket.on("error", () => undefined);
        this.socket.on("message", (raw, remote) => {
            const query = decodeDnsMessage(raw);
            this.queries.push(query);
            const [question] = query.questions;
            const name = question?.name.toLowerCase() ?? "";
            if (name.startsWith("slow.")) {
                return;
            }
            const isForward = name === "forward.test" && question?.type === DnsType.a;
            const response: DnsMessage = {
                id: query.id,
                flags: {
                    ...query.flags,
                    qr: true,
                    ra: true,
                    rcode: name === "nx.test" ? DnsRcode.nxDomain : DnsRcode.noError,
                },
                questions: query.questions,
                answers:
                    isForward && question !== undefined
                        ? [
                              {
                                  name: question.name,
                                  type: DnsType.a,
                                  dnsClass: DnsClass.in,
                                  ttl: 123,
                                  data: encodeIpv4(FORWARDED_ADDRESS),
                              },
                          ]
                        : [],
                authorities: [],
                additionals: [],
            };
            this.socket.send(encodeDnsMessage(response), remote.port, remote.address);
        });
        this.socket.bind(0, "127.0.0.1");
        await once(this.socket, "listening");
        this.port = this.socket.address().port;
    }

    async stop(): Promise<void> {
        await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    }
}

interface DigResult {
    readonly stdout: string;
    readonly status: string | undefined;
}

/** Runs dig asynchronously (the responder runs in this process, so spawnSync would deadlock). */
function dig(port: number, ...args: string[]): Promise<DigResult> {
    return new Promise((resolve, reject) => {
        execFile(
            DIG ?? "dig",
            ["@127.0.0.1", "-p", String(port), "+tries=1", "+time=3", ...args],
            {timeout: 10_000},
            (error, stdout) => {
                if (error !== null && !stdout.includes("status:")) {
                    reject(error);
                    return;
                }
                resolve({stdout, status: /status: ([A-Z]+)/.exec(stdout)?.[1]});
            },
        );
    });
}

async function digShort(port: number, name: string, type = "A"): Promise<string> {
    const {stdout} = await dig(port, name, type, "+short");
    return stdout.trim();
}

let upstream: StubUpstream;
let server: DnsServer;
let port: number;

beforeAll(async () => {
    upstream = new StubUpstream();
    await upstream.start();
    server = new DnsServer(
        {
            host: "127.0.0.1",
            port: 0,
            upstream: [parseUpstream(`127.0.0.1:${upstream.port}`)],
            zones: ["naxclow.com", "naxclow.com.cn"],
            answerTtlS: 60,
            upstreamTimeoutMs: 300,
            maxPending: 64,
            answerAddressFor: () => ADVERTISED,
        },
        silentLogger,
    );
    port = await server.start();
});

afterAll(async () => {
    await server.stop();
    await upstream.stop();
});

describe.runIf(hasDig || isCi)("DNS responder with dig", () => {
    it("dig is installed (bind9-dnsutils)", () => {
        expect(hasDig, "dig is not installed: apt-get install -y bind9-dnsutils (required under CI=true)").toBe(true);
    });

    it("answers v720.naxclow.com A with the advertised address", async () => {
        expect(await digShort(port, "v720.naxclow.com")).toBe(ADVERTISED);
    });

    it.each(NAXCLOW_HOST_NAMES)("answers %s (a name cameras look up) with the advertised address", async (name) => {
        expect(await digShort(port, name)).toBe(ADVERTISED);
    });

    it("answers the bare zones, any subdomain and any letter case, with AA and the TTL", async () => {
        expect(await digShort(port, "naxclow.com")).toBe(ADVERTISED);
        expect(await digShort(port, "naxclow.com.cn")).toBe(ADVERTISED);
        expect(await digShort(port, "a.b.c.NaxClow.COM")).toBe(ADVERTISED);
        const {stdout, status} = await dig(port, "v720.naxclow.com", "A", "+noall", "+answer", "+comments");
        expect(status).toBe("NOERROR");
        expect(stdout).toMatch(/flags: qr aa rd ra;/);
        expect(stdout).toMatch(/v720\.naxclow\.com\.\s+60\s+IN\s+A\s+10\.20\.30\.40/);
    });

    it("answers AAAA for a zone name with NOERROR and no records, so cameras fall back to A", async () => {
        const {stdout, status} = await dig(port, "v720.naxclow.com", "AAAA");
        expect(status).toBe("NOERROR");
        expect(stdout).toMatch(/ANSWER: 0,/);
    });

    it("answers without EDNS too", async () => {
        expect((await dig(port, "v720.p2p.naxclow.com", "A", "+noedns", "+short")).stdout.trim()).toBe(ADVERTISED);
    });

    it("forwards other names to the upstream and relays its answer", async () => {
        const before = upstream.queries.length;
        expect(await digShort(port, "forward.test")).toBe(FORWARDED_ADDRESS);
        expect(upstream.queries.length).toBe(before + 1);
        expect(upstream.queries.at(-1)?.questions[0]?.name).toBe("forward.test");
        const {status} = await dig(port, "nx.test", "A");
        expect(status).toBe("NXDOMAIN");
        // Not forwarded: names that only look like the zone.
        expect(await digShort(port, "evilnaxclow.com")).toBe("");
        expect(upstream.queries.at(-1)?.questions[0]?.name).toBe("evilnaxclow.com");
    });

    it("answers SERVFAIL when the upstream stays silent", async () => {
        const {status} = await dig(port, "slow.test", "A");
        expect(status).toBe("SERVFAIL");
    });

    it("ignores malformed queries and keeps answering", async () => {
        const before = server.stats().malformed;
        await sendRaw(port, [
            Buffer.from("hello"),
            Buffer.from("0001010000010000000000000377777706", "hex"), // label runs past the end
            Buffer.from("000201000001000000000000c00c00010001", "hex"), // pointer to itself
            Buffer.alloc(700, 0xff),
        ]);
        await expect.poll(() => server.stats().malformed).toBe(before + 4);
        expect(await digShort(port, "v720.naxclow.com")).toBe(ADVERTISED);
        expect(await digShort(port, "forward.test")).toBe(FORWARDED_ADDRESS);
    });
});

describe.skipIf(hasDig || isCi)("DNS responder with dig (skipped)", () => {
    it("skipped: dig is not installed (apt-get install -y bind9-dnsutils)", () => undefined);
});

// ---- raw sockets: no dig needed -----------------------------------------------------------------

function sendRaw(target: number, datagrams: readonly Buffer[]): Promise<void> {
    const socket = dgram.createSocket("udp4");
    socket.on("error", () => undefined);
    return new Promise((resolve) => {
        let left = datagrams.length;
        for (const datagram of datagrams) {
            socket.send(datagram, target, "127.0.0.1", () => {
                left -= 1;
                if (left === 0) {
                    socket.close(() => resolve());
                }
            });
        }
    });
}

/** Sends `queries` from one socket and collects `count` answers. */
async function ask(target: number, queries: readonly DnsMessage[], count = queries.length): Promise<DnsMessage[]> {
    const socket = dgram.createSocket("udp4");
    socket.on("error", () => undefined);
    const answers: DnsMessage[] = [];
    const done = new Promise<void>((resolve) => {
        socket.on("message", (raw) => {
            answers.push(decodeDnsMessage(raw));
            if (answers.length === count) {
                resolve();
            }
        });
    });
    socket.bind(0, "127.0.0.1");
    await once(socket, "listening");
    for (const query of queries) {
        socket.send(encodeDnsMessage(query), target, "127.0.0.1");
    }
    await done;
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    return answers;
}

function query(id: number, name: string, type: number = DnsType.a): DnsMessage {
    return {
        id,
        flags: {qr: false, opcode: 0, aa: false, tc: false, rd: true, ra: false, z: 0, rcode: 0},
        questions: [{name, type, dnsClass: DnsClass.in}],
        answers: [],
        authorities: [],
        additionals: [],
    };
}

describe("DNS responder over raw sockets", () => {
    it("maps ids: two clients' queries with the same id each get their own answer", async () => {
        const seenBefore = upstream.queries.length;
        const [first, second] = await Promise.all([
            ask(port, [query(7, "forward.test")]),
            ask(port, [query(7, "Forward.Test"), query(8, "v720.naxclow.com")]),
        ]);
        expect(first?.[0]).toMatchObject({id: 7, flags: {qr: true, rcode: 0}});
        expect(decodeIpv4(first?.[0]?.answers[0]?.data ?? Buffer.alloc(0))).toBe(FORWARDED_ADDRESS);
        const byId = new Map(second?.map((answer) => [answer.id, answer]));
        expect(byId.get(7)?.questions[0]?.name).toBe("Forward.Test"); // the case the client sent comes back
        expect(decodeIpv4(byId.get(7)?.answers[0]?.data ?? Buffer.alloc(0))).toBe(FORWARDED_ADDRESS);
        expect(decodeIpv4(byId.get(8)?.answers[0]?.data ?? Buffer.alloc(0))).toBe(ADVERTISED);
        // Both forwarded queries reached the upstream under distinct fresh ids; the zone name never did.
        const forwarded = upstream.queries.slice(seenBefore);
        expect(forwarded.map((message) => message.questions[0]?.name.toLowerCase())).toStrictEqual([
            "forward.test",
            "forward.test",
        ]);
        expect(new Set(forwarded.map((message) => message.id)).size).toBe(2);
        expect(server.stats().pending).toBe(0);
    });

    it("answers a query without a question FORMERR and drops datagrams that are responses", async () => {
        const empty = {...query(9, "x"), questions: []};
        const [answer] = await ask(port, [empty]);
        expect(answer).toMatchObject({id: 9, flags: {qr: true, rcode: DnsRcode.formErr}});
        const before = server.stats().unexpectedResponses;
        const response = {...query(10, "v720.naxclow.com"), flags: {...query(10, "x").flags, qr: true}};
        await sendRaw(port, [encodeDnsMessage(response)]);
        await expect.poll(() => server.stats().unexpectedResponses).toBe(before + 1);
    });

    it("drops upstream answers from the wrong port or for another question (then SERVFAIL)", async () => {
        const liar = dgram.createSocket("udp4");
        const other = dgram.createSocket("udp4");
        for (const socket of [liar, other]) {
            socket.on("error", () => undefined);
            socket.bind(0, "127.0.0.1");
            await once(socket, "listening");
        }
        liar.on("message", (raw, remote) => {
            const asked = decodeDnsMessage(raw);
            const answer = (name: string): Buffer =>
                encodeDnsMessage({
                    ...asked,
                    flags: {...asked.flags, qr: true},
                    questions: [{name, type: DnsType.a, dnsClass: DnsClass.in}],
                    answers: [{name, type: DnsType.a, dnsClass: DnsClass.in, ttl: 1, data: encodeIpv4("203.0.113.66")}],
                });
            other.send(answer(asked.questions[0]?.name ?? ""), remote.port, remote.address); // right id, wrong port
            liar.send(answer("poisoned.example"), remote.port, remote.address); // right port, wrong question
        });
        const guarded = new DnsServer(
            {
                host: "127.0.0.1",
                port: 0,
                upstream: [parseUpstream(`127.0.0.1:${liar.address().port}`)],
                zones: ["naxclow.com"],
                answerTtlS: 5,
                upstreamTimeoutMs: 200,
                maxPending: 8,
                answerAddressFor: () => ADVERTISED,
            },
            silentLogger,
        );
        const guardedPort = await guarded.start();
        try {
            const [answer] = await ask(guardedPort, [query(12, "forward.test")]);
            expect(answer).toMatchObject({id: 12, flags: {rcode: DnsRcode.servFail}, answers: []});
            expect(guarded.stats()).toMatchObject({badUpstream: 2, relayed: 0, upstreamTimeouts: 1});
        } finally {
            await guarded.stop();
            await Promise.all(
                [liar, other].map((socket) => new Promise<void>((resolve) => socket.close(() => resolve()))),
            );
        }
    });

    it("answers SERVFAIL at once when the pending table is full", async () => {
        const small = new DnsServer(
            {
                host: "127.0.0.1",
                port: 0,
                upstream: [parseUpstream(`127.0.0.1:${upstream.port}`)],
                zones: ["naxclow.com"],
                answerTtlS: 5,
                upstreamTimeoutMs: 2000,
                maxPending: 2,
                answerAddressFor: () => undefined,
            },
            silentLogger,
        );
        const smallPort = await small.start();
        try {
            const answers = await ask(smallPort, [query(1, "slow.a"), query(2, "slow.b"), query(3, "slow.c")], 1);
            expect(answers[0]).toMatchObject({id: 3, flags: {rcode: DnsRcode.servFail}});
            expect(small.stats()).toMatchObject({pending: 2, pendingFull: 1});
            // No address to advertise → SERVFAIL for zone names, with a counted warning.
            const [noAddress] = await ask(smallPort, [query(4, "v720.naxclow.com")]);
            expect(noAddress).toMatchObject({id: 4, flags: {rcode: DnsRcode.servFail}});
        } finally {
            await small.stop();
        }
    });

    it("tries the next upstream when the first one is silent", async () => {
        const silent = dgram.createSocket("udp4");
        silent.on("error", () => undefined);
        silent.bind(0, "127.0.0.1");
        await once(silent, "listening");
        let silentQueries = 0;
        silent.on("message", () => {
            silentQueries += 1;
        });
        const failover = new DnsServer(
            {
                host: "127.0.0.1",
                port: 0,
                upstream: [
                    parseUpstream(`127.0.0.1:${silent.address().port}`),
                    parseUpstream(`127.0.0.1:${upstream.port}`),
                ],
                zones: ["naxclow.com"],
                answerTtlS: 5,
                upstreamTimeoutMs: 150,
                maxPending: 8,
                answerAddressFor: () => ADVERTISED,
            },
            silentLogger,
        );
        const failoverPort = await failover.start();
        try {
            const [answer] = await ask(failoverPort, [query(5, "forward.test")]);
            expect(decodeIpv4(answer?.answers[0]?.data ?? Buffer.alloc(0))).toBe(FORWARDED_ADDRESS);
            expect(silentQueries).toBe(1);
            expect(failover.stats()).toMatchObject({upstreamTimeouts: 1, relayed: 1, pending: 0});
        } finally {
            await failover.stop();
            await new Promise<void>((resolve) => silent.close(() => resolve()));
        }
    });
});
