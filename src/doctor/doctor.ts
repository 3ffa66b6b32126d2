/**
 * `v720-bridge doctor [--config FILE] [--url URL]` (issue 5 item 5): checks the setup and prints one
 * ✓ / ✗ / ! / - line per check, with the fix under every ✗ and !. Order: config, the running service
 * (/readyz) or else the ports, advertise_host, the two camera DNS names, ffmpeg, the brokers, Home
 * Assistant discovery, the cameras registered so far. Exit code 0 when nothing failed, 1 otherwise,
 * 2 for a usage error.
 */
import {parseArgs} from "node:util";
import {ConfigError} from "../config/errors.js";
import {type Environment, loadConfig} from "../config/load.js";
import type {Config} from "../config/schema.js";
import {
    type CheckResult,
    checkAdvertisedAddress,
    checkBrokers,
    checkCameraNames,
    checkCameras,
    checkFfmpeg,
    checkHomeAssistant,
    checkPorts,
    checkService,
    type DoctorDeps,
} from "./checks.js";
import {systemDoctorDeps} from "./systemDeps.js";

export interface DoctorIo {
    readonly stdout: {write(text: string): unknown};
    readonly stderr: {write(text: string): unknown};
    /** The environment the config is loaded with (V720_*, V720_CONFIG, LOG_LEVEL, FFMPEG_PATH). */
    readonly env: Environment;
}

export const DOCTOR_USAGE = `Usage: v720-bridge doctor [--config FILE] [--url URL]

Checks the setup and says what to fix: the ports (or the running service's /readyz), advertise_host,
whether v720.naxclow.com and v720.p2p.naxclow.com resolve to this machine, ffmpeg, the MQTT
broker, Home Assistant discovery and the cameras registered so far.

Options:
  -c, --config FILE   the service's config file (default: V720_CONFIG, else built-in defaults)
  --url URL           the running service (default http://127.0.0.1:<http.port>)
  -h, --help          show this help
`;

const MARKS: Readonly<Record<CheckResult["status"], string>> = {ok: "✓", fail: "✗", warn: "!", skip: "-"};

export async function runDoctorCommand(
    argv: readonly string[],
    io: DoctorIo,
    deps: DoctorDeps = systemDoctorDeps(),
): Promise<number> {
    let values: {config?: string | undefined; url?: string | undefined; help?: boolean | undefined};
    try {
        ({values} = parseArgs({
            args: [...argv],
            options: {
                config: {type: "string", short: "c"},
                url: {type: "string"},
                help: {type: "boolean", short: "h"},
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (error) {
        if (error instanceof TypeError) {
            io.stderr.write(`v720-bridge doctor: ${error.message}\n\n${DOCTOR_USAGE}`);
            return 2;
        }
        throw error;
    }
    if (values.help === true) {
        io.stdout.write(DOCTOR_USAGE);
        return 0;
    }
    if (values.url !== undefined && !/^https?:\/\/[^\s/]+/.test(values.url)) {
        io.stderr.write(`v720-bridge doctor: --url expects http://host:port, got "${values.url}"\n`);
        return 2;
    }

    const print = (result: CheckResult): void => {
        io.stdout.write(formatCheck(result));
    };
    let config: Config;
    let file: string | null;
    try {
        ({config, file} = loadConfig({path: values.config, env: io.env}));
    } catch (error) {
        if (error instanceof ConfigError) {
            print({status: "fail", title: "the configuration is invalid", details: error.message.split("\n")});
            return 1;
        }
        throw error;
    }
    let failures = 0;
    const report = (results: readonly CheckResult[]): void => {
        for (const result of results) {
            failures += result.status === "fail" ? 1 : 0;
            print(result);
        }
    };

    io.stdout.write(`v720-bridge doctor\n\n`);
    report([{status: "ok", title: `configuration valid (${file ?? "built-in defaults"})`}]);
    const baseUrl = (values.url ?? `http://127.0.0.1:${config.http.port}`).replace(/\/+$/, "");
    const service = await checkService(baseUrl, deps);
    report(service.results);
    if (!service.isRunning) {
        report(await checkPorts(config, deps));
    }
    report([await checkAdvertisedAddress(config, deps)]);
    report(await checkCameraNames(config, deps));
    report([await checkFfmpeg(config, deps)]);
    report(await checkBrokers(config, deps, service.isRunning));
    report([await checkHomeAssistant(config, deps, service.isRunning)]);
    report(await checkCameras(baseUrl, authHeaders(config), deps, service.isRunning));

    io.stdout.write(
        failures === 0
            ? "\nNo problems found.\n"
            : `\n${failures} problem${failures === 1 ? "" : "s"} found: fix the ✗ lines from the top (later checks often depend on earlier ones).\n`,
    );
    return failures === 0 ? 0 : 1;
}

/** `✓ title`, then indented details, then `  → fix` for ✗ and ! lines. */
export function formatCheck(result: CheckResult): string {
    const lines = [`${MARKS[result.status]} ${result.title}`];
    for (const detail of result.details ?? []) {
        lines.push(`    ${detail}`);
    }
    if (result.fix !== undefined && (result.status === "fail" || result.status === "warn")) {
        lines.push(`    → ${result.fix}`);
    }
    return `${lines.join("\n")}\n`;
}

function authHeaders(config: Config): Record<string, string> {
    const auth = config.http.auth;
    if (auth === null) {
        return {};
    }
    return {authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}`};
}
