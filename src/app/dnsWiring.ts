/**
 * Starts the built-in DNS responder when `dns.enabled` (issue 5 item 4). Called from app.ts:
 *
 *     const dns = await startDnsIfEnabled(config.dns, config.advertiseHost, log.child("dns"));
 *     stoppers.push(() => dns.stop());
 *
 * The answered address is, in order: `dns.answer_address`; `advertise_host` when it is an IPv4 address
 * or a name that resolves to one at start-up; otherwise, per query, this host's address on the asking
 * camera's subnet (the address the camera can reach).
 */
import {lookup} from "node:dns/promises";
import {networkInterfaces} from "node:os";
import {type InterfaceAddress, isIpv4, pickAnswerAddress} from "../dns/answerAddress.js";
import {DnsServer, type DnsServerStats} from "../dns/dnsServer.js";
import {DEFAULT_DNS_ZONES} from "../dns/dnsZones.js";
import {parseUpstreams, type UpstreamServer} from "../dns/upstream.js";
import type {Logger} from "../util/log.js";

/** The `dns:` config slice in camelCase (YAML keys in the report: enabled, host, port, upstream, …). */
export interface DnsSettings {
    readonly enabled: boolean;
    /** Default "0.0.0.0". */
    readonly host?: string;
    /** Default 53. */
    readonly port?: number;
    /** One server or a list: `1.1.1.1`, `192.168.1.1:53`, `[2606:4700::1111]:53`. Default "1.1.1.1". */
    readonly upstream?: string | readonly string[];
    /** The IPv4 address to answer; null/undefined → advertise_host or the interface facing the camera. */
    readonly answerAddress?: string | null;
    /** Default 60. */
    readonly answerTtlS?: number;
    /** Default 2000. */
    readonly upstreamTimeoutMs?: number;
    /** Default 1024. */
    readonly maxPending?: number;
    /** Default ["naxclow.com", "naxclow.com.cn"]. */
    readonly zones?: readonly string[];
    /** Log every query at info. Default false. */
    readonly logQueries?: boolean;
}

export const DNS_DEFAULTS = {
    host: "0.0.0.0",
    port: 53,
    upstream: "1.1.1.1",
    answerTtlS: 60,
    upstreamTimeoutMs: 2000,
    maxPending: 1024,
} as const;

export interface DnsHandle {
    /** The bound UDP port, or undefined when DNS is disabled. */
    readonly port: number | undefined;
    /** Counters for /metrics, or undefined when DNS is disabled. */
    stats(): DnsServerStats | undefined;
    stop(): Promise<void>;
}

export interface DnsWiringDeps {
    /** Default os.networkInterfaces, flattened. */
    readonly interfaces?: () => readonly InterfaceAddress[];
    /** Resolves a host name to one IPv4 address; default the system resolver (dns.lookup, family 4). */
    readonly resolveIpv4?: (host: string) => Promise<string>;
}

/** How long the interface list is reused between queries. */
const INTERFACE_CACHE_MS = 10_000;

/**
 * Starts the responder when `settings.enabled`, else returns a handle that does nothing. Rejects with a
 * ListenError naming `dns.port` when the port cannot be bound (port 53 needs root or
 * CAP_NET_BIND_SERVICE), or a RangeError for an unusable `dns.upstream` / `dns.answer_address`.
 */
export async function startDnsIfEnabled(
    settings: DnsSettings,
    advertiseHost: string | null | undefined,
    log: Logger,
    deps: DnsWiringDeps = {},
): Promise<DnsHandle> {
    if (!settings.enabled) {
        return {port: undefined, stats: () => undefined, stop: () => Promise.resolve()};
    }
    const upstream = parseUpstreams(settings.upstream ?? DNS_DEFAULTS.upstream);
    const port = settings.port ?? DNS_DEFAULTS.port;
    const interfaces = deps.interfaces ?? systemInterfaces;
    checkNotSelf(upstream, port, interfaces());
    const fixed = await fixedAnswerAddress(settings, advertiseHost, log, deps.resolveIpv4 ?? systemResolveIpv4);
    let cached: {atMs: number; list: readonly InterfaceAddress[]} | undefined;
    const answerAddressFor = (client: string): string | undefined => {
        if (fixed !== undefined) {
            return fixed;
        }
        const nowMs = Date.now();
        if (cached === undefined || nowMs - cached.atMs > INTERFACE_CACHE_MS) {
            cached = {atMs: nowMs, list: interfaces()};
        }
        return pickAnswerAddress(client, cached.list);
    };
    const server = new DnsServer(
        {
            host: settings.host ?? DNS_DEFAULTS.host,
            port,
            upstream,
            zones: settings.zones ?? DEFAULT_DNS_ZONES,
            answerTtlS: settings.answerTtlS ?? DNS_DEFAULTS.answerTtlS,
            upstreamTimeoutMs: settings.upstreamTimeoutMs ?? DNS_DEFAULTS.upstreamTimeoutMs,
            maxPending: settings.maxPending ?? DNS_DEFAULTS.maxPending,
            answerAddressFor,
            logQueries: settings.logQueries ?? false,
        },
        log,
    );
    const boundPort = await server.start();
    if (fixed === undefined) {
        log.info(
            "DNS answers carry this host's address on the asking camera's subnet (set dns.answer_address to fix one)",
        );
    }
    return {port: boundPort, stats: () => server.stats(), stop: () => server.stop()};
}

async function fixedAnswerAddress(
    settings: DnsSettings,
    advertiseHost: string | null | undefined,
    log: Logger,
    resolveIpv4: (host: string) => Promise<string>,
): Promise<string | undefined> {
    const configured = settings.answerAddress ?? undefined;
    if (configured !== undefined) {
        if (!isIpv4(configured)) {
            throw new RangeError(
                `dns.answer_address must be an IPv4 address (cameras only ask for A records), got "${configured}"`,
            );
        }
        return configured;
    }
    if (advertiseHost === null || advertiseHost === undefined) {
        return undefined;
    }
    if (isIpv4(advertiseHost)) {
        return advertiseHost;
    }
    if (advertiseHost.includes(":")) {
        log.warn(
            `advertise_host ${advertiseHost} is IPv6; cameras need IPv4, so DNS answers use the interface address`,
        );
        return undefined;
    }
    try {
        const address = await resolveIpv4(advertiseHost);
        log.info(`advertise_host ${advertiseHost} resolves to ${address}; DNS answers carry that address`);
        return address;
    } catch (error) {
        log.warn(
            `advertise_host ${advertiseHost} does not resolve to an IPv4 address (${error instanceof Error ? error.message : String(error)}); DNS answers use the interface address`,
        );
        return undefined;
    }
}

/** Refuses an upstream that is this responder itself (every forwarded query would loop). */
function checkNotSelf(
    upstream: readonly UpstreamServer[],
    port: number,
    interfaces: readonly InterfaceAddress[],
): void {
    const own = new Set(interfaces.map((entry) => entry.address.toLowerCase()));
    for (const server of upstream) {
        const address = server.address.toLowerCase();
        const isOwn = own.has(address) || address.startsWith("127.") || address === "::1" || address === "0.0.0.0";
        if (port !== 0 && server.port === port && isOwn) {
            throw new RangeError(
                `dns.upstream ${server.address}:${server.port} is this DNS responder itself; use your router or a public resolver`,
            );
        }
    }
}

function systemInterfaces(): InterfaceAddress[] {
    return Object.values(networkInterfaces()).flatMap((entries) => entries ?? []);
}

async function systemResolveIpv4(host: string): Promise<string> {
    const result = await lookup(host, {family: 4});
    return result.address;
}
