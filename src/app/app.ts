/**
 * Composition root: builds every module from its config slice, wires them through model/ interfaces,
 * starts them in order and stops them in reverse (house-style §4.2, §4.3). The only place that knows everything.
 */
import {readFileSync} from "node:fs";
import {networkInterfaces} from "node:os";
import {CameraServer} from "../camera/cameraServer.js";
import type {Config} from "../config/schema.js";
import {AdminRoutes} from "../http/adminRoutes.js";
import type {BootstrapEvent} from "../http/bootstrapRoutes.js";
import {buildStreamUrls} from "../http/cameraJson.js";
import {HttpServer} from "../http/httpServer.js";
import {ViewerRoutes} from "../http/viewerRoutes.js";
import {ListenError} from "../util/listen.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {wireCapture} from "./captureWiring.js";
import type {RunningMedia} from "./mediaWiring.js";
import type {MqttHandle} from "./mqttWiring.js";
import {StateStore} from "./stateStore.js";
import {wireWeb} from "./webWiring.js";

export interface RunningApp {
    /** Bound ports (useful when the config asked for port 0). */
    readonly ports: {
        readonly cloudHttp: number;
        readonly tcp: number;
        readonly udp: number;
        readonly http: number;
        /** The embedded camera broker, or null (external broker or MQTT disabled). */
        readonly mqttBroker: number | null;
        readonly dns: number | null;
    };
    readonly cameras: CameraServer;
    /** Null when `mqtt.enabled` is false. */
    readonly mqtt: MqttHandle | null;
    stop(): Promise<void>;
}

export interface StartAppOptions {
    /** Start this many simulated cameras in-process (`serve --demo N`). */
    readonly demoCameras?: number | undefined;
}

/** Counters are logged at info this often. */
const STATS_INTERVAL_MS = 5 * 60_000;

export async function startApp(config: Config, log: Logger, options: StartAppOptions = {}): Promise<RunningApp> {
    const stoppers: (() => Promise<void> | void)[] = [];
    const stop = async (): Promise<void> => {
        for (const stopper of stoppers.splice(0).reverse()) {
            try {
                await stopper();
            } catch (error) {
                log.error("error while stopping", {error});
            }
        }
    };
    try {
        return await build(config, log, options, stoppers, stop);
    } catch (error) {
        await stop();
        throw error;
    }
}

async function build(
    config: Config,
    log: Logger,
    options: StartAppOptions,
    stoppers: (() => Promise<void> | void)[],
    stop: () => Promise<void>,
): Promise<RunningApp> {
    const advertiseHost = config.advertiseHost ?? undefined;
    const store = new StateStore({dataDir: config.dataDir}, log.child("app:state"));
    await store.load();
    stoppers.push(() => store.stop());

    const cameras = new CameraServer(
        {
            host: config.cloud.host,
            port: config.cloud.tcpPort,
            loginTimeoutMs: config.cloud.loginTimeoutMs,
            heartbeatTimeoutMs: config.cloud.heartbeatTimeoutMs,
            stallTimeoutMs: config.cloud.stallTimeoutMs,
            stopGraceMs: config.cloud.stopGraceMs,
            udpReceiveBufferBytes: config.cloud.udpReceiveBufferBytes,
            udpWorker: config.cloud.udpWorker,
            advertiseHost,
            firmwareFor: (id) => store.get(id)?.firmware ?? undefined,
            maxCameras: config.cloud.maxCameras,
            ...(config.cameras.allow.length === 0 ? {} : {isAllowed: allowListOf(config.cameras.allow)}),
        },
        log.child("camera"),
    );
    const cameraPorts = await cameras
        .start()
        .catch((error: unknown) =>
            rethrowAsListenError(error, config.cloud.host, config.cloud.tcpPort, "cloud.tcp_port"),
        );
    stoppers.push(() => cameras.stop());
    const registry = cameras.registry;
    registry.on("cameraOnline", (view) => {
        store.recordContact(view.id, view.address === null ? {} : {address: view.address});
    });
    registry.on("baseInfo", ({id, baseInfo}) => {
        const version = baseInfo["version"];
        if (typeof version === "string") {
            store.recordContact(id, {firmware: version});
        }
    });

    let boundHttpPort = config.http.port;
    const publicHostname = advertiseHost ?? firstLanAddress();
    let media: RunningMedia | undefined;
    const urlOptions = () => ({
        advertiseHost: publicHostname,
        httpPort: boundHttpPort,
        rtspPort: media?.rtspPort,
        isHlsEnabled: media?.isHlsEnabled ?? false,
    });
    // Optional parts are imported only when configured: mqtt + aedes alone cost ~20 MB of RSS.
    const mqtt = config.mqtt.enabled
        ? await (await import("./mqttWiring.js"))
              .startMqtt(
                  {mqtt: config.mqtt, cameras: config.cameras, version: packageVersion()},
                  {
                      directory: registry,
                      sendForward: (id, content) => registry.sendForward(id, content),
                      onCameraEvent: (listener) => {
                          const offs = [
                              registry.on("cameraOnline", (view) => listener({type: "online", id: view.id})),
                              registry.on("cameraOffline", (view) => listener({type: "offline", id: view.id})),
                              registry.on("baseInfo", ({id, baseInfo}) => listener({type: "baseInfo", id, baseInfo})),
                          ];
                          return () => {
                              for (const off of offs) {
                                  off();
                              }
                          };
                      },
                      configurationUrl: () => `http://${bracketIpv6(publicHostname)}:${urlOptions().httpPort}/`,
                      // issue 6 item 3: where a woken MQTT-first camera opens TCP
                      wakeTarget: {
                          tcpPort: cameraPorts.tcpPort,
                          advertiseHost,
                          fallbackHost: publicHostname,
                          passwordFor: (id) => store.passwordFor(id),
                      },
                      streamUrls: (id) => {
                          const options = urlOptions();
                          const {mjpeg, snapshot, audio, rtsp, hls} = buildStreamUrls(
                              id,
                              {authority: `${publicHostname}:${options.httpPort}`, hostname: publicHostname},
                              options,
                          );
                          return {
                              mjpeg,
                              snapshot,
                              audio,
                              ...(rtsp === null ? {} : {rtsp}),
                              ...(hls === null ? {} : {hls}),
                          };
                      },
                  },
                  log.child("mqtt"),
              )
              .catch((error: unknown) =>
                  rethrowAsListenError(error, config.mqtt.broker.host, config.mqtt.broker.port, "mqtt.broker.port"),
              )
        : null;
    if (mqtt !== null) {
        stoppers.push(() => mqtt.stop());
    }

    const {startDnsIfEnabled} = await import("./dnsWiring.js");
    const dns = await startDnsIfEnabled(config.dns, config.advertiseHost, log.child("dns"));
    stoppers.push(() => dns.stop());

    const httpLog = log.child("http");
    const admin = new AdminRoutes(
        {
            forget: async (id) => {
                const known = registry.forget(id) || store.get(id) !== undefined;
                store.forget(id);
                await mqtt?.forget(id);
                return known;
            },
        },
        httpLog.child("admin"),
    );
    // RTSP and HLS through ffmpeg, on demand; without ffmpeg they report unavailable and the rest works
    const {startMedia} = await import("./mediaWiring.js");
    const runningMedia = await startMedia(
        {rtsp: config.rtsp, media: config.media},
        {directory: mqtt?.directory ?? registry},
        log.child("media"),
    ).catch((error: unknown) => rethrowAsListenError(error, config.rtsp.host, config.rtsp.port, "rtsp.port"));
    media = runningMedia;
    stoppers.push(() => runningMedia.stop());
    const viewer = new ViewerRoutes(
        // wakes MQTT-first cameras on demand (issue 6 item 3); the plain registry without MQTT
        mqtt?.directory ?? registry,
        {
            advertiseHost,
            // read per request: with port 0 (tests) the bound port is known only after listening
            get httpPort() {
                return boundHttpPort;
            },
            snapshotMaxAgeMs: config.http.snapshotMaxAgeMs,
            snapshotTimeoutMs: config.http.snapshotTimeoutMs,
            rtspPort: runningMedia.rtspPort,
            isHlsEnabled: runningMedia.isHlsEnabled,
            waker: mqtt?.waker ?? null,
        },
        httpLog.child("viewer"),
    );
    const unknownRequests = new RateLimitedCounter(60_000);
    const web = wireWeb(
        {
            cameras,
            mqtt,
            viewerStats: () => viewer.stats(),
            dns,
            httpPorts: () => http.ports(),
            expectedHttpListeners: 2,
            bootstrapCounts: () => http.diagnostics.snapshot().bootstrapCounts,
            media: () => ({
                ffmpegProcesses: runningMedia.hub?.activeCameras().length ?? 0,
                rtspClients: runningMedia.rtsp?.stats().playing ?? 0,
                hlsViewers: 0,
            }),
            version: packageVersion(),
        },
        {auth: config.http.auth},
        httpLog.child("web"),
    );
    const http = new HttpServer(
        {
            bootstrap: {
                tcpPort: cameraPorts.tcpPort,
                advertiseHost,
                issueDeviceId: () => store.issueDeviceId(),
                passwordFor: (id) => store.passwordFor(id),
                nowMs: Date.now,
            },
            onBootstrapEvent: (event) => handleBootstrapEvent(event, store, httpLog, unknownRequests),
        },
        [...(web.authGate === null ? [] : [web.authGate]), admin, viewer, ...runningMedia.routes, ...web.routes],
        httpLog,
    );
    stoppers.push(() => http.stop());
    const capture = wireCapture({cameras, http}, {isMqttTapped: mqtt !== null}, log.child("capture"));
    stoppers.push(() => capture.stop());
    mqtt?.setCapture({tap: capture.tap, noteFirmware: (id, version) => capture.noteFirmware(id, version, "mqtt")});
    stoppers.push(() => mqtt?.setCapture(undefined));
    const [httpPort = 0] = await http
        .start([{port: config.http.port, host: config.http.host}])
        .catch((error: unknown) => rethrowAsListenError(error, config.http.host, config.http.port, "http.port"));
    const [cloudHttpPort = 0] = await http
        .start([{port: config.cloud.httpPort, host: config.cloud.host}])
        .catch((error: unknown) =>
            rethrowAsListenError(error, config.cloud.host, config.cloud.httpPort, "cloud.http_port"),
        );

    boundHttpPort = httpPort;
    log.info(
        `listening: bootstrap http :${cloudHttpPort}, camera tcp+udp :${cameraPorts.tcpPort}, viewer http :${httpPort}` +
            (advertiseHost === undefined ? "" : `, advertising ${advertiseHost}`),
    );

    const statsTimer = setInterval(() => {
        log.info("counters", {camera: registry.stats(), viewer: viewer.stats()});
    }, STATS_INTERVAL_MS);
    statsTimer.unref();
    stoppers.push(() => clearInterval(statsTimer));

    const demoCameras = options.demoCameras ?? 0;
    if (demoCameras > 0) {
        const {Simulator} = await import("../simulator/simulator.js");
        const {MqttDevice} = await import("../simulator/mqttDevice.js");
        const simulator = new Simulator(
            {cameras: demoCameras, serverHost: "127.0.0.1", httpPort: cloudHttpPort},
            log.child("demo"),
        );
        simulator.start();
        stoppers.push(() => simulator.stop());
        if (mqtt?.brokerPort !== null && mqtt?.brokerPort !== undefined) {
            const brokerUrl = `mqtt://127.0.0.1:${mqtt.brokerPort}`;
            const devices = simulator.cameras.map((camera) => new MqttDevice({url: brokerUrl, deviceId: camera.id}));
            for (const device of devices) {
                device.start().catch((error: unknown) => log.warn("demo camera MQTT leg failed", {error}));
            }
            stoppers.push(async () => {
                await Promise.all(devices.map((device) => device.stop()));
            });
        }
        log.info(`demo: ${demoCameras} simulated camera(s) started; open http://127.0.0.1:${httpPort}/api/cameras`);
    }

    return {
        ports: {
            cloudHttp: cloudHttpPort,
            tcp: cameraPorts.tcpPort,
            udp: cameraPorts.udpPort,
            http: httpPort,
            mqttBroker: mqtt?.brokerPort ?? null,
            dns: dns.port ?? null,
        },
        cameras,
        mqtt,
        stop,
    };
}

/** The version in package.json (two levels up from both src/app and dist/app). */
function packageVersion(): string {
    try {
        const parsed: unknown = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
        const version = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "version") : undefined;
        return typeof version === "string" ? version : "unknown";
    } catch {
        return "unknown";
    }
}

/** `cameras.allow` as a predicate for the camera layer (exact ids, as the MQTT state store compares them). */
function allowListOf(allow: readonly string[]): (id: string) => boolean {
    const allowed = new Set(allow);
    return (id) => allowed.has(id);
}

function bracketIpv6(host: string): string {
    return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** The first non-internal IPv4 address: where Home Assistant most likely reaches us when advertise_host is unset. */
function firstLanAddress(): string {
    for (const addresses of Object.values(networkInterfaces())) {
        for (const address of addresses ?? []) {
            if (address.family === "IPv4" && !address.internal) {
                return address.address;
            }
        }
    }
    return "127.0.0.1";
}

function handleBootstrapEvent(
    event: BootstrapEvent,
    store: StateStore,
    log: Logger,
    unknownRequests: RateLimitedCounter,
): void {
    if (event.deviceId !== undefined && event.kind !== "registerDevices") {
        store.recordContact(event.deviceId, {
            ...(event.firmware === undefined ? {} : {firmware: event.firmware}),
            address: event.remoteAddress,
        });
    }
    if (event.kind === "unknown") {
        const suppressed = unknownRequests.hit(event.path);
        if (suppressed !== undefined) {
            log.warn(`unknown bootstrap request ${event.path}`, {
                query: event.query,
                firmware: event.firmware ?? null,
                from: event.remoteAddress,
                suppressed,
            });
        }
    } else {
        log.info(`bootstrap ${event.kind}`, {device: event.deviceId ?? null, firmware: event.firmware ?? null});
    }
}

/** Listeners built by the modules reject with the raw system error; turn it into the one clear line of util/listen. */
function rethrowAsListenError(error: unknown, host: string, port: number, what: string): never {
    if (error instanceof ListenError) {
        throw error;
    }
    const {code, syscall} = typeof error === "object" && error !== null ? (error as NodeJS.ErrnoException) : {};
    if (typeof code === "string") {
        // node reports dgram failures with syscall "bind", net servers with "listen"
        throw new ListenError(code, host, port, what, syscall === "bind" ? "udp" : "tcp", error);
    }
    throw error;
}
