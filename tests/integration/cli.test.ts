// biome-ignore-all lint/style/useNamingConvention: environment variable names such as V720_CONFIG are part of these tests.
import {type ChildProcess, spawn} from "node:child_process";
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {createServer, type Server} from "node:net";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {fileURLToPath} from "node:url";
import {afterAll, describe, expect, it} from "vitest";
import {parse} from "yaml";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PACKAGE_VERSION: unknown = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
/** A stack frame line: a crash instead of a clean message. */
const STACK_FRAME = /^\s+at /m;

const dirs: string[] = [];
const children: ChildProcess[] = [];
const servers: Server[] = [];

afterAll(async () => {
    for (const child of children.splice(0)) {
        if (child.exitCode === null && child.signalCode === null) {
            child.kill("SIGKILL");
        }
    }
    await Promise.all(servers.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    for (const dir of dirs.splice(0)) {
        rmSync(dir, {recursive: true, force: true});
    }
});

function makeDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "v720-cli-"));
    dirs.push(dir);
    return dir;
}

/** The environment of the child: ours without any V720_/LOG_LEVEL variables, plus `extra`. */
function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
        if (!name.startsWith("V720_") && name !== "LOG_LEVEL" && name !== "FFMPEG_PATH") {
            env[name] = value;
        }
    }
    return {...env, ...extra};
}

interface Run {
    readonly child: ChildProcess;
    readonly exited: Promise<{code: number | null; stdout: string; stderr: string}>;
    /** Resolves when stderr contains `text`. */
    waitForStderr(text: string): Promise<void>;
}

function start(args: readonly string[], extraEnv: Record<string, string> = {}): Run {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", ...args], {
        cwd: ROOT,
        env: childEnv(extraEnv),
        stdio: ["ignore", "pipe", "pipe"],
    });
    children.push(child);
    let stdout = "";
    let stderr = "";
    const waiters: {text: string; resolve: () => void}[] = [];
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
        stderr += chunk;
        for (const waiter of waiters.filter((candidate) => stderr.includes(candidate.text))) {
            waiters.splice(waiters.indexOf(waiter), 1);
            waiter.resolve();
        }
    });
    const exited = new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
        child.on("error", reject);
        child.on("close", (code) => resolve({code, stdout, stderr}));
    });
    return {
        child,
        exited,
        waitForStderr: (text) =>
            new Promise<void>((resolve, reject) => {
                if (stderr.includes(text)) {
                    resolve();
                    return;
                }
                waiters.push({text, resolve});
                exited.then(() => reject(new Error(`exited before printing "${text}"; stderr:\n${stderr}`)), reject);
            }),
    };
}

function run(args: readonly string[], extraEnv: Record<string, string> = {}) {
    return start(args, extraEnv).exited;
}

function writeConfig(text: string): string {
    const path = join(makeDir(), "config.yaml");
    writeFileSync(path, text);
    return path;
}

/** A config whose listeners all use ephemeral ports on 127.0.0.1 (never the standard ones). */
function ephemeralConfig(overrides: {httpPort?: number} = {}): string {
    const dataDir = join(makeDir(), "data");
    return writeConfig(
        [
            `data_dir: ${JSON.stringify(dataDir)}`,
            "cloud: {http_port: 0, tcp_port: 0, host: 127.0.0.1}",
            `http: {port: ${overrides.httpPort ?? 0}, host: 127.0.0.1}`,
            "mqtt: {enabled: false, broker: {port: 0, host: 127.0.0.1}}",
            "rtsp: {enabled: false, port: 0}",
            "",
        ].join("\n"),
    );
}

async function occupiedPort(): Promise<number> {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
    });
    const address = server.address();
    if (address === null || typeof address === "string") {
        throw new Error("no port");
    }
    return address.port;
}

// Each test spawns its own process with its own files and ports, so they run concurrently.
describe.concurrent("v720-bridge CLI", {timeout: 60_000}, () => {
    it("exits 1 with a message naming the bad key and the file, before opening any port", async () => {
        const path = writeConfig("cloud:\n  tcp_prot: 7000\n");
        const {code, stdout, stderr} = await run(["serve", "--config", path]);
        expect(code).toBe(1);
        expect(stdout).toBe("");
        expect(stderr).toBe(
            `invalid config in ${path}:\n✖ Unrecognized key "tcp_prot" (did you mean "tcp_port"?)\n  → at cloud.tcp_prot\n`,
        );
        expect(stderr).not.toMatch(STACK_FRAME);
    });

    it("exits 1 with one line when a config file named by V720_CONFIG is missing", async () => {
        const missing = join(makeDir(), "missing.yaml");
        const {code, stderr} = await run(["serve"], {V720_CONFIG: missing});
        expect(code).toBe(1);
        expect(stderr).toBe(`cannot read config file ${missing} (from V720_CONFIG): file not found\n`);
    });

    it("exits 1 naming an unknown V720_ variable", async () => {
        const {code, stderr} = await run(["serve", "--config", ephemeralConfig()], {V720_CLOUD__TCP_PROT: "1"});
        expect(code).toBe(1);
        expect(stderr).toContain("unknown environment variable: V720_CLOUD__TCP_PROT");
        expect(stderr).not.toMatch(STACK_FRAME);
    });

    it("exits 1 with one clear line when a port is already in use", async () => {
        const port = await occupiedPort();
        const {code, stderr} = await run(["serve", "--config", ephemeralConfig({httpPort: port})]);
        expect(code).toBe(1);
        const errorLines = stderr.split("\n").filter((line) => line.includes(" error "));
        expect(errorLines).toHaveLength(1);
        expect(errorLines[0]).toContain(
            `cannot listen on 127.0.0.1:${port} (http.port): address already in use by another process — stop it`,
        );
        expect(errorLines[0]).toContain("or change http.port / V720_HTTP__PORT");
        expect(stderr).not.toMatch(STACK_FRAME);
    });

    it("serves until SIGTERM, then stops gracefully and exits 0", async () => {
        const serving = start(["serve", "--config", ephemeralConfig(), "--log-level", "info"]);
        await serving.waitForStderr("listening:");
        serving.child.kill("SIGTERM");
        const {code, stderr} = await serving.exited;
        expect(stderr).toContain("SIGTERM received; stopping");
        expect(stderr).toContain("[main] stopped");
        expect(code).toBe(0);
    });

    it("prints the effective config with environment overrides and redacted secrets", async () => {
        const path = writeConfig("mqtt:\n  password: hunter2\n");
        const {code, stdout} = await run(["config", "--config", path], {V720_CLOUD__TCP_PORT: "7000"});
        expect(code).toBe(0);
        expect(stdout).not.toContain("hunter2");
        expect(parse(stdout)).toMatchObject({cloud: {tcp_port: 7000}, mqtt: {password: "<redacted>"}});
    });

    it("prints the version and the help, and rejects unknown commands and options with exit code 2", async () => {
        const [version, help, unknownCommand, unknownOption] = await Promise.all([
            run(["--version"]),
            run(["--help"]),
            run(["frobnicate"]),
            run(["serve", "--frobnicate"]),
        ]);
        expect(version).toMatchObject({code: 0, stdout: `${String(PACKAGE_VERSION)}\n`});
        expect(help.code).toBe(0);
        expect(help.stdout).toContain("serve [--config FILE] [--demo N] [--log-level LEVEL]");
        expect(unknownCommand.code).toBe(2);
        expect(unknownCommand.stderr).toContain('unknown command "frobnicate"');
        expect(unknownOption.code).toBe(2);
        expect(unknownOption.stderr).toContain("--frobnicate");
    });
});
