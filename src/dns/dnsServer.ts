/**
 * The built-in DNS responder (issue 5 item 4), UDP only: answers the Naxclow zones with the advertised
 * IPv4 address and forwards every other query to `dns.upstream`, relaying the answer.
 *
 * Forwarding: each forwarded query gets a fresh random id (the pending table maps it back to the client
 * and its own id), is sent from one socket per address family, and waits `upstreamTimeoutMs`; then the
 * next upstream is tried, and after the last one the client gets SERVFAIL. An upstream answer is relayed
 * only when it comes from an upstream, is a response, carries a pending id and repeats the question.
 * The pending table is bounded (`maxPending`): beyond it, queries are answered SERVFAIL at once.
 *
 * Bad input never crashes the server: an undecodable query is counted and dropped with a rate-limited
 * log line (hex preview); junk from upstream likewise.
 */
import {randomInt} from "node:crypto";
import dgram from "node:dgram";
import {
    canonicalDnsName,
    type DnsMessage,
    type DnsQuestion,
    DnsRcode,
    decodeDnsMessage,
    encodeDnsMessage,
    withDnsId,
} from "../protocol/dnsPacket.js";
import {ProtocolError} from "../protocol/errors.js";
import {assertNever} from "../util/assertNever.js";
import {hexPreview} from "../util/hex.js";
import {bindUdp} from "../util/listen.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {buildErrorResponse, buildLocalAnswer, decideQuery} from "./dnsAnswers.js";
import {isZoneName, normalizeZones} from "./dnsZones.js";
import type {UpstreamServer} from "./upstream.js";

export interface DnsServerOptions {
    /** Bind address; an address containing ":" binds an IPv6 socket. */
    readonly host: string;
    /** UDP port (53 in production; 0 picks a free one). */
    readonly port: number;
    /** Where other queries go, tried in order on timeout. At least one. */
    readonly upstream: readonly UpstreamServer[];
    /** Zones answered locally (bare name and every subdomain), e.g. ["naxclow.com", "naxclow.com.cn"]. */
    readonly zones: readonly string[];
    /** TTL of the local A answers, seconds. */
    readonly answerTtlS: number;
    /** How long to wait for one upstream before trying the next (or answering SERVFAIL). */
    readonly upstreamTimeoutMs: number;
    /** Forwarded queries in flight at most; more are answered SERVFAIL at once. */
    readonly maxPending: number;
    /** The IPv4 address to answer for a query from `clientAddress`; undefined → SERVFAIL. */
    readonly answerAddressFor: (clientAddress: string) => string | undefined;
    /** Log every query at info (new-firmware-notes.md §8 E0) instead of debug. */
    readonly logQueries?: boolean;
    /** Config key named in bind errors; default "dns.port". */
    readonly portSetting?: string;
}

export interface DnsServerStats {
    queries: number;
    answeredLocally: number;
    forwarded: number;
    relayed: number;
    upstreamTimeouts: number;
    servFail: number;
    formErr: number;
    /** Queries that did not decode (dropped). */
    malformed: number;
    /** Responses sent to the server port (dropped). */
    unexpectedResponses: number;
    /** Upstream datagrams dropped: undecodable, unknown id, wrong source or question. */
    badUpstream: number;
    /** Queries refused because the pending table was full. */
    pendingFull: number;
    /** Forwarded queries in flight now. */
    pending: number;
}

interface Pending {
    readonly id: number;
    readonly query: DnsMessage;
    readonly raw: Buffer;
    readonly question: DnsQuestion | undefined;
    readonly clientAddress: string;
    readonly clientPort: number;
    upstreamIndex: number;
    timer: NodeJS.Timeout | undefined;
}

/** Names logged at info once per client (bounded), so a camera's boot shows up without flooding the log. */
const MAX_SEEN_LOOKUPS = 256;

export class DnsServer {
    readonly #options: DnsServerOptions;
    readonly #log: Logger;
    readonly #zones: readonly string[];
    readonly #badInput = new RateLimitedCounter();
    readonly #pending = new Map<number, Pending>();
    readonly #seenLookups = new Set<string>();
    readonly #stats: Omit<DnsServerStats, "pending"> = {
        queries: 0,
        answeredLocally: 0,
        forwarded: 0,
        relayed: 0,
        upstreamTimeouts: 0,
        servFail: 0,
        formErr: 0,
        malformed: 0,
        unexpectedResponses: 0,
        badUpstream: 0,
        pendingFull: 0,
    };
    #socket: dgram.Socket | undefined;
    readonly #upstreamSockets = new Map<4 | 6, dgram.Socket>();
    #port: number | undefined;

    constructor(options: DnsServerOptions, log: Logger) {
        if (options.upstream.length === 0) {
            throw new RangeError("the DNS responder needs at least one upstream server");
        }
        if (!(Number.isInteger(options.maxPending) && options.maxPending >= 1 && options.maxPending <= 32_768)) {
            throw new RangeError(`maxPending must be an integer 1..32768, got ${options.maxPending}`);
        }
        this.#options = options;
        this.#log = log;
        this.#zones = normalizeZones(options.zones);
    }

    /** The bound UDP port once started. */
    get port(): number | undefined {
        return this.#port;
    }

    /** Binds the server socket and the upstream sockets. Rejects with a ListenError naming `dns.port`. */
    async start(): Promise<number> {
        const {host, port} = this.#options;
        const socket = dgram.createSocket({type: host.includes(":") ? "udp6" : "udp4"});
        socket.on("error", (error) => this.#log.warn(`DNS socket error: ${error.message}`));
        socket.on("message", (message, remote) => this.#handleQuery(message, remote.address, remote.port));
        this.#socket = socket;
        try {
            this.#port = await bindUdp(socket, port, host, this.#options.portSetting ?? "dns.port");
            for (const family of new Set(this.#options.upstream.map((server) => server.family))) {
                const upstream = dgram.createSocket({type: family === 6 ? "udp6" : "udp4"});
                upstream.on("error", (error) => this.#log.warn(`DNS upstream socket error: ${error.message}`));
                upstream.on("message", (message, remote) => this.#handleUpstream(message, remote.address, remote.port));
                this.#upstreamSockets.set(family, upstream);
                await bindUdp(upstream, 0, family === 6 ? "::" : "0.0.0.0", "dns upstream socket");
            }
        } catch (error) {
            await this.stop();
            throw error;
        }
        const upstreams = this.#options.upstream.map((server) => formatEndpoint(server.address, server.port));
        this.#log.info(
            `DNS responder on ${formatEndpoint(host, this.#port)}/udp: ${this.#zones.map((zone) => `*.${zone}`).join(", ")} → advertised address; other names → ${upstreams.join(", ")}`,
        );
        return this.#port;
    }

    /** Closes every socket; pending queries are dropped. Idempotent. */
    async stop(): Promise<void> {
        for (const pending of this.#pending.values()) {
            clearTimeout(pending.timer);
        }
        this.#pending.clear();
        const sockets = [this.#socket, ...this.#upstreamSockets.values()].filter(
            (socket): socket is dgram.Socket => socket !== undefined,
        );
        this.#socket = undefined;
        this.#upstreamSockets.clear();
        await Promise.all(sockets.map(closeSocket));
    }

    stats(): DnsServerStats {
        return {...this.#stats, pending: this.#pending.size};
    }

    // ---- queries from clients ------------------------------------------------------------------

    #handleQuery(raw: Buffer, clientAddress: string, clientPort: number): void {
        let query: DnsMessage;
        try {
            query = decodeDnsMessage(raw);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#stats.malformed += 1;
            this.#warnBad(
                "malformed-query",
                `malformed DNS query from ${clientAddress} dropped: ${error.message}`,
                raw,
            );
            return;
        }
        if (query.flags.qr) {
            this.#stats.unexpectedResponses += 1;
            this.#warnBad(
                "unexpected-response",
                `DNS response from ${clientAddress} sent to the query port dropped`,
                raw,
            );
            return;
        }
        this.#stats.queries += 1;
        try {
            this.#answer(query, raw, clientAddress, clientPort);
        } catch (error) {
            this.#log.error("DNS query handler failed", {error, client: clientAddress});
        }
    }

    #answer(query: DnsMessage, raw: Buffer, clientAddress: string, clientPort: number): void {
        const decision = decideQuery(query, (name) => isZoneName(name, this.#zones));
        switch (decision.kind) {
            case "local": {
                const address = this.#options.answerAddressFor(clientAddress);
                this.#logLookup(clientAddress, decision.name, decision.type, address);
                if (address === undefined) {
                    this.#stats.servFail += 1;
                    this.#warnBad(
                        "no-address",
                        `no IPv4 address to answer ${decision.name} for ${clientAddress}: set advertise_host or dns.answer_address`,
                        raw,
                    );
                } else {
                    this.#stats.answeredLocally += 1;
                }
                this.#reply(buildLocalAnswer(query, address, this.#options.answerTtlS), clientAddress, clientPort);
                return;
            }
            case "reject":
                this.#stats.formErr += 1;
                this.#log.debug(() => `DNS ${decision.reason} from ${clientAddress}: rcode ${decision.rcode}`);
                this.#reply(buildErrorResponse(query, decision.rcode), clientAddress, clientPort);
                return;
            case "forward":
                this.#forward(query, raw, clientAddress, clientPort);
                return;
            default:
                assertNever(decision);
        }
    }

    #forward(query: DnsMessage, raw: Buffer, clientAddress: string, clientPort: number): void {
        const [question] = query.questions;
        this.#log.debug(
            () =>
                `DNS ${clientAddress} ${question === undefined ? "(no question)" : question.name} type ${question?.type ?? "-"} → upstream`,
        );
        if (this.#pending.size >= this.#options.maxPending) {
            this.#stats.pendingFull += 1;
            this.#stats.servFail += 1;
            this.#warnBad("pending-full", `${this.#pending.size} DNS queries in flight; answering SERVFAIL`, raw);
            this.#reply(buildErrorResponse(query, DnsRcode.servFail), clientAddress, clientPort);
            return;
        }
        const pending: Pending = {
            id: this.#freshId(),
            query,
            raw,
            question,
            clientAddress,
            clientPort,
            upstreamIndex: 0,
            timer: undefined,
        };
        this.#pending.set(pending.id, pending);
        this.#stats.forwarded += 1;
        this.#sendUpstream(pending);
    }

    #sendUpstream(pending: Pending): void {
        const server = this.#options.upstream[pending.upstreamIndex];
        const socket = server === undefined ? undefined : this.#upstreamSockets.get(server.family);
        if (server === undefined || socket === undefined) {
            this.#fail(pending);
            return;
        }
        socket.send(withDnsId(pending.raw, pending.id), server.port, server.address, (error) => {
            if (error !== null && error !== undefined) {
                this.#log.debug(
                    () => `DNS send to ${formatEndpoint(server.address, server.port)} failed: ${error.message}`,
                );
            }
        });
        clearTimeout(pending.timer);
        pending.timer = setTimeout(() => this.#timeout(pending), this.#options.upstreamTimeoutMs);
    }

    #timeout(pending: Pending): void {
        if (this.#pending.get(pending.id) !== pending) {
            return;
        }
        this.#stats.upstreamTimeouts += 1;
        const server = this.#options.upstream[pending.upstreamIndex];
        this.#log.debug(
            () =>
                `DNS upstream ${server === undefined ? "?" : formatEndpoint(server.address, server.port)} did not answer ${pending.question?.name ?? "a query"} within ${this.#options.upstreamTimeoutMs} ms`,
        );
        pending.upstreamIndex += 1;
        if (pending.upstreamIndex < this.#options.upstream.length) {
            this.#sendUpstream(pending);
        } else {
            this.#fail(pending);
        }
    }

    #fail(pending: Pending): void {
        clearTimeout(pending.timer);
        this.#pending.delete(pending.id);
        this.#stats.servFail += 1;
        this.#warnBad(
            "upstream-timeout",
            `no upstream DNS server answered ${pending.question?.name ?? "a query"}; answering SERVFAIL (check dns.upstream)`,
            pending.raw,
        );
        this.#reply(buildErrorResponse(pending.query, DnsRcode.servFail), pending.clientAddress, pending.clientPort);
    }

    /** A random id not in use (the table is at most half the id space, so this ends quickly). */
    #freshId(): number {
        for (;;) {
            const id = randomInt(0, 0x1_0000);
            if (!this.#pending.has(id)) {
                return id;
            }
        }
    }

    // ---- answers from upstream -----------------------------------------------------------------

    #handleUpstream(raw: Buffer, address: string, port: number): void {
        const fromUpstream = this.#options.upstream.some(
            (server) => server.port === port && sameAddress(server.address, address),
        );
        let response: DnsMessage;
        try {
            response = decodeDnsMessage(raw);
        } catch (error) {
            if (!(error instanceof ProtocolError)) {
                throw error;
            }
            this.#stats.badUpstream += 1;
            this.#warnBad(
                "bad-upstream",
                `undecodable DNS answer from ${address}:${port} dropped: ${error.message}`,
                raw,
            );
            return;
        }
        const pending = this.#pending.get(response.id);
        if (!fromUpstream || !response.flags.qr || pending === undefined || !sameQuestion(pending, response)) {
            this.#stats.badUpstream += 1;
            this.#warnBad(
                "bad-upstream",
                `unexpected DNS answer from ${address}:${port} (id ${response.id}) dropped: ${fromUpstream ? "no matching query" : "not an upstream"}`,
                raw,
            );
            return;
        }
        clearTimeout(pending.timer);
        this.#pending.delete(pending.id);
        this.#stats.relayed += 1;
        this.#send(withDnsId(raw, pending.query.id), pending.clientAddress, pending.clientPort);
    }

    // ---- output --------------------------------------------------------------------------------

    #reply(message: DnsMessage, address: string, port: number): void {
        this.#send(encodeDnsMessage(message), address, port);
    }

    #send(bytes: Buffer, address: string, port: number): void {
        const socket = this.#socket;
        if (socket === undefined) {
            return;
        }
        socket.send(bytes, port, address, (error) => {
            if (error !== null && error !== undefined) {
                this.#log.debug(() => `DNS answer to ${address}:${port} failed: ${error.message}`);
            }
        });
    }

    #logLookup(client: string, name: string, type: number, address: string | undefined): void {
        const line = (): string => `DNS ${client} asked ${name} (type ${type}) → ${address ?? "SERVFAIL"}`;
        const key = `${client} ${canonicalDnsName(name)}`;
        if (
            this.#options.logQueries === true ||
            (this.#seenLookups.size < MAX_SEEN_LOOKUPS && !this.#seenLookups.has(key))
        ) {
            this.#seenLookups.add(key);
            this.#log.info(line);
        } else {
            this.#log.debug(line);
        }
    }

    #warnBad(kind: string, message: string, raw: Uint8Array): void {
        const suppressed = this.#badInput.hit(kind);
        if (suppressed === undefined) {
            return;
        }
        const more = suppressed > 0 ? ` (${suppressed} more since the last report)` : "";
        this.#log.warn(`${message}${more}`, {raw: hexPreview(raw)});
    }
}

function sameQuestion(pending: Pending, response: DnsMessage): boolean {
    const asked = pending.question;
    const [answered] = response.questions;
    if (asked === undefined || answered === undefined) {
        return asked === answered;
    }
    return (
        asked.type === answered.type &&
        asked.dnsClass === answered.dnsClass &&
        canonicalDnsName(asked.name) === canonicalDnsName(answered.name)
    );
}

function sameAddress(configured: string, observed: string): boolean {
    const strip = (value: string): string => (value.startsWith("::ffff:") ? value.slice(7) : value).toLowerCase();
    return strip(configured) === strip(observed);
}

function formatEndpoint(host: string, port: number): string {
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function closeSocket(socket: dgram.Socket): Promise<void> {
    return new Promise((resolve) => {
        try {
            socket.close(() => resolve());
        } catch (error) {
            if (!(error instanceof Error)) {
                throw error;
            }
            resolve(); // not running (bind failed): nothing to close
        }
    });
}
