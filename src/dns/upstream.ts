/** `dns.upstream` entries: `1.1.1.1`, `1.1.1.1:5353`, `2606:4700::1111` or `[2606:4700::1111]:53`. */
import {isIP} from "node:net";

export const DNS_PORT = 53;

export interface UpstreamServer {
    readonly address: string;
    readonly port: number;
    readonly family: 4 | 6;
}

/** Parses one upstream. Throws RangeError with a message naming the entry when it is not an IP[:port]. */
export function parseUpstream(text: string): UpstreamServer {
    const trimmed = text.trim();
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
    const withPort = /^([^:]+):(\d+)$/.exec(trimmed);
    let address = trimmed;
    let portText: string | undefined;
    if (bracketed !== null) {
        address = bracketed[1] ?? "";
        portText = bracketed[2];
    } else if (withPort !== null) {
        address = withPort[1] ?? "";
        portText = withPort[2];
    }
    const family = isIP(address);
    if (family !== 4 && family !== 6) {
        throw new RangeError(
            `dns.upstream "${text}" is not an IP address (use e.g. 1.1.1.1, 192.168.1.1:53 or [2606:4700::1111]:53)`,
        );
    }
    const port = portText === undefined ? DNS_PORT : Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new RangeError(`dns.upstream "${text}" has an invalid port`);
    }
    return {address, port, family};
}

/** Parses a single entry or a list; an empty list is an error (there must be somewhere to forward to). */
export function parseUpstreams(value: string | readonly string[]): UpstreamServer[] {
    const entries = typeof value === "string" ? [value] : [...value];
    if (entries.length === 0) {
        throw new RangeError("dns.upstream must name at least one DNS server");
    }
    return entries.map(parseUpstream);
}
