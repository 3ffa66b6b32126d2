/**
 * Which IPv4 address the responder hands out for the zone names. A configured address wins; otherwise
 * the address of this host's interface on the asking camera's subnet (what the camera can reach), and
 * as a last resort the first non-internal IPv4 address.
 */

export interface InterfaceAddress {
    readonly address: string;
    readonly netmask: string;
    readonly family: string | number;
    readonly internal: boolean;
}

/** `::ffff:192.168.1.5` → `192.168.1.5`; other strings unchanged. */
export function unmapIpv4(address: string): string {
    return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/** The interface address facing `clientAddress`, or the first external IPv4 address, or undefined. */
export function pickAnswerAddress(clientAddress: string, interfaces: readonly InterfaceAddress[]): string | undefined {
    const ipv4 = interfaces.filter((entry) => entry.family === "IPv4" || entry.family === 4);
    const client = ipv4ToNumber(unmapIpv4(clientAddress));
    if (client !== undefined) {
        for (const entry of ipv4) {
            const address = ipv4ToNumber(entry.address);
            const mask = ipv4ToNumber(entry.netmask);
            if (address !== undefined && mask !== undefined && ((address ^ client) & mask) >>> 0 === 0) {
                return entry.address;
            }
        }
    }
    return ipv4.find((entry) => !entry.internal)?.address;
}

/** True for a dotted-quad IPv4 address. */
export function isIpv4(text: string): boolean {
    return ipv4ToNumber(text) !== undefined;
}

function ipv4ToNumber(text: string): number | undefined {
    const parts = text.split(".");
    if (parts.length !== 4) {
        return undefined;
    }
    let value = 0;
    for (const part of parts) {
        if (!/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255) {
            return undefined;
        }
        value = value * 256 + Number(part);
    }
    return value >>> 0;
}
