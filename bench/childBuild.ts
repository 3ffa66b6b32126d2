/**
 * Makes the server child runnable by plain `node`, without the tsx loader: the tsx loader thread alone
 * adds ~35 MB of RSS, which would swamp the "RSS < 80 MB with one camera" figure.
 *
 * Every src/**.ts plus bench/benchServer.ts, bench/benchProtocol.ts, the simulator worker
 * (bench/simWorker.ts) and the viewer worker (bench/viewerWorker.ts with tests/support/mjpegClient.ts) is transpiled file by file
 * with TypeScript's transpileModule (no type check; the tsconfig has isolatedModules and
 * verbatimModuleSyntax, so per-file output equals tsc's) into node_modules/.cache/v720-bench/,
 * keeping the layout so relative imports resolve and bare ones (winston, zod…) find the repository's
 * node_modules. Always rebuilt from the current sources (~2 s), so it never measures a stale dist/.
 * Source maps are kept to turn CPU-profile positions back into src file:line.
 *
 * The compiler runs in a worker thread so its ~100 MB heap is gone before the measurement starts
 * (the bench process is the load generator; a big retained heap would slow its GC).
 */
import {readdir} from "node:fs/promises";
import {createRequire} from "node:module";
import {join, relative} from "node:path";
import {pathToFileURL} from "node:url";
import {Worker} from "node:worker_threads";

export interface ChildBuild {
    /** The server child's entry, to run with plain node. */
    readonly entry: string;
    /** The viewer worker's entry (bench/viewerWorker.ts transpiled). */
    readonly viewerEntry: string;
    /** The simulator worker's entry (bench/simWorker.ts transpiled). */
    readonly simEntry: string;
    /** Output root (node_modules/.cache/v720-bench). */
    readonly outDir: string;
    /** Output file URL → its source map `mappings` and the original source path relative to the repo. */
    readonly sourceMaps: ReadonlyMap<string, {readonly mappings: string; readonly source: string}>;
}

interface TranspileJob {
    readonly input: string;
    readonly output: string;
}

interface TranspiledMap {
    readonly output: string;
    readonly mappings: string;
}

/** Plain CommonJS for the worker (eval workers are CJS); it only needs node builtins and typescript. */
const WORKER_SOURCE = `
const {parentPort, workerData} = require("node:worker_threads");
const fs = require("node:fs");
const path = require("node:path");
const ts = require(workerData.typescript);
fs.rmSync(workerData.outDir, {recursive: true, force: true});
const maps = [];
for (const {input, output} of workerData.jobs) {
    const result = ts.transpileModule(fs.readFileSync(input, "utf8"), {
        fileName: input,
        compilerOptions: {
            module: ts.ModuleKind.ES2022,
            target: ts.ScriptTarget.ES2023,
            sourceMap: true,
            verbatimModuleSyntax: true,
            isolatedModules: true,
        },
    });
    fs.mkdirSync(path.dirname(output), {recursive: true});
    fs.writeFileSync(output, result.outputText);
    if (result.sourceMapText !== undefined) {
        fs.writeFileSync(output + ".map", result.sourceMapText);
        maps.push({output, mappings: JSON.parse(result.sourceMapText).mappings});
    }
}
fs.writeFileSync(path.join(workerData.outDir, "package.json"), JSON.stringify({type: "module", private: true}) + "\\n");
parentPort.postMessage(maps);
`;

export async function buildChild(repoRoot: string): Promise<ChildBuild> {
    const outDir = join(repoRoot, "node_modules", ".cache", "v720-bench");
    const inputs = [
        ...(await listTs(join(repoRoot, "src"))),
        join(repoRoot, "bench", "benchServer.ts"),
        join(repoRoot, "bench", "benchProtocol.ts"),
        join(repoRoot, "bench", "viewerWorker.ts"),
        join(repoRoot, "bench", "simWorker.ts"),
        join(repoRoot, "tests", "support", "mjpegClient.ts"),
    ];
    const jobs: TranspileJob[] = inputs.map((input) => ({
        input,
        output: join(outDir, relative(repoRoot, input).replace(/\.ts$/, ".js")),
    }));
    const typescript = createRequire(import.meta.url).resolve("typescript");
    const maps = await new Promise<TranspiledMap[]>((resolve, reject) => {
        // execArgv []: the worker must not inherit the tsx loader of the bench process
        const worker = new Worker(WORKER_SOURCE, {eval: true, execArgv: [], workerData: {typescript, outDir, jobs}});
        worker.once("message", (message: TranspiledMap[]) => resolve(message));
        worker.once("error", reject);
        worker.once("exit", (code) => reject(new Error(`the transpile worker exited with code ${code}`)));
    });
    const sourceMaps = new Map<string, {mappings: string; source: string}>();
    for (const map of maps) {
        const job = jobs.find((candidate) => candidate.output === map.output);
        if (job !== undefined) {
            sourceMaps.set(pathToFileURL(map.output).href, {
                mappings: map.mappings,
                source: relative(repoRoot, job.input),
            });
        }
    }
    return {
        entry: join(outDir, "bench", "benchServer.js"),
        viewerEntry: join(outDir, "bench", "viewerWorker.js"),
        simEntry: join(outDir, "bench", "simWorker.js"),
        outDir,
        sourceMaps,
    };
}

async function listTs(dir: string): Promise<string[]> {
    const files: string[] = [];
    for (const entry of await readdir(dir, {withFileTypes: true})) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
            files.push(...(await listTs(path)));
        } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts")) {
            files.push(path);
        }
    }
    return files;
}
