/**
 * PURE `Transport` header handling (RFC 2326 §12.39): parse the client's offers, pick the first one
 * we serve (unicast RTP/AVP over TCP interleaved or UDP, play mode), and format the answer.
 */

export interface TransportOffer {
    readonly protocol: "tcp" | "udp";
    readonly isMulticast: boolean;
    readonly interleaved: readonly [number, number] | undefined;
    readonly clientPort: readonly [number, number] | undefined;
    readonly mode: string | undefined;
    /** The offer as sent (for logs). */
    readonly text: string;
}

export type ChosenTransport =
    | {readonly kind: "tcp"; readonly rtpChannel: number; readonly rtcpChannel: number}
    | {readonly kind: "udp"; readonly rtpPort: number; readonly rtcpPort: number};

export function parseTransportHeader(header: string): TransportOffer[] {
    const offers: TransportOffer[] = [];
    for (const text of header.split(",")) {
        const parts = text
            .trim()
            .split(";")
            .map((part) => part.trim());
        const spec = (parts[0] ?? "").toUpperCase();
        let protocol: "tcp" | "udp";
        if (spec === "RTP/AVP" || spec === "RTP/AVP/UDP") {
            protocol = "udp";
        } else if (spec === "RTP/AVP/TCP") {
            protocol = "tcp";
        } else {
            continue;
        }
        let isMulticast = false;
        let interleaved: readonly [number, number] | undefined;
        let clientPort: readonly [number, number] | undefined;
        let mode: string | undefined;
        for (const parameter of parts.slice(1)) {
            const [rawName = "", value = ""] = parameter.split("=", 2);
            const name = rawName.toLowerCase();
            if (name === "multicast") {
                isMulticast = true;
            } else if (name === "interleaved") {
                interleaved = parseRange(value, 255);
            } else if (name === "client_port") {
                clientPort = parseRange(value, 65_535);
            } else if (name === "mode") {
                mode = value.replace(/"/g, "").toLowerCase();
            }
        }
        offers.push({protocol, isMulticast, interleaved, clientPort, mode, text: text.trim()});
    }
    return offers;
}

/** `a-b` or `a` (then b = a + 1) within 0..max; undefined when malformed. */
function parseRange(value: string, max: number): readonly [number, number] | undefined {
    const match = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(value.trim());
    if (match === null) {
        return undefined;
    }
    const first = Number(match[1]);
    const second = match[2] === undefined ? first + 1 : Number(match[2]);
    return first <= max && second <= max ? [first, second] : undefined;
}

/**
 * The first offer we can serve for track `trackIndex`, or undefined (→ 461). UDP needs a client_port
 * and a server UDP socket; TCP without `interleaved=` gets channels 2·track and 2·track+1.
 */
export function chooseTransport(
    offers: readonly TransportOffer[],
    trackIndex: number,
    isUdpAvailable: boolean,
): {offer: TransportOffer; transport: ChosenTransport} | undefined {
    for (const offer of offers) {
        if (offer.isMulticast || (offer.mode !== undefined && offer.mode !== "play")) {
            continue;
        }
        if (offer.protocol === "tcp") {
            const [rtpChannel, rtcpChannel] = offer.interleaved ?? [trackIndex * 2, trackIndex * 2 + 1];
            return {offer, transport: {kind: "tcp", rtpChannel, rtcpChannel}};
        }
        if (isUdpAvailable && offer.clientPort !== undefined && offer.clientPort[0] > 0) {
            const [rtpPort, rtcpPort] = offer.clientPort;
            return {offer, transport: {kind: "udp", rtpPort, rtcpPort}};
        }
    }
    return undefined;
}

export function formatTransport(
    transport: ChosenTransport,
    ssrc: number,
    serverPorts: readonly [number, number] | undefined,
): string {
    const ssrcText = (ssrc >>> 0).toString(16).toUpperCase().padStart(8, "0");
    if (transport.kind === "tcp") {
        return `RTP/AVP/TCP;unicast;interleaved=${transport.rtpChannel}-${transport.rtcpChannel};ssrc=${ssrcText}`;
    }
    const server = serverPorts === undefined ? "" : `;server_port=${serverPorts[0]}-${serverPorts[1]}`;
    return `RTP/AVP;unicast;client_port=${transport.rtpPort}-${transport.rtcpPort}${server};ssrc=${ssrcText}`;
}
