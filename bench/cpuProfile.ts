/**
 * Summary of a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function and per file,
 * with positions in transpiled files mapped back to src file:line through their source maps.
 */
import {readFile} from "node:fs/promises";

interface CallFrame {
    readonly functionName: string;
    readonly url: string;
    /** 0-based. */
    readonly lineNumber: number;
    readonly columnNumber: number;
}

interface ProfileNode {
    readonly id: number;
    readonly callFrame: CallFrame;
}

interface CpuProfile {
    readonly nodes: readonly ProfileNode[];
    readonly samples: readonly number[];
    readonly timeDeltas: readonly number[];
}

export interface SourceMapInfo {
    readonly mappings: string;
    readonly source: string;
}

export interface HotSpot {
    /** "name (file:line)". */
    readonly label: string;
    readonly selfMs: number;
    /** Share of all non-idle samples. */
    readonly share: number;
}

export interface ProfileSummary {
    readonly totalMs: number;
    readonly functions: readonly HotSpot[];
    readonly files: readonly HotSpot[];
}

export async function summarizeProfile(
    path: string,
    sourceMaps: ReadonlyMap<string, SourceMapInfo>,
    top = 15,
): Promise<ProfileSummary> {
    const profile = JSON.parse(await readFile(path, "utf8")) as CpuProfile;
    const selfUs = new Map<number, number>();
    for (let index = 0; index < profile.samples.length; index += 1) {
        const node = profile.samples[index] ?? 0;
        // timeDeltas[i] is the time since the previous sample; charge the interval after sample i to it.
        const delta = profile.timeDeltas[index + 1] ?? profile.timeDeltas[index] ?? 0;
        selfUs.set(node, (selfUs.get(node) ?? 0) + delta);
    }
    const decoded = new Map<string, number[][]>();
    const byFunction = new Map<string, number>();
    const byFile = new Map<string, number>();
    let totalUs = 0;
    for (const node of profile.nodes) {
        const us = selfUs.get(node.id) ?? 0;
        if (us === 0 || node.callFrame.functionName === "(idle)") {
            continue;
        }
        totalUs += us;
        const {file, line} = locate(node.callFrame, sourceMaps, decoded);
        const name = node.callFrame.functionName === "" ? "(anonymous)" : node.callFrame.functionName;
        const label = file === "" ? name : `${name} (${file}:${line})`;
        byFunction.set(label, (byFunction.get(label) ?? 0) + us);
        const fileKey = file === "" ? name : file;
        byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + us);
    }
    const rank = (map: Map<string, number>): HotSpot[] =>
        [...map.entries()]
            .sort((a, b) => b[1] - a[1])
            .slice(0, top)
            .map(([label, us]) => ({label, selfMs: us / 1000, share: totalUs === 0 ? 0 : us / totalUs}));
    return {totalMs: totalUs / 1000, functions: rank(byFunction), files: rank(byFile)};
}

/** The original file (repo-relative for our sources, else the URL) and 1-based line of a call frame. */
function locate(
    frame: CallFrame,
    sourceMaps: ReadonlyMap<string, SourceMapInfo>,
    decoded: Map<string, number[][]>,
): {file: string; line: number} {
    const map = sourceMaps.get(frame.url);
    if (map === undefined) {
        const file = frame.url.replace(/^file:\/\/.*\/node_modules\//, "node_modules/");
        return {file, line: frame.lineNumber + 1};
    }
    let lines = decoded.get(frame.url);
    if (lines === undefined) {
        lines = decodeMappings(map.mappings);
        decoded.set(frame.url, lines);
    }
    const segments = lines[frame.lineNumber] ?? [];
    // segments: [generatedColumn, originalLine] pairs flattened, in column order
    let originalLine = -1;
    for (let index = 0; index + 1 < segments.length; index += 2) {
        const column = segments[index] ?? 0;
        if (column > frame.columnNumber && originalLine >= 0) {
            break;
        }
        originalLine = segments[index + 1] ?? originalLine;
    }
    return {file: map.source, line: originalLine < 0 ? frame.lineNumber + 1 : originalLine + 1};
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Source map v3 `mappings` → per generated line, flattened [generatedColumn, originalLine] pairs. */
export function decodeMappings(mappings: string): number[][] {
    const lines: number[][] = [];
    let originalLine = 0;
    for (const lineText of mappings.split(";")) {
        const pairs: number[] = [];
        let column = 0;
        for (const segment of lineText.split(",")) {
            if (segment === "") {
                continue;
            }
            const fields = decodeVlq(segment);
            column += fields[0] ?? 0;
            if (fields.length >= 4) {
                originalLine += fields[2] ?? 0;
                pairs.push(column, originalLine);
            }
        }
        lines.push(pairs);
    }
    return lines;
}

function decodeVlq(segment: string): number[] {
    const values: number[] = [];
    let value = 0;
    let shift = 0;
    for (const char of segment) {
        const digit = BASE64.indexOf(char);
        value += (digit & 31) << shift;
        if ((digit & 32) !== 0) {
            shift += 5;
        } else {
            values.push(value & 1 ? -(value >>> 1) : value >>> 1);
            value = 0;
            shift = 0;
        }
    }
    return values;
}
