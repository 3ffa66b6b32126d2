/**
 * A small, strict parser for the Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for tests. It throws
 * on anything a Prometheus server would reject or that our exporter should never emit: bad metric or label
 * names, bad escapes, unparsable values, a TYPE after the family's samples, a family split in two, a
 * duplicate series, a counter family whose name does not end in `_total`, a missing final line feed.
 */

export interface PromSample {
    readonly name: string;
    readonly labels: Readonly<Record<string, string>>;
    readonly value: number;
}

export interface PromFamily {
    readonly name: string;
    type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
    help: string | undefined;
    readonly samples: PromSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

export class PromParseError extends Error {
    override readonly name = "PromParseError";
}

export function parsePrometheusText(text: string): Map<string, PromFamily> {
    if (text.length > 0 && !text.endsWith("\n")) {
        throw new PromParseError("the exposition must end with a line feed");
    }
    const families = new Map<string, PromFamily>();
    const finished = new Set<string>();
    const series = new Set<string>();
    let current: string | undefined;
    const lines = text.split("\n");
    lines.pop();
    for (const [index, line] of lines.entries()) {
        const where = `line ${index + 1}`;
        if (line.startsWith("#")) {
            const match = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
            if (match === null) {
                continue; // a plain comment
            }
            const [, keyword, name = "", rest = ""] = match;
            if (!METRIC_NAME.test(name)) {
                throw new PromParseError(`${where}: bad metric name "${name}"`);
            }
            const family = open(name, where);
            if (keyword === "HELP") {
                if (family.help !== undefined) {
                    throw new PromParseError(`${where}: second HELP for ${name}`);
                }
                family.help = unescapeText(rest, false, where);
            } else {
                if (!TYPES.has(rest) || family.samples.length > 0 || family.type !== "untyped") {
                    throw new PromParseError(`${where}: bad or late TYPE "${rest}" for ${name}`);
                }
                family.type = rest as PromFamily["type"];
            }
            continue;
        }
        if (line.trim() === "") {
            continue;
        }
        const sample = parseSample(line, where);
        const family = open(sample.name, where);
        const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
        if (series.has(key)) {
            throw new PromParseError(`${where}: duplicate series ${key}`);
        }
        series.add(key);
        family.samples.push(sample);
    }
    for (const family of families.values()) {
        if (family.type === "counter" && !family.name.endsWith("_total")) {
            throw new PromParseError(`counter ${family.name} should end in _total`);
        }
    }
    return families;

    function open(name: string, where: string): PromFamily {
        if (current !== name) {
            if (current !== undefined) {
                finished.add(current);
            }
            if (finished.has(name)) {
                throw new PromParseError(`${where}: family ${name} appears twice, split by another family`);
            }
            current = name;
        }
        let family = families.get(name);
        if (family === undefined) {
            family = {name, type: "untyped", help: undefined, samples: []};
            families.set(name, family);
        }
        return family;
    }
}

function parseSample(line: string, where: string): PromSample {
    const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
    if (nameMatch === null) {
        throw new PromParseError(`${where}: bad sample line "${line}"`);
    }
    const name = nameMatch[0];
    let position = name.length;
    const labels: Record<string, string> = {};
    if (line[position] === "{") {
        position += 1;
        while (line[position] !== "}") {
            const labelMatch = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(position));
            if (labelMatch?.[1] === undefined || !LABEL_NAME.test(labelMatch[1])) {
                throw new PromParseError(`${where}: bad label at "${line.slice(position)}"`);
            }
            const labelName = labelMatch[1];
            if (labelName in labels) {
                throw new PromParseError(`${where}: label ${labelName} twice`);
            }
            position += labelMatch[0].length;
            let raw = "";
            while (line[position] !== '"') {
                if (position >= line.length) {
                    throw new PromParseError(`${where}: unterminated label value`);
                }
                if (line[position] === "\\") {
                    raw += line.slice(position, position + 2);
                    position += 2;
                } else {
                    raw += line[position];
                    position += 1;
                }
            }
            labels[labelName] = unescapeText(raw, true, where);
            position += 1;
            if (line[position] === ",") {
                position += 1;
            } else if (line[position] !== "}") {
                throw new PromParseError(`${where}: expected , or } after a label`);
            }
        }
        position += 1;
    }
    const rest = line.slice(position);
    const valueMatch = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
    if (valueMatch?.[1] === undefined) {
        throw new PromParseError(`${where}: bad value part "${rest}"`);
    }
    return {name, labels, value: parseValue(valueMatch[1], where)};
}

function parseValue(text: string, where: string): number {
    switch (text) {
        case "NaN":
            return Number.NaN;
        case "+Inf":
            return Number.POSITIVE_INFINITY;
        case "-Inf":
            return Number.NEGATIVE_INFINITY;
        default: {
            if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
                throw new PromParseError(`${where}: bad value "${text}"`);
            }
            return Number(text);
        }
    }
}

function unescapeText(text: string, isLabel: boolean, where: string): string {
    return text.replace(/\\(.)/g, (_whole, char: string) => {
        if (char === "\\") {
            return "\\";
        }
        if (char === "n") {
            return "\n";
        }
        if (char === '"' && isLabel) {
            return '"';
        }
        throw new PromParseError(`${where}: bad escape \\${char}`);
    });
}

/** The value of the one sample of `name` whose labels include `labels`; throws when there is none. */
export function sampleValue(
    families: ReadonlyMap<string, PromFamily>,
    name: string,
    labels: Readonly<Record<string, string>> = {},
): number {
    const family = families.get(name);
    const sample = family?.samples.find((candidate) =>
        Object.entries(labels).every(([key, value]) => candidate.labels[key] === value),
    );
    if (sample === undefined) {
        throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
    }
    return sample.value;
}
