/**
 * The command line: parse argv, load the config, create the logger, start the app, handle signals and exit
 * codes (house-style §4.2, §4.5 rule 9). Exit codes: 0 ok, 1 failure (bad config, port not bindable, crash),
 * 2 usage error.
 */
import {readFileSync} from "node:fs";
import {parseArgs} from "node:util";
import type {RunningApp} from "./app/app.js";
import {ConfigError} from "./config/errors.js";
import {CONFIG_PATH_VARIABLE, formatEffectiveConfig, type LoadedConfig, loadConfig} from "./config/load.js";
import {ListenError} from "./util/listen.js";
import {createLogger, type Logger} from "./util/log.js";

/** How long a graceful stop may take after SIGINT/SIGTERM before the process exits anyway. */
const SHUTDOWN_DEADLINE_MS = 10_000;
/** How long an exiting process waits for its handles to close (log lines to flush) before it is forced out. */
const EXIT_FLUSH_MS = 1_000;
const MAX_DEMO_CAMERAS = 500;

const USAGE = `Usage: v720-bridge <command> [options]

Commands:
  serve [--config FILE] [--demo N] [--log-level LEVEL]
        Run the fake cloud and the bridge. --demo N also starts N simulated cameras in-process.
  simulate [options]
        Run simulated cameras against a server (v720-bridge simulate --help lists the options).
  config [--config FILE]
        Validate the configuration and print the effective values (passwords redacted).
  forget <camera-id> [--url URL] [--config FILE]
        Make a running service forget a camera: close its session, drop its state and clear its
        Home Assistant discovery. --url defaults to http://127.0.0.1:<http.port>.
  capture --camera ID -o FILE [--url URL] [--seconds N]
        Record what one camera exchanges with the running service (JSON lines, secrets redacted),
        to attach to a bug report.
  doctor [--config FILE] [--url URL]
        Check the setup (ports, DNS names, ffmpeg, broker, Home Assistant, cameras) and say what to fix.
  wifi --ssid NAME --password SECRET [--camera HOST[:PORT]]
        Join a camera in AP mode (its open Wi-Fi "Nax_<id>", 192.168.169.1) to your network.
  sd list | sd download YYYYMMDD-HH-MM -o FILE [--camera HOST[:PORT]]
        List or download the SD card recordings of a camera in AP mode.

Options:
  -c, --config FILE    YAML config file (default: ${CONFIG_PATH_VARIABLE}, else built-in defaults)
  --log-level LEVEL    error, warn, info or debug (overrides log.level)
  -h, --help           show this help
  -V, --version        print the version

Any config key can be set from the environment as V720_ + its path upper-cased with __ between
levels, e.g. V720_CLOUD__HTTP_PORT=8080 or V720_MQTT__BROKER__EMBEDDED=false.
`;

type CommandResult = number | "running";

class UsageError extends Error {
    override readonly name = "UsageError";
}

async function main(argv: readonly string[]): Promise<CommandResult> {
    const [command, ...rest] = argv;
    switch (command) {
        case "serve":
            return await serve(rest);
        case "config":
            return printConfig(rest);
        case "simulate":
            return await simulate(rest);
        case "forget":
            return await forget(rest);
        case "wifi":
        case "sd":
            return await apCommand(command, rest);
        case "doctor":
            return await doctor(rest);
        case "capture":
            return await capture(rest);
        case "-h":
        case "--help":
        case "help":
            process.stdout.write(USAGE);
            return 0;
        case "-V":
        case "--version":
        case "version":
            process.stdout.write(`${readVersion()}\n`);
            return 0;
        case undefined:
            throw new UsageError("missing command");
        default:
            throw new UsageError(`unknown command "${command}"`);
    }
}

async function serve(args: readonly string[]): Promise<CommandResult> {
    const {values} = parseArgs({
        args: [...args],
        options: {
            config: {type: "string", short: "c"},
            demo: {type: "string"},
            "log-level": {type: "string"},
            help: {type: "boolean", short: "h"},
        },
        strict: true,
        allowPositionals: false,
    });
    if (values.help === true) {
        process.stdout.write(USAGE);
        return 0;
    }
    const demoCameras = parseDemoCount(values.demo);
    const loaded = loadOrReport({path: values.config, logLevel: values["log-level"]});
    if (loaded === undefined) {
        return 1;
    }
    const log = createLogger(loaded.config.log);
    const mainLog = log.child("main");
    installCrashHandlers(mainLog);
    const overrides = loaded.overriddenBy.length > 0 ? ` with ${loaded.overriddenBy.join(", ")}` : "";
    mainLog.info(`v720-bridge ${readVersion()} starting; config: ${loaded.file ?? "built-in defaults"}${overrides}`);
    mainLog.debug(() => `effective config:\n${formatEffectiveConfig(loaded.config)}`);

    const signals = installSignalHandlers(mainLog);
    let app: RunningApp;
    try {
        // Loaded only now, so a bad config or --help never pays for (or trips over) the whole app graph.
        const {startApp} = await import("./app/app.js");
        app = await startApp(loaded.config, log, demoCameras > 0 ? {demoCameras} : {});
    } catch (error) {
        const listenError = findListenError(error);
        if (listenError === undefined) {
            mainLog.error(`start-up failed: ${describeError(error)}`);
        } else {
            mainLog.error(listenError.message);
        }
        return 1;
    }
    const {GcTuner} = await import("./app/runtimeTuning.js");
    new GcTuner(loaded.config.cloud.lowLatencyGc, log.child("gc")).follow(app.cameras.registry);
    signals.attach(app);
    return "running";
}

function printConfig(args: readonly string[]): number {
    const {values} = parseArgs({
        args: [...args],
        options: {config: {type: "string", short: "c"}},
        strict: true,
        allowPositionals: false,
    });
    const loaded = loadOrReport({path: values.config, logLevel: undefined});
    if (loaded === undefined) {
        return 1;
    }
    process.stdout.write(formatEffectiveConfig(loaded.config));
    return 0;
}

async function simulate(args: readonly string[]): Promise<CommandResult> {
    const {runSimulateCommand, SimulateUsageError, SIMULATE_USAGE} = await import("./simulator/simulator.js");
    if (args.includes("--help") || args.includes("-h")) {
        process.stdout.write(SIMULATE_USAGE);
        return 0;
    }
    const log = createLogger({level: "info", format: "text", namespaces: {}});
    const mainLog = log.child("main");
    installCrashHandlers(mainLog);
    const controller = new AbortController();
    const onSignal = (signal: NodeJS.Signals): void => {
        if (controller.signal.aborted) {
            mainLog.warn(`${signal} received again; exiting without waiting`);
            process.exit(1);
        }
        mainLog.info(`${signal} received; stopping the simulated cameras`);
        controller.abort();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
        await runSimulateCommand(args, log, controller.signal);
        return 0;
    } catch (error) {
        if (error instanceof SimulateUsageError) {
            process.stderr.write(`v720-bridge simulate: ${error.message}\n\n${SIMULATE_USAGE}`);
            return 2;
        }
        throw error;
    }
}

/** `forget <id>`: asks the running service's API (decisions.md 19) to forget a camera. */
async function forget(args: readonly string[]): Promise<CommandResult> {
    const {values, positionals} = parseArgs({
        args: [...args],
        options: {url: {type: "string"}, config: {type: "string", short: "c"}},
        strict: true,
        allowPositionals: true,
    });
    const [id, ...extra] = positionals;
    if (id === undefined || extra.length > 0) {
        throw new UsageError("forget takes exactly one camera id");
    }
    const loaded = loadOrReport({path: values.config, logLevel: undefined});
    if (loaded === undefined) {
        return 1;
    }
    const base = (values.url ?? `http://127.0.0.1:${loaded.config.http.port}`).replace(/\/+$/, "");
    const auth = loaded.config.http.auth;
    const headers: Record<string, string> =
        auth === null
            ? {}
            : {authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString("base64")}`};
    let response: Response;
    try {
        response = await fetch(`${base}/api/cameras/${encodeURIComponent(id)}`, {
            method: "DELETE",
            headers,
            signal: AbortSignal.timeout(10_000),
        });
    } catch (error) {
        process.stderr.write(`v720-bridge forget: cannot reach the service at ${base}: ${describeError(error)}\n`);
        return 1;
    }
    const body = await response.text();
    if (response.status === 200) {
        process.stdout.write(`camera ${id} forgotten\n`);
        return 0;
    }
    process.stderr.write(`v720-bridge forget: ${response.status} ${body}\n`);
    return 1;
}

/** `capture`: records one camera's traffic through the running service's API (decisions.md 19). */
async function capture(args: readonly string[]): Promise<CommandResult> {
    const {runCaptureCommand} = await import("./capture/captureCommand.js");
    let httpPort = 8099;
    try {
        httpPort = loadConfig({env: process.env}).config.http.port;
    } catch {
        // no usable config here: the default port, or --url
    }
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    try {
        return await runCaptureCommand(args, {
            stdout: process.stdout,
            stderr: process.stderr,
            signal: controller.signal,
            defaultUrl: `http://127.0.0.1:${httpPort}`,
        });
    } finally {
        process.off("SIGINT", onSignal);
        process.off("SIGTERM", onSignal);
    }
}

/** `doctor`: checks the setup (the live part asks the running service's API, decisions.md 19). */
async function doctor(args: readonly string[]): Promise<CommandResult> {
    const {runDoctorCommand} = await import("./doctor/doctor.js");
    return await runDoctorCommand(args, {stdout: process.stdout, stderr: process.stderr, env: process.env});
}

/** `wifi` and `sd`: talk to a camera in AP mode; Ctrl-C aborts (a download keeps its .part file). */
async function apCommand(command: "wifi" | "sd", args: readonly string[]): Promise<CommandResult> {
    const {runWifiCommand, runSdCommand} = await import("./ap/apCommands.js");
    const controller = new AbortController();
    const onSignal = (): void => controller.abort();
    process.once("SIGINT", onSignal);
    try {
        const io = {stdout: process.stdout, stderr: process.stderr, signal: controller.signal};
        return command === "wifi" ? await runWifiCommand(args, io) : await runSdCommand(args, io);
    } finally {
        process.off("SIGINT", onSignal);
    }
}

/** Loads the config; on a ConfigError prints its message (the logger does not exist yet) and returns undefined. */
function loadOrReport(flags: {path: string | undefined; logLevel: string | undefined}): LoadedConfig | undefined {
    try {
        return loadConfig({path: flags.path, env: process.env, overrides: {"log.level": flags.logLevel}});
    } catch (error) {
        if (error instanceof ConfigError) {
            process.stderr.write(`${error.message}\n`);
            return undefined;
        }
        throw error;
    }
}

function parseDemoCount(text: string | undefined): number {
    if (text === undefined) {
        return 0;
    }
    const count = /^\d+$/.test(text) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(count) || count > MAX_DEMO_CAMERAS) {
        throw new UsageError(`--demo expects a number of cameras from 0 to ${MAX_DEMO_CAMERAS}, got "${text}"`);
    }
    return count;
}

function installCrashHandlers(log: Logger): void {
    process.on("unhandledRejection", (reason) => {
        log.error(`unhandled promise rejection (a bug); exiting: ${describeError(reason, true)}`);
        exitSoon(1, 100);
    });
    process.on("uncaughtException", (error) => {
        log.error(`uncaught exception (a bug); exiting: ${describeError(error, true)}`);
        exitSoon(1, 100);
    });
}

/**
 * SIGINT/SIGTERM stop the app gracefully (with a hard deadline); a second signal exits at once. Installed before
 * start-up so a signal that arrives while servers are opening stops the app as soon as it is running.
 */
function installSignalHandlers(log: Logger): {attach(app: RunningApp): void} {
    let running: RunningApp | undefined;
    let received: NodeJS.Signals | undefined;
    const stop = (app: RunningApp): void => {
        stopWithDeadline(app, SHUTDOWN_DEADLINE_MS).then(
            (isStopped) => {
                if (isStopped) {
                    log.info("stopped");
                    exitSoon(0);
                } else {
                    log.error(`did not stop within ${SHUTDOWN_DEADLINE_MS} ms; exiting anyway`);
                    exitSoon(1);
                }
            },
            (error: unknown) => {
                log.error(`error while stopping: ${describeError(error)}`);
                exitSoon(1);
            },
        );
    };
    const onSignal = (signal: NodeJS.Signals): void => {
        if (received !== undefined) {
            log.warn(`${signal} received again; exiting without waiting`);
            process.exit(1);
        }
        received = signal;
        log.info(`${signal} received; stopping`);
        if (running !== undefined) {
            stop(running);
        }
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    return {
        attach: (app) => {
            running = app;
            if (received !== undefined) {
                stop(app);
            }
        },
    };
}

async function stopWithDeadline(app: RunningApp, deadlineMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), deadlineMs);
    });
    try {
        return await Promise.race([app.stop().then(() => true), deadline]);
    } finally {
        clearTimeout(timer);
    }
}

/**
 * Sets the exit code and lets the process end on its own once its handles are closed (so buffered log lines
 * are written); forces the exit after `graceMs` if something is still open.
 */
function exitSoon(code: number, graceMs = EXIT_FLUSH_MS): void {
    process.exitCode = code;
    setTimeout(() => process.exit(code), graceMs).unref();
}

function findListenError(error: unknown): ListenError | undefined {
    let current: unknown = error;
    for (let depth = 0; depth < 8 && current instanceof Error; depth += 1) {
        if (current instanceof ListenError) {
            return current;
        }
        current = current.cause;
    }
    return undefined;
}

function describeError(error: unknown, withStack = false): string {
    if (error instanceof Error) {
        return withStack && error.stack !== undefined ? error.stack : `${error.name}: ${error.message}`;
    }
    return String(error);
}

function isParseArgsError(error: unknown): error is Error {
    return error instanceof TypeError && "code" in error && String(error.code).startsWith("ERR_PARSE_ARGS_");
}

function readVersion(): string {
    const text = readFileSync(new URL("../package.json", import.meta.url), "utf8");
    const parsed: unknown = JSON.parse(text);
    const version: unknown = typeof parsed === "object" && parsed !== null ? Reflect.get(parsed, "version") : undefined;
    return typeof version === "string" ? version : "unknown";
}

try {
    const result = await main(process.argv.slice(2));
    if (result !== "running") {
        exitSoon(result);
    }
} catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
        process.stderr.write(`v720-bridge: ${error.message}\n\n${USAGE}`);
        exitSoon(2);
    } else {
        process.stderr.write(`v720-bridge: ${describeError(error, true)}\n`);
        exitSoon(1);
    }
}
