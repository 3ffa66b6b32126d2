/**
 * Composition root: builds every module from its config slice, wires them through model/ interfaces,
 * starts them in order and stops them in reverse (house-style §4.2, §4.3). The only place that knows everything.
 */
import {CameraServer} from "../camera/cameraServer.js";
import type {Config} from "../config/schema.js";
import type {BootstrapEvent} from "../http/bootstrapRoutes.js";
import {HttpServer} from "../http/httpServer.js";
import {ViewerRoutes} from "../http/viewerRoutes.js";
import {Simulator} from "../simulator/simulator.js";
import {ListenError} from "../util/listen.js";
import type {Logger} from "../util/log.js";
import {RateLimitedCounter} from "../util/rateLimitedCounter.js";
import {StateStore} from "./stateStore.js";

export interface RunningApp {
    /** Bound ports (useful when the config asked for port 0). */
    readonly ports: {readonly cloudHttp: number; readonly tcp: number; readonly udp: number; readonly http: number};
    readonly cameras: CameraServer;
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
            advertiseHost,
            firmwareFor: (id) => store.get(id)?.firmware ?? undefined,
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

    const httpLog = log.child("http");
    const viewer = new ViewerRoutes(
        registry,
        {
            advertiseHost,
            httpPort: config.http.port,
            snapshotMaxAgeMs: config.http.snapshotMaxAgeMs,
            snapshotTimeoutMs: config.http.snapshotTimeoutMs,
        },
        httpLog.child("viewer"),
    );
    const unknownRequests = new RateLimitedCounter(60_000);
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
        [viewer],
        httpLog,
    );
    stoppers.push(() => http.stop());
    const [httpPort = 0] = await http
        .start([{port: config.http.port, host: config.http.host}])
        .catch((error: unknown) => rethrowAsListenError(error, config.http.host, config.http.port, "http.port"));
    const [cloudHttpPort = 0] = await http
        .start([{port: config.cloud.httpPort, host: config.cloud.host}])
        .catch((error: unknown) =>
            rethrowAsListenError(error, config.cloud.host, config.cloud.httpPort, "cloud.http_port"),
        );

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
        const simulator = new Simulator(
            {cameras: demoCameras, serverHost: "127.0.0.1", httpPort: cloudHttpPort},
            log.child("demo"),
        );
        simulator.start();
        stoppers.push(() => simulator.stop());
        log.info(`demo: ${demoCameras} simulated camera(s) started; open http://127.0.0.1:${httpPort}/api/cameras`);
    }

    return {
        ports: {cloudHttp: cloudHttpPort, tcp: cameraPorts.tcpPort, udp: cameraPorts.udpPort, http: httpPort},
        cameras,
        stop,
    };
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
