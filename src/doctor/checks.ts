/**
 * The checks of `v720-bridge doctor` (issue 5 item 5). Each returns CheckResults (✓/✗ with the fix);
 * every outside effect goes through DoctorDeps so tests can stub it. Network use is limited to: the
 * system resolver (lookups of the two camera names and of advertise_host), loopback or configured-broker
 * TCP connects, the running service's own HTTP API, and one MQTT subscription on the configured broker.
 */
import type {Config} from "../config/schema.js";
import {describeListenFailure} from "../util/listen.js";

export type CheckStatus = "ok" | "fail" | "warn" | "skip";

export interface CheckResult {
    readonly status: CheckStatus;
    readonly title: string;
    /** Extra lines shown under the title. */
    readonly details?: readonly string[] | undefined;
    /** What to do, for ✗ and ! lines. */
    readonly fix?: string | undefined;
}

export interface LocalAddress {
    readonly address: string;
    readonly family: "IPv4" | "IPv6";
    readonly internal: boolean;
}

export interface FfmpegInfo {
    readonly path: string;
    readonly version: string;
    readonly hasLibx264: boolean;
}

export interface HttpAnswer {
    readonly status: number;
    readonly body: unknown;
}

export interface DoctorDeps {
    /** The system resolver (getaddrinfo): every address of `host`. Rejects with the resolver's error. */
    lookup(host: string): Promise<readonly string[]>;
    localAddresses(): readonly LocalAddress[];
    /** GET `url` (JSON body or null), or undefined when nothing answers within the deadline. */
    getJson(url: string, headers: Readonly<Record<string, string>>): Promise<HttpAnswer | undefined>;
    /** Opens and closes a listener: undefined when it could be opened, else the error code (EADDRINUSE, EACCES). */
    probeBind(protocol: "tcp" | "udp", host: string, port: number): Promise<string | undefined>;
    /** TCP connect: undefined on success, else the error code or "timeout". */
    tcpConnect(host: string, port: number): Promise<string | undefined>;
    locateFfmpeg(configuredPath: string | null): Promise<FfmpegInfo | undefined>;
    /** Retained messages on `topics` (MQTT wildcards allowed) within a short wait; rejects when the broker refuses. */
    readRetained(
        url: string,
        credentials: {readonly username: string | null; readonly password: string | null},
        topics: readonly string[],
    ): Promise<ReadonlyMap<string, string>>;
}

/** The names the cameras resolve first (protocol-notes.md §2): bootstrap HTTP and MQTT. */
export const CAMERA_HOST_NAMES = ["v720.naxclow.com", "v720.p2p.naxclow.com"] as const;

export interface ServiceStatus {
    /** The service answered /readyz or /healthz. */
    readonly isRunning: boolean;
    readonly results: readonly CheckResult[];
}

interface ReadinessBody {
    readonly status?: unknown;
    readonly checks?: readonly {readonly name?: unknown; readonly ok?: unknown; readonly detail?: unknown}[];
}

/** Is the service running at `baseUrl`, and ready (servers listening, broker connected)? */
export async function checkService(baseUrl: string, deps: DoctorDeps): Promise<ServiceStatus> {
    const answer = await deps.getJson(`${baseUrl}/readyz`, {});
    if (answer === undefined) {
        return {
            isRunning: false,
            results: [
                {
                    status: "skip",
                    title: `no service answers at ${baseUrl} (checking that its ports are free instead)`,
                },
            ],
        };
    }
    if (answer.status === 404) {
        const health = await deps.getJson(`${baseUrl}/healthz`, {});
        const isUp = health?.status === 200;
        return {
            isRunning: isUp,
            results: [
                {
                    status: isUp ? "ok" : "fail",
                    title: isUp
                        ? `service running at ${baseUrl} (an older version without /readyz)`
                        : `something answers at ${baseUrl}, but it is not v720-bridge`,
                    fix: isUp ? undefined : "point --url at the bridge's http.port, or free that port for it",
                },
            ],
        };
    }
    const body = (typeof answer.body === "object" && answer.body !== null ? answer.body : {}) as ReadinessBody;
    const checks = Array.isArray(body.checks) ? body.checks : [];
    const details = checks.map(
        (check) =>
            `${check.ok === true ? "✓" : "✗"} ${String(check.name)}${typeof check.detail === "string" ? `: ${check.detail}` : ""}`,
    );
    if (answer.status === 200) {
        return {isRunning: true, results: [{status: "ok", title: `service running at ${baseUrl} and ready`, details}]};
    }
    const failed = checks.filter((check) => check.ok !== true).map((check) => String(check.name));
    return {
        isRunning: true,
        results: [
            {
                status: "fail",
                title: `service running at ${baseUrl} but not ready (${failed.join(", ") || `HTTP ${answer.status}`})`,
                details,
                fix: failed.includes("mqtt")
                    ? "the bridge cannot reach the Home Assistant broker: see the broker line below and the service log"
                    : "see the service log for the listener that failed",
            },
        ],
    };
}

interface Listener {
    readonly protocol: "tcp" | "udp";
    readonly host: string;
    readonly port: number;
    readonly key: string;
    readonly purpose: string;
}

/** Every socket the service opens with this config. */
export function listenersOf(config: Config): Listener[] {
    const listeners: Listener[] = [
        {
            protocol: "tcp",
            host: config.cloud.host,
            port: config.cloud.httpPort,
            key: "cloud.http_port",
            purpose: "camera bootstrap",
        },
        {
            protocol: "tcp",
            host: config.cloud.host,
            port: config.cloud.tcpPort,
            key: "cloud.tcp_port",
            purpose: "camera control",
        },
        {
            protocol: "udp",
            host: config.cloud.host,
            port: config.cloud.tcpPort,
            key: "cloud.tcp_port",
            purpose: "camera video and audio",
        },
        {protocol: "tcp", host: config.http.host, port: config.http.port, key: "http.port", purpose: "web UI and API"},
    ];
    if (config.mqtt.enabled && config.mqtt.broker.embedded) {
        listeners.push({
            protocol: "tcp",
            host: config.mqtt.broker.host,
            port: config.mqtt.broker.port,
            key: "mqtt.broker.port",
            purpose: "embedded MQTT broker",
        });
    }
    if (config.rtsp.enabled) {
        listeners.push({protocol: "tcp", host: "0.0.0.0", port: config.rtsp.port, key: "rtsp.port", purpose: "RTSP"});
    }
    if (config.dns.enabled) {
        listeners.push({
            protocol: "udp",
            host: config.dns.host,
            port: config.dns.port,
            key: "dns.port",
            purpose: "built-in DNS",
        });
    }
    return listeners;
}

/** Ports free and bindable (only meaningful while the service is not running). */
export async function checkPorts(config: Config, deps: DoctorDeps): Promise<CheckResult[]> {
    const results: CheckResult[] = [];
    for (const listener of listenersOf(config)) {
        const where = `${listener.port}/${listener.protocol} on ${listener.host} (${listener.key}, ${listener.purpose})`;
        if (listener.port === 0) {
            results.push({status: "skip", title: `${where}: any free port`});
            continue;
        }
        const code = await deps.probeBind(listener.protocol, listener.host, listener.port);
        results.push(
            code === undefined
                ? {status: "ok", title: `port ${where} is free`}
                : {
                      status: "fail",
                      title: `port ${where} cannot be opened (${code})`,
                      fix: describeListenFailure(code, listener.host, listener.port, listener.key, listener.protocol),
                  },
        );
    }
    return results;
}

/** The addresses that count as "this host": its interfaces, advertise_host and dns.answer_address. */
export async function hostAddresses(config: Config, deps: DoctorDeps): Promise<{all: Set<string>; lan: string[]}> {
    const all = new Set<string>();
    const lan: string[] = [];
    for (const entry of deps.localAddresses()) {
        all.add(entry.address);
        if (!entry.internal && entry.family === "IPv4") {
            lan.push(entry.address);
        }
    }
    if (config.dns.answerAddress !== null) {
        all.add(config.dns.answerAddress);
    }
    if (config.advertiseHost !== null) {
        all.add(config.advertiseHost);
        if (!isIpAddress(config.advertiseHost)) {
            for (const address of await deps.lookup(config.advertiseHost).catch(() => [])) {
                all.add(address);
            }
        }
    }
    return {all, lan};
}

/** advertise_host: set and local, set and foreign (NAT/Docker), or unset. */
export async function checkAdvertisedAddress(config: Config, deps: DoctorDeps): Promise<CheckResult> {
    const local = deps.localAddresses().map((entry) => entry.address);
    const lan = deps
        .localAddresses()
        .filter((entry) => !entry.internal && entry.family === "IPv4")
        .map((entry) => entry.address);
    const host = config.advertiseHost;
    if (host === null) {
        return {
            status: "ok",
            title: "advertise_host is not set: each camera is told the address it reached the bridge on",
            details: [
                `stream URLs use ${lan[0] ?? "127.0.0.1"}; this machine's LAN addresses: ${lan.join(", ") || "none"}`,
            ],
            fix: "set advertise_host when the cameras reach the bridge through NAT or a Docker bridge network",
        };
    }
    const addresses = isIpAddress(host) ? [host] : await deps.lookup(host).catch(() => [] as string[]);
    if (addresses.length === 0) {
        return {
            status: "fail",
            title: `advertise_host ${host} does not resolve`,
            fix: "set advertise_host to this machine's LAN IP address (or a name your DNS resolves to it)",
        };
    }
    if (addresses.some((address) => local.includes(address))) {
        return {status: "ok", title: `advertise_host ${host} is an address of this machine`};
    }
    return {
        status: "warn",
        title: `advertise_host ${isIpAddress(host) ? host : `${host} (${addresses.join(", ")})`} is not an address of this machine`,
        details: [`this machine: ${lan.join(", ") || "no LAN address"}`],
        fix: "fine behind a port forward or Docker bridge networking; otherwise set advertise_host to one of this machine's addresses",
    };
}

/** v720.naxclow.com and v720.p2p.naxclow.com through the system resolver → this host? */
export async function checkCameraNames(config: Config, deps: DoctorDeps): Promise<CheckResult[]> {
    const {all, lan} = await hostAddresses(config, deps);
    const target = config.dns.answerAddress ?? config.advertiseHost ?? lan[0] ?? "<this machine's IP>";
    const fix =
        `make *.naxclow.com resolve to ${target} for the cameras: a dnsmasq/Pi-hole line ` +
        `address=/naxclow.com/${target}, or dns.enabled: true with this machine as the cameras' DNS server ` +
        "(README section 'DNS'). If only the cameras use that DNS server, check it with " +
        `\`dig @<that server> v720.naxclow.com\` instead`;
    const results: CheckResult[] = [];
    for (const name of CAMERA_HOST_NAMES) {
        let addresses: readonly string[];
        try {
            addresses = await deps.lookup(name);
        } catch (error) {
            const code = error instanceof Error && "code" in error ? String(error.code) : String(error);
            results.push({status: "fail", title: `${name} does not resolve (${code})`, fix});
            continue;
        }
        const mine = addresses.filter((address) => all.has(address));
        if (mine.length > 0 && mine.every(isLoopback)) {
            results.push({
                status: "warn",
                title: `${name} → ${addresses.join(", ")}: loopback, only this machine can use it (an /etc/hosts line?)`,
                fix,
            });
        } else if (mine.length > 0) {
            results.push({status: "ok", title: `${name} → ${addresses.join(", ")} (this machine)`});
        } else {
            results.push({
                status: "fail",
                title: `${name} → ${addresses.join(", ") || "nothing"}, not this machine (the vendor cloud?)`,
                fix,
            });
        }
    }
    return results;
}

export async function checkFfmpeg(config: Config, deps: DoctorDeps): Promise<CheckResult> {
    const found = await deps.locateFfmpeg(config.media.ffmpegPath);
    if (found === undefined) {
        return {
            status: "fail",
            title: "ffmpeg not found: RTSP and HLS are unavailable (MJPEG, snapshots and audio still work)",
            fix: "install it (Debian: apt-get install ffmpeg) or set media.ffmpeg_path / FFMPEG_PATH",
        };
    }
    if (!found.hasLibx264) {
        return {
            status: "fail",
            title: `ffmpeg ${found.version} at ${found.path} has no libx264 encoder: RTSP and HLS are unavailable`,
            fix: "use a build with libx264, e.g. Debian's ffmpeg package",
        };
    }
    return {status: "ok", title: `ffmpeg ${found.version} at ${found.path} (libx264)`};
}

export interface BrokerTarget {
    readonly role: string;
    readonly url: string;
    readonly host: string;
    readonly port: number;
}

/** Where the cameras' broker and the Home Assistant broker are, as the service would use them. */
export function brokerTargets(config: Config): {
    camera: BrokerTarget | undefined;
    homeAssistant: BrokerTarget | undefined;
} {
    const {mqtt} = config;
    if (!mqtt.enabled) {
        return {camera: undefined, homeAssistant: undefined};
    }
    const embeddedHost = isWildcard(mqtt.broker.host) ? "127.0.0.1" : mqtt.broker.host;
    const camera = mqtt.broker.embedded
        ? target("camera broker (embedded)", `mqtt://${bracket(embeddedHost)}:${mqtt.broker.port}`)
        : target("camera broker", mqtt.broker.url ?? "");
    const homeAssistant = mqtt.url === null ? camera : target("Home Assistant broker", mqtt.url);
    return {camera, homeAssistant};
}

export async function checkBrokers(config: Config, deps: DoctorDeps, isRunning: boolean): Promise<CheckResult[]> {
    if (!config.mqtt.enabled) {
        return [{status: "skip", title: "MQTT is disabled (mqtt.enabled: false): no Home Assistant discovery"}];
    }
    const {camera, homeAssistant} = brokerTargets(config);
    const results: CheckResult[] = [];
    const targets = [camera, homeAssistant === camera ? undefined : homeAssistant];
    for (const broker of targets) {
        if (broker === undefined) {
            continue;
        }
        if (config.mqtt.broker.embedded && broker === camera && !isRunning) {
            results.push({status: "skip", title: `${broker.role} starts with the service (port checked above)`});
            continue;
        }
        if (broker.port === 0) {
            results.push({status: "fail", title: `${broker.role}: cannot read host and port from ${broker.url}`});
            continue;
        }
        const code = await deps.tcpConnect(broker.host, broker.port);
        results.push(
            code === undefined
                ? {status: "ok", title: `${broker.role} reachable at ${broker.host}:${broker.port}`}
                : {
                      status: "fail",
                      title: `${broker.role} at ${broker.host}:${broker.port} is not reachable (${code})`,
                      fix:
                          broker === camera && !config.mqtt.broker.embedded
                              ? "start the broker or fix mqtt.broker.url; the cameras connect to v720.p2p.naxclow.com:1883, so it must listen there"
                              : "start the broker or fix mqtt.url (and mqtt.username / mqtt.password)",
                  },
        );
    }
    return results;
}

/** Has Home Assistant announced itself on the broker, and is our discovery there? */
export async function checkHomeAssistant(config: Config, deps: DoctorDeps, isRunning: boolean): Promise<CheckResult> {
    const {homeAssistant} = brokerTargets(config);
    const {mqtt} = config;
    if (homeAssistant === undefined) {
        return {status: "skip", title: "Home Assistant discovery: MQTT is disabled"};
    }
    if (mqtt.broker.embedded && mqtt.url === null && !isRunning) {
        return {status: "skip", title: "Home Assistant discovery: the embedded broker runs with the service"};
    }
    const prefix = mqtt.discoveryPrefix;
    let retained: ReadonlyMap<string, string>;
    try {
        retained = await deps.readRetained(homeAssistant.url, {username: mqtt.username, password: mqtt.password}, [
            mqtt.haStatusTopic,
            `${prefix}/#`,
        ]);
    } catch (error) {
        return {
            status: "fail",
            title: `cannot read ${homeAssistant.url}: ${error instanceof Error ? error.message : String(error)}`,
            fix: "check mqtt.url, mqtt.username and mqtt.password (with mqtt.broker.users set, the bridge's user must be one of them)",
        };
    }
    let ours = 0;
    let others = 0;
    for (const [topic, payload] of retained) {
        if (topic.startsWith(`${prefix}/`) && topic !== mqtt.haStatusTopic && payload !== "") {
            if (payload.includes('"v720_')) {
                ours += 1;
            } else {
                others += 1;
            }
        }
    }
    const details = [`retained under ${prefix}/: ${ours} from v720-bridge, ${others} from other integrations`];
    if (retained.get(mqtt.haStatusTopic) === "online") {
        return {
            status: "ok",
            title: `Home Assistant is online on ${homeAssistant.url} (${mqtt.haStatusTopic})`,
            details,
        };
    }
    return {
        status: ours + others > 0 ? "ok" : "warn",
        title:
            ours + others > 0
                ? `discovery prefix "${prefix}" is in use on ${homeAssistant.url}`
                : `no discovery messages under "${prefix}/" on ${homeAssistant.url} yet`,
        details: [
            ...details,
            `no retained "online" on ${mqtt.haStatusTopic}: Home Assistant sends it unretained by default, so this proves nothing`,
        ],
        fix:
            ours + others > 0
                ? undefined
                : `in Home Assistant, Settings → Devices & services → MQTT must use this broker and the discovery prefix "${prefix}"`,
    };
}

interface CameraJsonLike {
    readonly id?: unknown;
    readonly online?: unknown;
    readonly firmware?: unknown;
    readonly fps?: unknown;
}

/** Cameras registered so far (and unknown camera requests), from the running service's API. */
export async function checkCameras(
    baseUrl: string,
    headers: Readonly<Record<string, string>>,
    deps: DoctorDeps,
    isRunning: boolean,
): Promise<CheckResult[]> {
    if (!isRunning) {
        return [{status: "skip", title: "cameras: start the service first (v720-bridge serve), then run doctor again"}];
    }
    const answer = await deps.getJson(`${baseUrl}/api/cameras`, headers);
    if (answer?.status === 401) {
        return [
            {
                status: "fail",
                title: "the API asks for credentials (http.auth)",
                fix: "run doctor with the same config as the service (--config FILE), which holds http.auth",
            },
        ];
    }
    if (answer === undefined || answer.status !== 200 || !Array.isArray(answer.body)) {
        return [{status: "fail", title: `GET ${baseUrl}/api/cameras failed (${answer?.status ?? "no answer"})`}];
    }
    const cameras = answer.body as CameraJsonLike[];
    const results: CheckResult[] = [];
    if (cameras.length === 0) {
        results.push({
            status: "fail",
            title: "no camera has registered yet",
            fix:
                "power-cycle the camera (it looks up v720.naxclow.com at boot: see the DNS lines above) and watch the " +
                "service log for 'bootstrap'; a camera still in AP mode needs `v720-bridge wifi` first",
        });
    } else {
        const online = cameras.filter((camera) => camera.online === true).length;
        results.push({
            status: "ok",
            title: `${cameras.length} camera${cameras.length === 1 ? "" : "s"} registered, ${online} online`,
            details: cameras.map(
                (camera) =>
                    `${String(camera.id)}: ${camera.online === true ? "online" : "offline"}, firmware ${
                        typeof camera.firmware === "string" ? camera.firmware : "unknown"
                    }`,
            ),
        });
    }
    const diagnostics = await deps.getJson(`${baseUrl}/api/diagnostics`, headers);
    const unknown =
        diagnostics?.status === 200 && typeof diagnostics.body === "object" && diagnostics.body !== null
            ? Reflect.get(diagnostics.body, "unknownRequests")
            : undefined;
    if (Array.isArray(unknown) && unknown.length > 0) {
        const paths = new Set(unknown.map((entry: unknown) => String(Reflect.get(Object(entry), "path"))));
        results.push({
            status: "warn",
            title: `${unknown.length} camera request${unknown.length === 1 ? "" : "s"} the bridge does not know (newer firmware?)`,
            details: [...paths].slice(0, 5),
            fix: "see the README section 'Newer cameras' and include GET /api/diagnostics when you report it",
        });
    }
    return results;
}

const DEFAULT_BROKER_PORTS: Readonly<Record<string, number>> = {mqtts: 8883, ssl: 8883, ws: 80, wss: 443};

function target(role: string, url: string): BrokerTarget {
    const match = /^[a-z]+:\/\/(?:[^@/]*@)?(\[[^\]]+\]|[^:/]+)(?::(\d+))?/i.exec(url);
    const scheme = url.slice(0, url.indexOf(":")).toLowerCase();
    const defaultPort = DEFAULT_BROKER_PORTS[scheme] ?? 1883;
    const host = (match?.[1] ?? "").replace(/^\[|\]$/g, "");
    const port = match?.[2] === undefined ? defaultPort : Number(match[2]);
    return {role, url, host, port: host === "" ? 0 : port};
}

function isIpAddress(host: string): boolean {
    return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.includes(":");
}

function isLoopback(address: string): boolean {
    return address.startsWith("127.") || address === "::1";
}

function isWildcard(host: string): boolean {
    return host === "0.0.0.0" || host === "::" || host === "";
}

function bracket(host: string): string {
    return host.includes(":") ? `[${host}]` : host;
}
