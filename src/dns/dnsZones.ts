/**
 * Which names the built-in responder answers itself: every name in or under a zone (protocol-notes.md §2,
 * new-firmware-notes.md §8 E0: "answer *.naxclow.com and *.naxclow.com.cn with the server IP").
 */
import {canonicalDnsName} from "../protocol/dnsPacket.js";

/** The zones cameras resolve: `naxclow.com` and `naxclow.com.cn`, bare names and every subdomain. */
export const DEFAULT_DNS_ZONES: readonly string[] = ["naxclow.com", "naxclow.com.cn"];

/**
 * Every name a Naxclow camera is known to look up (protocol-notes.md §2, new-firmware-notes.md §8/§9), for
 * docs, `doctor` and tests. All are inside DEFAULT_DNS_ZONES.
 */
export const NAXCLOW_HOST_NAMES: readonly string[] = [
    "v720.naxclow.com", // bootstrap HTTP, looked up first [CAP]
    "v720.p2p.naxclow.com", // MQTT [CAP]
    "p2p.v720.naxclow.com", // MQTT on firmware older than about 20230301 [ISSUE intx82#16]
    "dl2.naxclow.com", // firmware ≥ 202411201737, probably OTA: sinkhole [ISSUE intx82#51]
    "dl2.naxclow.com.cn",
    "home.naxclow.com",
    "logo.naxclow.com.cn",
];

/** Zone names in canonical form (lower case, no trailing dot). Throws RangeError on an empty zone. */
export function normalizeZones(zones: readonly string[]): string[] {
    return zones.map((zone) => {
        const canonical = canonicalDnsName(zone.trim()).replace(/\.$/, "");
        if (canonical.length === 0) {
            throw new RangeError("a DNS zone must not be empty");
        }
        return canonical;
    });
}

/** True when `name` equals a zone or lies under one (case-insensitive; a trailing dot is ignored). */
export function isZoneName(name: string, zones: readonly string[]): boolean {
    const canonical = canonicalDnsName(name).replace(/\.$/, "");
    return zones.some((zone) => canonical === zone || canonical.endsWith(`.${zone}`));
}
