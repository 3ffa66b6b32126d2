/**
 * The configuration schema (decisions.md 1–3, house-style §4.7).
 *
 * The YAML file, `V720_*` environment overrides and CLI flags all produce one snake_case object, which is
 * validated here with `z.strictObject` everywhere (an unknown key is an error, never silently ignored), filled
 * with the defaults below, mapped to the camelCase `Config` the modules receive in slices, and deep-frozen.
 */
import {z} from "zod";
import type {LogLevel} from "../util/log.js";
import {ConfigError} from "./errors.js";

const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
const WILDCARD_HOSTS = new Set(["0.0.0.0", "::", ""]);

const port = z.number().int().min(0).max(65535);
const durationMs = z.number().int().positive();
const text = z.string().min(1);
const bindHost = z.string().min(1);
const logLevel = z.enum(LOG_LEVELS);
const deviceId = z
    .string()
    .regex(/^[0-9A-Za-z]{4,32}$/, "expected a camera id such as 0800c00128F8 (4 to 32 letters and digits)");
const credentials = z.strictObject({username: text, password: text});
const mqttTopic = z
    .string()
    .min(1)
    .refine((value) => !/[#+\s]/.test(value) && !value.startsWith("/") && !value.endsWith("/"), {
        message: "expected an MQTT topic without wildcards (+ #), spaces or a leading/trailing slash",
    });
const mqttUrl = z.string().refine((value) => /^(mqtts?|wss?|tcp|ssl):\/\/[^\s/]+/.test(value), {
    message: "expected a broker URL such as mqtt://192.168.1.10:1883 (mqtt, mqtts, ws, wss, tcp, ssl)",
});
const advertiseHost = z
    .string()
    .min(1)
    .refine((value) => !/[\s/]/.test(value) && value.split(":").length !== 2, {
        message: "expected a host name or IP address that cameras and viewers can reach, without scheme, port or path",
    });

const cloudSchema = z.strictObject({
    http_port: port.default(80),
    tcp_port: port.default(6123),
    host: bindHost.default("0.0.0.0"),
    login_timeout_ms: durationMs.default(10_000),
    heartbeat_timeout_ms: durationMs.default(20_000),
    stall_timeout_ms: durationMs.default(5_000),
    stop_grace_ms: durationMs.default(3_000),
    udp_receive_buffer_bytes: z.number().int().min(0).default(4_194_304),
    udp_worker: z.union([z.boolean(), z.literal("auto")]).default("auto"),
    low_latency_gc: z.union([z.boolean(), z.literal("auto")]).default("auto"),
    max_cameras: z.number().int().min(1).max(100_000).default(1000),
});

const httpSchema = z.strictObject({
    port: port.default(8099),
    host: bindHost.default("0.0.0.0"),
    auth: credentials.nullable().default(null),
    snapshot_max_age_ms: durationMs.default(2_000),
    snapshot_timeout_ms: durationMs.default(10_000),
});

const logSchema = z.strictObject({
    level: logLevel.default("info"),
    format: z.enum(["text", "json"]).default("text"),
    namespaces: z.record(text, logLevel).default({}),
});

/** Wake message templates (new-firmware-notes.md §5.2); protocol/mqttPayloads.ts builds them. */
const WAKE_TEMPLATES = ["candidate1", "candidate2", "candidate3", "candidate4", "candidate5", "custom"] as const;
const wakeTemplate = z.enum(WAKE_TEMPLATES);

const cameraOverrideSchema = z.strictObject({
    name: text.optional(),
    area: text.optional(),
    family: z.enum(["classic", "mqtt-first"]).optional(),
    wake: z.strictObject({template: wakeTemplate.optional(), custom_payload: text.optional()}).optional(),
});

const wakeSchema = z.strictObject({
    template: wakeTemplate.default("candidate1"),
    custom_payload: text.nullable().default(null),
    timeout_ms: durationMs.default(15_000),
    min_interval_ms: durationMs.default(5_000),
});

const camerasSchema = z.strictObject({
    allow: z.array(deviceId).default([]),
    overrides: z.record(deviceId, cameraOverrideSchema).default({}),
    wake: wakeSchema.prefault({}),
});

const brokerSchema = z.strictObject({
    embedded: z.boolean().default(true),
    port: port.default(1883),
    host: bindHost.default("0.0.0.0"),
    url: mqttUrl.nullable().default(null),
    users: z.array(credentials).default([]),
});

const mqttSchema = z.strictObject({
    enabled: z.boolean().default(true),
    url: mqttUrl.nullable().default(null),
    base_topic: mqttTopic.default("v720"),
    discovery_prefix: mqttTopic.default("homeassistant"),
    ha_status_topic: mqttTopic.default("homeassistant/status"),
    username: text.nullable().default(null),
    password: text.nullable().default(null),
    client_id: text.nullable().default(null),
    discovery_mode: z.enum(["device", "component"]).default("device"),
    snapshot_interval_s: z.number().int().min(0).default(300),
    broker: brokerSchema.prefault({}),
});

const rtspSchema = z.strictObject({
    enabled: z.boolean().default(true),
    port: port.default(8554),
    host: bindHost.default("0.0.0.0"),
    auth: credentials.nullable().default(null),
    session_timeout_ms: durationMs.default(60_000),
    udp_port: port.nullable().default(0),
});

const mediaSchema = z.strictObject({
    ffmpeg_path: text.nullable().default(null),
    audio_codec: z.enum(["aac", "pcma", "opus", "none"]).default("aac"),
    stop_grace_ms: durationMs.default(5_000),
    restart_max_delay_ms: durationMs.default(10_000),
    video: z
        .strictObject({
            preset: z.enum(["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"]).default("ultrafast"),
            keyframe_interval_s: z.number().min(0.5).max(10).default(1),
            bitrate_kbps: z.number().int().min(0).default(0),
            crf: z.number().int().min(0).max(51).default(23),
        })
        .prefault({}),
    hls: z
        .strictObject({
            enabled: z.boolean().default(true),
            segment_seconds: z.number().min(0.5).max(10).default(1),
            window: z.number().int().min(2).max(30).default(6),
        })
        .prefault({}),
});

const dnsSchema = z.strictObject({
    enabled: z.boolean().default(false),
    host: bindHost.default("0.0.0.0"),
    port: port.default(53),
    upstream: z.union([text, z.array(text).min(1)]).default("1.1.1.1"),
    answer_address: z.ipv4().nullable().default(null),
    answer_ttl_s: z.number().int().min(0).max(86_400).default(60),
    upstream_timeout_ms: durationMs.default(2_000),
    max_pending: z.number().int().min(1).max(32_768).default(1_024),
    zones: z.array(text).min(1).default(["naxclow.com", "naxclow.com.cn"]),
    log_queries: z.boolean().default(false),
});

/** The file schema: snake_case keys exactly as the user writes them; every key optional. */
export const configFileSchema = z
    .strictObject({
        advertise_host: advertiseHost.nullable().default(null),
        data_dir: text.default("./data"),
        cloud: cloudSchema.prefault({}),
        http: httpSchema.prefault({}),
        log: logSchema.prefault({}),
        cameras: camerasSchema.prefault({}),
        mqtt: mqttSchema.prefault({}),
        rtsp: rtspSchema.prefault({}),
        media: mediaSchema.prefault({}),
        dns: dnsSchema.prefault({}),
    })
    .superRefine((value, context) => {
        if (value.mqtt.enabled && !value.mqtt.broker.embedded && value.mqtt.broker.url === null) {
            context.addIssue({
                code: "custom",
                path: ["mqtt", "broker", "url"],
                message: "required when mqtt.broker.embedded is false (the broker the cameras connect to)",
            });
        }
        checkPortConflicts(value, context);
    });

/** The validated file with defaults applied, still in snake_case. */
export type FileConfig = z.output<typeof configFileSchema>;

interface Listener {
    readonly key: string;
    readonly port: number;
    readonly host: string;
}

function checkPortConflicts(value: FileConfig, context: z.RefinementCtx): void {
    const listeners: Listener[] = [
        {key: "cloud.http_port", port: value.cloud.http_port, host: value.cloud.host},
        {key: "cloud.tcp_port", port: value.cloud.tcp_port, host: value.cloud.host},
        {key: "http.port", port: value.http.port, host: value.http.host},
    ];
    if (value.mqtt.enabled && value.mqtt.broker.embedded) {
        listeners.push({key: "mqtt.broker.port", port: value.mqtt.broker.port, host: value.mqtt.broker.host});
    }
    if (value.rtsp.enabled) {
        listeners.push({key: "rtsp.port", port: value.rtsp.port, host: "0.0.0.0"});
    }
    for (const [index, listener] of listeners.entries()) {
        const clash = listeners
            .slice(0, index)
            .find(
                (other) =>
                    listener.port !== 0 &&
                    other.port === listener.port &&
                    (other.host === listener.host ||
                        WILDCARD_HOSTS.has(other.host) ||
                        WILDCARD_HOSTS.has(listener.host)),
            );
        if (clash !== undefined) {
            context.addIssue({
                code: "custom",
                path: listener.key.split("."),
                message: `port ${listener.port} is also set for ${clash.key}; every listener needs its own TCP port`,
            });
        }
    }
}

export interface CloudConfig {
    readonly httpPort: number;
    readonly tcpPort: number;
    readonly host: string;
    readonly loginTimeoutMs: number;
    readonly heartbeatTimeoutMs: number;
    readonly stallTimeoutMs: number;
    readonly stopGraceMs: number;
    readonly udpReceiveBufferBytes: number;
    /** The camera UDP socket in a worker thread: always, never, or from 16 streaming cameras (camera/udpServer.ts). */
    readonly udpWorker: boolean | "auto";
    /** V8 incremental marking off: always, never, or while many cameras stream (app/runtimeTuning.ts; `serve` only). */
    readonly lowLatencyGc: boolean | "auto";
    /** Most cameras remembered (online or offline); a flood of fake registrations cannot grow memory beyond it. */
    readonly maxCameras: number;
}

/** HTTP Basic credentials for the viewer API and the web UI (the camera bootstrap routes never require them). */
export interface Credentials {
    readonly username: string;
    readonly password: string;
}

export interface HttpConfig {
    readonly port: number;
    readonly host: string;
    readonly auth: Credentials | null;
    readonly snapshotMaxAgeMs: number;
    readonly snapshotTimeoutMs: number;
}

export interface LogConfig {
    readonly level: LogLevel;
    readonly format: "text" | "json";
    readonly namespaces: Readonly<Record<string, LogLevel>>;
}

export type WakeTemplateName = (typeof WAKE_TEMPLATES)[number];

export interface CameraOverride {
    readonly name?: string;
    readonly area?: string;
    /** Overrides the family by id prefix ("mqtt-first" cameras are woken on demand). */
    readonly family?: "classic" | "mqtt-first";
    readonly wake?: {readonly template?: WakeTemplateName; readonly customPayload?: string};
}

/** Waking MQTT-first cameras for live view (issue 6 item 3). */
export interface WakeConfig {
    readonly template: WakeTemplateName;
    /** JSON with {{placeholders}} for the "custom" template. */
    readonly customPayload: string | null;
    /** A viewer waits this long for the camera's TCP registration after the wake. */
    readonly timeoutMs: number;
    /** At most one wake per camera this often. */
    readonly minIntervalMs: number;
}

export interface CamerasConfig {
    /** Device ids allowed to register; empty = all. */
    readonly allow: readonly string[];
    readonly overrides: Readonly<Record<string, CameraOverride>>;
    readonly wake: WakeConfig;
}

export interface MqttBrokerConfig {
    readonly embedded: boolean;
    readonly port: number;
    readonly host: string;
    /** The external broker the cameras use when `embedded` is false. */
    readonly url: string | null;
    readonly users: readonly Credentials[];
}

export interface MqttConfig {
    readonly enabled: boolean;
    /** Where Home Assistant discovery and states go; null = the camera broker. */
    readonly url: string | null;
    readonly baseTopic: string;
    readonly discoveryPrefix: string;
    readonly haStatusTopic: string;
    readonly username: string | null;
    readonly password: string | null;
    readonly clientId: string | null;
    readonly discoveryMode: "device" | "component";
    /** 0 = no periodic snapshot. */
    readonly snapshotIntervalS: number;
    readonly broker: MqttBrokerConfig;
}

export interface RtspConfig {
    readonly enabled: boolean;
    readonly port: number;
    readonly host: string;
    /** Basic/Digest credentials for RTSP clients; null = open. */
    readonly auth: Credentials | null;
    readonly sessionTimeoutMs: number;
    /** RTP port for RTP/UDP (RTCP = +1); 0 = any free pair; null = UDP transport off. */
    readonly udpPort: number | null;
}

/** The optional built-in DNS responder (issue 5 item 4). */
export interface DnsConfig {
    readonly enabled: boolean;
    readonly host: string;
    readonly port: number;
    readonly upstream: string | readonly string[];
    readonly answerAddress: string | null;
    readonly answerTtlS: number;
    readonly upstreamTimeoutMs: number;
    readonly maxPending: number;
    readonly zones: readonly string[];
    readonly logQueries: boolean;
}

export interface MediaConfig {
    readonly ffmpegPath: string | null;
    readonly audioCodec: "aac" | "pcma" | "opus" | "none";
    readonly stopGraceMs: number;
    readonly restartMaxDelayMs: number;
    readonly video: {
        readonly preset: "ultrafast" | "superfast" | "veryfast" | "faster" | "fast" | "medium";
        readonly keyframeIntervalS: number;
        readonly bitrateKbps: number;
        readonly crf: number;
    };
    readonly hls: {readonly enabled: boolean; readonly segmentSeconds: number; readonly window: number};
}

/** The validated, frozen configuration (camelCase). Modules receive slices of it. */
export interface Config {
    readonly advertiseHost: string | null;
    readonly dataDir: string;
    readonly cloud: CloudConfig;
    readonly http: HttpConfig;
    readonly log: LogConfig;
    readonly cameras: CamerasConfig;
    readonly mqtt: MqttConfig;
    readonly rtsp: RtspConfig;
    readonly media: MediaConfig;
    readonly dns: DnsConfig;
}

/**
 * Validates a raw snake_case object (parsed YAML with overrides applied) and returns the frozen `Config`.
 * Throws `ConfigError` listing every problem with its key path and `source` (the file name).
 */
export function parseConfig(raw: unknown, source: string): Config {
    const result = configFileSchema.safeParse(raw ?? {});
    if (!result.success) {
        throw new ConfigError(`invalid config in ${source}:\n${describeIssues(result.error)}`, source, {
            cause: result.error,
        });
    }
    return deepFreeze(toConfig(result.data));
}

function toConfig(file: FileConfig): Config {
    const {cloud, http, log, cameras, mqtt, rtsp, media, dns} = file;
    return {
        advertiseHost: file.advertise_host,
        dataDir: file.data_dir,
        cloud: {
            httpPort: cloud.http_port,
            tcpPort: cloud.tcp_port,
            host: cloud.host,
            loginTimeoutMs: cloud.login_timeout_ms,
            heartbeatTimeoutMs: cloud.heartbeat_timeout_ms,
            stallTimeoutMs: cloud.stall_timeout_ms,
            stopGraceMs: cloud.stop_grace_ms,
            udpReceiveBufferBytes: cloud.udp_receive_buffer_bytes,
            udpWorker: cloud.udp_worker,
            lowLatencyGc: cloud.low_latency_gc,
            maxCameras: cloud.max_cameras,
        },
        http: {
            port: http.port,
            host: http.host,
            auth: http.auth === null ? null : {username: http.auth.username, password: http.auth.password},
            snapshotMaxAgeMs: http.snapshot_max_age_ms,
            snapshotTimeoutMs: http.snapshot_timeout_ms,
        },
        log: {level: log.level, format: log.format, namespaces: {...log.namespaces}},
        cameras: {
            allow: [...cameras.allow],
            overrides: Object.fromEntries(
                Object.entries(cameras.overrides).map(([id, override]) => [id, toCameraOverride(override)]),
            ),
            wake: {
                template: cameras.wake.template,
                customPayload: cameras.wake.custom_payload,
                timeoutMs: cameras.wake.timeout_ms,
                minIntervalMs: cameras.wake.min_interval_ms,
            },
        },
        mqtt: {
            enabled: mqtt.enabled,
            url: mqtt.url,
            baseTopic: mqtt.base_topic,
            discoveryPrefix: mqtt.discovery_prefix,
            haStatusTopic: mqtt.ha_status_topic,
            username: mqtt.username,
            password: mqtt.password,
            clientId: mqtt.client_id,
            discoveryMode: mqtt.discovery_mode,
            snapshotIntervalS: mqtt.snapshot_interval_s,
            broker: {
                embedded: mqtt.broker.embedded,
                port: mqtt.broker.port,
                host: mqtt.broker.host,
                url: mqtt.broker.url,
                users: mqtt.broker.users.map((user) => ({username: user.username, password: user.password})),
            },
        },
        rtsp: {
            enabled: rtsp.enabled,
            port: rtsp.port,
            host: rtsp.host,
            auth: rtsp.auth === null ? null : {username: rtsp.auth.username, password: rtsp.auth.password},
            sessionTimeoutMs: rtsp.session_timeout_ms,
            udpPort: rtsp.udp_port,
        },
        media: {
            ffmpegPath: media.ffmpeg_path,
            audioCodec: media.audio_codec,
            stopGraceMs: media.stop_grace_ms,
            restartMaxDelayMs: media.restart_max_delay_ms,
            video: {
                preset: media.video.preset,
                keyframeIntervalS: media.video.keyframe_interval_s,
                bitrateKbps: media.video.bitrate_kbps,
                crf: media.video.crf,
            },
            hls: {
                enabled: media.hls.enabled,
                segmentSeconds: media.hls.segment_seconds,
                window: media.hls.window,
            },
        },
        dns: {
            enabled: dns.enabled,
            host: dns.host,
            port: dns.port,
            upstream: typeof dns.upstream === "string" ? dns.upstream : [...dns.upstream],
            answerAddress: dns.answer_address,
            answerTtlS: dns.answer_ttl_s,
            upstreamTimeoutMs: dns.upstream_timeout_ms,
            maxPending: dns.max_pending,
            zones: [...dns.zones],
            logQueries: dns.log_queries,
        },
    };
}

function toCameraOverride(override: z.output<typeof cameraOverrideSchema>): CameraOverride {
    const wake = override.wake;
    return {
        ...(override.name === undefined ? {} : {name: override.name}),
        ...(override.area === undefined ? {} : {area: override.area}),
        ...(override.family === undefined ? {} : {family: override.family}),
        ...(wake === undefined
            ? {}
            : {
                  wake: {
                      ...(wake.template === undefined ? {} : {template: wake.template}),
                      ...(wake.custom_payload === undefined ? {} : {customPayload: wake.custom_payload}),
                  },
              }),
    };
}

function deepFreeze<T>(value: T): T {
    if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
        for (const child of Object.values(value)) {
            deepFreeze(child);
        }
        Object.freeze(value);
    }
    return value;
}

/** `z.prettifyError`, with one line per unknown key, its full path, and a "did you mean" hint. */
function describeIssues(error: z.ZodError): string {
    const issues = error.issues.flatMap((issue) =>
        issue.code === "unrecognized_keys"
            ? issue.keys.map((key) => ({
                  message: `Unrecognized key "${key}"${suggestKey(key, findKey(issue.path.map(String))?.childKeys ?? [])}`,
                  path: [...issue.path, key],
              }))
            : [issue],
    );
    return z.prettifyError({issues});
}

function suggestKey(key: string, known: readonly string[]): string {
    if (known.length === 0) {
        return "";
    }
    const lower = key.toLowerCase();
    const close = known.find((candidate) => editDistance(lower, candidate) <= Math.max(1, Math.floor(key.length / 4)));
    return close === undefined ? ` (known keys: ${known.join(", ")})` : ` (did you mean "${close}"?)`;
}

function editDistance(a: string, b: string): number {
    let previous = Array.from({length: b.length + 1}, (_, index) => index);
    for (let i = 1; i <= a.length; i += 1) {
        const current = [i];
        for (let j = 1; j <= b.length; j += 1) {
            const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
            current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
        }
        previous = current;
    }
    return previous[b.length] ?? 0;
}

/** What the schema says about one key path. */
export interface KeyInfo {
    /** The path as the schema spells it (object keys lower-cased when looked up case-insensitively). */
    readonly path: readonly string[];
    /** The value is a string or an enum of strings. */
    readonly isText: boolean;
    readonly isNullable: boolean;
    /** The keys the value may have when it is a fixed mapping; empty otherwise. */
    readonly childKeys: readonly string[];
}

/**
 * Walks the schema along `segments` (object keys, or any key inside a record such as `cameras.overrides`).
 * Returns undefined when the path names no config key. With `ignoreCase`, object keys are matched lower-cased
 * (for `V720_CLOUD__TCP_PORT`); record keys (camera ids) are always kept as written.
 */
export function findKey(segments: readonly string[], options: {ignoreCase?: boolean} = {}): KeyInfo | undefined {
    let node: unknown = configFileSchema;
    const path: string[] = [];
    for (const segment of segments) {
        const inner = unwrap(node).schema;
        if (segment === "") {
            return undefined;
        }
        if (inner instanceof z.ZodObject) {
            const key = options.ignoreCase === true ? segment.toLowerCase() : segment;
            if (!Object.hasOwn(inner.shape, key)) {
                return undefined;
            }
            node = inner.shape[key];
            path.push(key);
        } else if (inner instanceof z.ZodRecord) {
            node = inner._zod.def.valueType;
            path.push(segment);
        } else {
            return undefined;
        }
    }
    const {schema, isNullable} = unwrap(node);
    return {
        path,
        isText: schema instanceof z.ZodString || schema instanceof z.ZodEnum,
        isNullable,
        childKeys: schema instanceof z.ZodObject ? Object.keys(schema.shape) : [],
    };
}

function unwrap(node: unknown): {schema: unknown; isNullable: boolean} {
    let schema = node;
    let isNullable = false;
    for (;;) {
        if (schema instanceof z.ZodNullable) {
            isNullable = true;
            schema = schema.unwrap();
        } else if (
            schema instanceof z.ZodOptional ||
            schema instanceof z.ZodDefault ||
            schema instanceof z.ZodPrefault
        ) {
            schema = schema.unwrap();
        } else {
            return {schema, isNullable};
        }
    }
}
