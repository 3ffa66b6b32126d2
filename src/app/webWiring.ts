/**
 * Wires issue 5's HTTP pieces into the app: the `http.auth` gate, the web UI, the camera state and command
 * API and `/metrics` + `/readyz`. The UI's commands take the Home Assistant path: the same entity table
 * (bridge/discovery.ts), the same payload parser (bridge/entityCommands.ts) and the same CameraCommander
 * (app/mqttWiring.ts) as `<base>/<id>/<entity>/set`.
 *
 * app.ts puts `authGate` FIRST in the HttpServer's handler list (so it also guards route groups added
 * later with addRouteHandler) and `routes` after the viewer routes.
 */

import {cameraEntitiesFor, cameraEntity, type EntitySpec, meetsRequirement} from "../bridge/discovery.js";
import {parseCameraCommand} from "../bridge/entityCommands.js";
import {buildStatePayload, type StateValue} from "../bridge/statePayload.js";
import type {CameraServer} from "../camera/cameraServer.js";
import {AuthGate, type BasicCredentials} from "../http/auth.js";
import {
    type CameraControl,
    type CameraControlSource,
    type CameraControlsView,
    type CommandOutcome,
    CommandRoutes,
    type ControlKind,
} from "../http/commandRoutes.js";
import type {RouteHandler} from "../http/jsonResponse.js";
import {type MetricFamily, MetricsRoutes, type ReadinessCheck} from "../http/metricsRoutes.js";
import {UiRoutes} from "../http/ui/uiRoutes.js";
import type {ViewerStats} from "../http/viewerRoutes.js";
import type {CameraState} from "../model/cameraState.js";
import type {Logger} from "../util/log.js";
import type {DnsHandle} from "./dnsWiring.js";
import type {MqttHandle} from "./mqttWiring.js";

/** RTSP/HLS figures, once the media part is wired (0 until then). */
export interface MediaMetrics {
    /** Running ffmpeg transcoders. */
    readonly ffmpegProcesses: number;
    /** RTSP sessions playing. */
    readonly rtspClients: number;
    /** HLS viewers (0 when not tracked). */
    readonly hlsViewers: number;
}

export interface WebWiringParts {
    readonly cameras: CameraServer;
    /** Null when `mqtt.enabled` is false. */
    readonly mqtt: MqttHandle | null;
    readonly viewerStats: () => ViewerStats;
    readonly dns: DnsHandle;
    /** Listening HTTP ports right now (http.port and cloud.http_port). */
    readonly httpPorts: () => readonly number[];
    /** How many HTTP listeners make the service ready. */
    readonly expectedHttpListeners: number;
    /** Bootstrap requests answered, by kind (HttpServer.diagnostics). */
    readonly bootstrapCounts?: (() => Readonly<Record<string, number>>) | undefined;
    readonly media?: (() => MediaMetrics | undefined) | undefined;
    readonly version: string;
    readonly nowMs?: (() => number) | undefined;
}

export interface WebWiringOptions {
    /** `http.auth`; null = no authentication. */
    readonly auth: BasicCredentials | null;
}

export interface WebRoutes {
    /** First in the handler list; null without `http.auth`. */
    readonly authGate: AuthGate | null;
    /** After the viewer routes: UI, state + commands, metrics + readiness. */
    readonly routes: readonly RouteHandler[];
    /** Exposed for tests and the stats log. */
    metrics(): readonly MetricFamily[];
    readiness(): readonly ReadinessCheck[];
}

const UI_PLATFORMS: ReadonlySet<string> = new Set<ControlKind>(["switch", "select", "number", "button"]);
/** The UI has its own snapshot link; HA's button publishes to MQTT instead. */
const NOT_IN_UI: ReadonlySet<string> = new Set(["take_snapshot"]);

export function wireWeb(parts: WebWiringParts, options: WebWiringOptions, log: Logger): WebRoutes {
    const authGate = options.auth === null ? null : new AuthGate({credentials: options.auth}, log.child("auth"));
    const startedAtMs = (parts.nowMs ?? Date.now)();
    const metrics = (): MetricFamily[] => collectMetrics(parts, authGate, startedAtMs);
    const readiness = (): ReadinessCheck[] => checkReadiness(parts);
    const controls = parts.mqtt === null ? disabledControls() : entityControlSource(parts.mqtt);
    return {
        authGate,
        routes: [
            new UiRoutes(),
            new CommandRoutes(controls, log.child("commands")),
            new MetricsRoutes({metrics, readiness}, log.child("metrics")),
        ],
        metrics,
        readiness,
    };
}

// ---- state and commands ----------------------------------------------------------------------

/** The camera's controls exactly as Home Assistant sees them (entity table, requirements, state values). */
export function controlsFor(state: CameraState): CameraControl[] {
    const payload = buildStatePayload(state);
    return cameraEntitiesFor(state)
        .filter((spec) => spec.hasCommand === true && UI_PLATFORMS.has(spec.platform) && !NOT_IN_UI.has(spec.key))
        .map((spec) => toControl(spec, spec.stateKey === undefined ? null : (payload[spec.stateKey] ?? null)));
}

function toControl(spec: EntitySpec, value: StateValue): CameraControl {
    const {config} = spec;
    const name = config["name"];
    const options = config["options"];
    const min = config["min"];
    const max = config["max"];
    return {
        entity: spec.key,
        kind: spec.platform as ControlKind,
        name: typeof name === "string" ? name : spec.key,
        value: typeof value === "string" || typeof value === "number" ? value : null,
        category: config["entity_category"] === "config" ? "config" : null,
        ...(Array.isArray(options) ? {options: options.map(String)} : {}),
        ...(typeof min === "number" ? {min} : {}),
        ...(typeof max === "number" ? {max} : {}),
    };
}

/** State and commands through the HA bridge's state store and commander. */
export function entityControlSource(mqtt: Pick<MqttHandle, "states" | "commander">): CameraControlSource {
    const view = (state: CameraState): CameraControlsView => ({state, controls: controlsFor(state)});
    return {
        list: () => mqtt.states.list().map(view),
        get: (id) => {
            const state = mqtt.states.get(id);
            return state === undefined ? undefined : view(state);
        },
        run: async (id, entity, payload): Promise<CommandOutcome> => {
            // The checks of MqttBridge's command handler, in the same order.
            const state = mqtt.states.get(id);
            if (state === undefined) {
                return {ok: false, error: "unknown-camera", reason: "unknown camera"};
            }
            const spec = cameraEntity(entity);
            if (
                spec === undefined ||
                spec.hasCommand !== true ||
                NOT_IN_UI.has(entity) ||
                !meetsRequirement(state, spec.requires)
            ) {
                return {ok: false, error: "unsupported", reason: `no command ${entity} for this camera`};
            }
            const action = parseCameraCommand(entity, payload);
            if (action.kind === "invalid") {
                return {ok: false, error: "invalid", reason: action.reason};
            }
            if (action.kind !== "command") {
                return {ok: false, error: "unsupported", reason: `no command ${entity} for this camera`};
            }
            const result = await mqtt.commander.send(id, action.command);
            return result.ok ? {ok: true} : {ok: false, error: "failed", reason: result.reason};
        },
    };
}

function disabledControls(): CameraControlSource {
    return {
        list: () => [],
        get: () => undefined,
        run: () =>
            Promise.resolve({
                ok: false,
                error: "unavailable",
                reason: "camera commands need MQTT (mqtt.enabled: true)",
            }),
    };
}

// ---- readiness ---------------------------------------------------------------------------------

function checkReadiness(parts: WebWiringParts): ReadinessCheck[] {
    const listening = parts.httpPorts().length;
    const checks: ReadinessCheck[] = [
        {
            name: "http",
            ok: listening >= parts.expectedHttpListeners,
            detail: `${listening} of ${parts.expectedHttpListeners} listeners`,
        },
        {
            name: "camera_server",
            ok: parts.cameras.addresses !== undefined,
            detail:
                parts.cameras.addresses === undefined
                    ? "not listening"
                    : `tcp :${parts.cameras.addresses.tcpPort}, udp :${parts.cameras.addresses.udpPort}`,
        },
    ];
    if (parts.mqtt !== null) {
        checks.push({
            name: "mqtt",
            ok: parts.mqtt.isBridgeConnected,
            detail: parts.mqtt.isBridgeConnected
                ? "connected to the Home Assistant broker"
                : "not connected to the Home Assistant broker",
        });
    }
    if (parts.dns.port !== undefined) {
        checks.push({name: "dns", ok: true, detail: `udp :${parts.dns.port}`});
    }
    return checks;
}

// ---- metrics -----------------------------------------------------------------------------------

function gauge(name: string, help: string, value: number, labels?: Readonly<Record<string, string>>): MetricFamily {
    return {name, help, type: "gauge", samples: [{labels, value}]};
}

function counter(name: string, help: string, value: number): MetricFamily {
    return {name, help, type: "counter", samples: [{value}]};
}

function collectMetrics(parts: WebWiringParts, authGate: AuthGate | null, startedAtMs: number): MetricFamily[] {
    const stats = parts.cameras.registry.stats();
    const views = parts.cameras.registry.list();
    const states = parts.mqtt?.states.list() ?? [];
    const viewer = parts.viewerStats();
    const media = parts.media?.() ?? {ffmpegProcesses: 0, rtspClients: 0, hlsViewers: 0};
    const dns = parts.dns.stats();

    const online = new Set<string>();
    for (const view of views) {
        if (view.online) {
            online.add(view.id);
        }
    }
    for (const state of states) {
        if (state.online) {
            online.add(state.id);
        }
    }
    const known = new Set([...views.map((view) => view.id), ...states.map((state) => state.id)]);
    const dropReasons = Object.entries(stats.framesDroppedByReason).map(([reason, value]) => ({
        labels: {reason},
        value,
    }));
    const families: MetricFamily[] = [
        gauge("v720_build_info", "Version of the running bridge (value always 1).", 1, {version: parts.version}),
        gauge("v720_start_time_seconds", "When the bridge started, in Unix seconds.", Math.floor(startedAtMs / 1000)),
        gauge("v720_cameras_known", "Cameras known to the bridge (TCP registry and MQTT state).", known.size),
        gauge("v720_cameras_online", "Cameras online: a TCP session or MQTT status 1.", online.size),
        gauge(
            "v720_cameras_tcp_sessions",
            "Cameras with a live TCP session.",
            views.filter((view) => view.online).length,
        ),
        gauge(
            "v720_cameras_streaming",
            "Cameras sending live video now.",
            views.filter((view) => view.streamState === "streaming").length,
        ),
        {
            name: "v720_camera_online",
            help: "1 while the camera is online (TCP session or MQTT status 1).",
            type: "gauge",
            samples: [...known].sort().map((id) => ({labels: {camera: id}, value: online.has(id) ? 1 : 0})),
        },
        {
            name: "v720_camera_fps",
            help: "Frames per second received from the camera (last seconds).",
            type: "gauge",
            samples: views.map((view) => ({labels: {camera: view.id}, value: view.fps})),
        },
        counter(
            "v720_frames_received_total",
            "JPEG frames assembled from camera UDP fragments.",
            stats.framesAssembled,
        ),
        counter(
            "v720_fragments_received_total",
            "JPEG fragments (cmd 1 datagrams) received while streaming.",
            stats.fragmentsReceived,
        ),
        {
            name: "v720_frames_dropped_total",
            help: "Frames dropped, by reason (assembler reasons, slow_viewer = skipped for a client that was behind).",
            type: "counter",
            samples: [...dropReasons, {labels: {reason: "slow_viewer"}, value: viewer.framesDropped}],
        },
        counter("v720_confirms_sent_total", "605 confirms sent to cameras.", stats.confirmsSent),
        counter(
            "v720_audio_chunks_total",
            "Audio packets received (A-law and PCM).",
            stats.audioChunks + stats.pcmChunks,
        ),
        counter("v720_stream_starts_total", "Live-view handshakes started.", stats.streamStarts),
        counter("v720_stream_restarts_total", "Handshakes restarted because frames stopped.", stats.streamRestarts),
        counter(
            "v720_probe_retries_total",
            "Code 50 probes re-sent to cameras that sent no media yet after code 11 (a lost 51 or 50).",
            stats.probeRetries,
        ),
        counter("v720_tcp_connections_total", "Camera TCP connections accepted.", stats.tcpConnections),
        counter("v720_udp_datagrams_total", "Camera UDP datagrams received.", stats.datagramsReceived),
        counter(
            "v720_udp_datagrams_dropped_behind_total",
            "Camera UDP datagrams dropped by the UDP worker thread because the main thread was too far behind.",
            stats.datagramsDroppedBehind,
        ),
        counter(
            "v720_cameras_refused_total",
            "Registrations refused (cameras.allow, cloud.max_cameras).",
            stats.camerasRefused,
        ),
        {
            name: "v720_bad_packets_total",
            help: "Malformed or unexpected input from cameras and DNS clients, by kind (dropped, never fatal).",
            type: "counter",
            samples: [
                {labels: {kind: "tcp_stream"}, value: stats.badTcpStreams},
                {labels: {kind: "tcp_message"}, value: stats.badTcpMessages},
                {labels: {kind: "login_rejected"}, value: stats.loginRejected},
                {labels: {kind: "datagram"}, value: stats.badDatagrams},
                {labels: {kind: "unknown_source_datagram"}, value: stats.unknownSourceDatagrams},
                {labels: {kind: "unknown_probe_target"}, value: stats.unknownProbeTargets},
                {labels: {kind: "unsupported_datagram"}, value: stats.unsupportedDatagrams},
                {labels: {kind: "media_while_idle"}, value: stats.mediaWhileIdle},
                ...(dns === undefined
                    ? []
                    : [
                          {labels: {kind: "dns_query"}, value: dns.malformed},
                          {labels: {kind: "dns_upstream"}, value: dns.badUpstream},
                      ]),
            ],
        },
        {
            name: "v720_session_timeouts_total",
            help: "Camera sessions closed by a deadline, by kind.",
            type: "counter",
            samples: [
                {labels: {kind: "login"}, value: stats.loginTimeouts},
                {labels: {kind: "heartbeat"}, value: stats.heartbeatTimeouts},
            ],
        },
        {
            name: "v720_viewers",
            help: "Open viewer connections, by output.",
            type: "gauge",
            samples: [
                {labels: {output: "mjpeg"}, value: viewer.mjpegViewers},
                {labels: {output: "audio"}, value: viewer.audioListeners},
                {labels: {output: "snapshot"}, value: viewer.pendingSnapshots},
                {labels: {output: "rtsp"}, value: media.rtspClients},
                {labels: {output: "hls"}, value: media.hlsViewers},
            ],
        },
        counter("v720_viewer_frames_sent_total", "Frames and audio chunks written to HTTP viewers.", viewer.framesSent),
        gauge("v720_ffmpeg_processes", "Running ffmpeg transcoders.", media.ffmpegProcesses),
        gauge("v720_rtsp_clients", "RTSP sessions playing.", media.rtspClients),
        gauge("v720_mqtt_enabled", "1 when mqtt.enabled.", parts.mqtt === null ? 0 : 1),
        gauge(
            "v720_mqtt_connected",
            "1 while the bridge is connected to the Home Assistant broker.",
            parts.mqtt?.isBridgeConnected === true ? 1 : 0,
        ),
        gauge(
            "v720_cameras_mqtt_online",
            "Cameras whose last MQTT status was online.",
            states.filter((state) => state.mqttOnline).length,
        ),
    ];
    const bootstrap = parts.bootstrapCounts?.();
    if (bootstrap !== undefined) {
        families.push({
            name: "v720_bootstrap_requests_total",
            help: "Camera HTTP bootstrap requests answered, by kind.",
            type: "counter",
            samples: Object.entries(bootstrap).map(([kind, value]) => ({labels: {kind}, value})),
        });
    }
    if (dns !== undefined) {
        families.push(
            counter("v720_dns_queries_total", "DNS queries received by the built-in responder.", dns.queries),
            counter(
                "v720_dns_answered_locally_total",
                "DNS queries answered with the bridge's address.",
                dns.answeredLocally,
            ),
            counter("v720_dns_forwarded_total", "DNS queries forwarded upstream.", dns.forwarded),
        );
    }
    if (authGate !== null) {
        const auth = authGate.stats();
        families.push(counter("v720_http_auth_rejected_total", "HTTP requests refused with 401.", auth.rejected));
    }
    return families;
}
