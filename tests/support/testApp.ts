/** Starts the real app (all listeners on 127.0.0.1, port 0) with a temporary data dir, for integration tests and the bench. */
import {mkdtemp, rm} from "node:fs/promises";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {type RunningApp, type StartAppOptions, startApp} from "../../src/app/app.js";
import {parseConfig} from "../../src/config/schema.js";
import {type Logger, silentLogger} from "../../src/util/log.js";

export interface TestApp extends RunningApp {
    readonly baseUrl: string;
    readonly dataDir: string;
}

/** `overrides` is snake_case config merged section by section over the test defaults. */
export async function startTestApp(
    overrides: Record<string, Record<string, unknown>> = {},
    options: StartAppOptions & {log?: Logger} = {},
): Promise<TestApp> {
    const dataDir = await mkdtemp(join(tmpdir(), "v720-test-"));
    const sections: Record<string, Record<string, unknown>> = {
        cloud: {host: "127.0.0.1", http_port: 0, tcp_port: 0, ...overrides["cloud"]},
        http: {host: "127.0.0.1", port: 0, ...overrides["http"]},
        mqtt: {enabled: false, ...overrides["mqtt"]},
        rtsp: {enabled: false, ...overrides["rtsp"]},
    };
    for (const [key, value] of Object.entries(overrides)) {
        sections[key] ??= value;
    }
    const config = parseConfig({data_dir: dataDir, advertise_host: "127.0.0.1", ...sections}, "test");
    const app = await startApp(config, options.log ?? silentLogger, options);
    return {
        ...app,
        baseUrl: `http://127.0.0.1:${app.ports.http}`,
        dataDir,
        stop: async () => {
            await app.stop();
            await rm(dataDir, {recursive: true, force: true});
        },
    };
}
