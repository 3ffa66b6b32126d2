/**
 * Loads the configuration: YAML file → environment overrides → CLI flags → validation (schema.ts).
 * This is the only module that reads the environment, and it reads it from the `env` it is given
 * (main.ts passes `process.env`; tests pass a plain object).
 *
 * Precedence, lowest first (decisions.md 2, 12):
 *   built-in defaults < file < LOG_LEVEL < FFMPEG_PATH (only when the file sets no media.ffmpeg_path)
 *   < V720_<KEY__PATH> variables < CLI flags.
 */
import {readFileSync} from "node:fs";
import {parseDocument, stringify} from "yaml";
import {ConfigError} from "./errors.js";
import {type Config, findKey, type KeyInfo, parseConfig} from "./schema.js";

/** The variable naming the config file (the `--config` flag wins over it). */
export const CONFIG_PATH_VARIABLE = "V720_CONFIG";
const ENV_PREFIX = "V720_";
const ENV_LEVEL_SEPARATOR = "__";
const REDACTED = "<redacted>";

export type Environment = Readonly<Record<string, string | undefined>>;

export interface LoadConfigOptions {
    /** The `--config` flag; wins over V720_CONFIG. No path at all = built-in defaults. */
    readonly path?: string | undefined;
    readonly env: Environment;
    /** CLI flags as dotted snake_case key paths, e.g. `{"log.level": "debug"}`; undefined values are skipped. */
    readonly overrides?: Readonly<Record<string, unknown>> | undefined;
}

export interface LoadedConfig {
    readonly config: Config;
    /** The file that was read, or null when none was given. */
    readonly file: string | null;
    /** The overrides that were applied, in order: `LOG_LEVEL`, `V720_CLOUD__TCP_PORT`, `command line log.level`, … */
    readonly overriddenBy: readonly string[];
}

type RawObject = Record<string, unknown>;

/** Reads, merges and validates the configuration. Throws `ConfigError` with a message meant for the user. */
export function loadConfig(options: LoadConfigOptions): LoadedConfig {
    const {env} = options;
    const fromEnv = nonEmpty(env[CONFIG_PATH_VARIABLE]);
    const file = options.path ?? fromEnv ?? null;
    const origin = options.path === undefined ? CONFIG_PATH_VARIABLE : "--config";
    const raw: RawObject = file === null ? {} : readConfigFile(file, origin);
    const fileSource = file ?? "built-in defaults";
    const overriddenBy: string[] = [];

    const logLevel = nonEmpty(env["LOG_LEVEL"]);
    if (logLevel !== undefined) {
        setAt(raw, ["log", "level"], logLevel.toLowerCase());
        overriddenBy.push("LOG_LEVEL");
    }
    const ffmpegPath = nonEmpty(env["FFMPEG_PATH"]);
    if (ffmpegPath !== undefined && getAt(raw, ["media", "ffmpeg_path"]) == null) {
        setAt(raw, ["media", "ffmpeg_path"], ffmpegPath);
        overriddenBy.push("FFMPEG_PATH");
    }

    const unknown: string[] = [];
    for (const name of Object.keys(env).sort()) {
        const value = env[name];
        if (!name.startsWith(ENV_PREFIX) || name === CONFIG_PATH_VARIABLE || value === undefined) {
            continue;
        }
        const segments = name.slice(ENV_PREFIX.length).split(ENV_LEVEL_SEPARATOR);
        const leaf = findConfigKey(segments, true);
        if (leaf === undefined) {
            unknown.push(`${name} (there is no key ${segments.join(".").toLowerCase()})`);
            continue;
        }
        setAt(raw, leaf.path, convertText(value, leaf, name, fileSource));
        overriddenBy.push(name);
    }
    if (unknown.length > 0) {
        throw new ConfigError(
            `unknown environment variable${unknown.length > 1 ? "s" : ""}: ${unknown.join(", ")}. ` +
                `${ENV_PREFIX} variables are config key paths upper-cased with ${ENV_LEVEL_SEPARATOR} between levels ` +
                `(e.g. V720_CLOUD__TCP_PORT=7000); ${CONFIG_PATH_VARIABLE} names the config file.`,
            fileSource,
        );
    }

    for (const [key, value] of Object.entries(options.overrides ?? {})) {
        if (value === undefined) {
            continue;
        }
        const leaf = findConfigKey(key.split("."), false);
        if (leaf === undefined) {
            throw new ConfigError(`unknown config key ${key} given on the command line`, fileSource);
        }
        const flag = `command line ${key}`;
        setAt(raw, leaf.path, typeof value === "string" ? convertText(value, leaf, flag, fileSource) : value);
        overriddenBy.push(flag);
    }

    const source = overriddenBy.length === 0 ? fileSource : `${fileSource} (with ${overriddenBy.join(", ")})`;
    return {config: parseConfig(raw, source), file, overriddenBy};
}

/** Reads and parses a YAML config file; an empty file is an empty mapping. */
export function readConfigFile(path: string, origin = "--config"): RawObject {
    let text: string;
    try {
        text = readFileSync(path, "utf8");
    } catch (error) {
        const code = error instanceof Error && "code" in error ? String(error.code) : "";
        const reason = code === "ENOENT" ? "file not found" : errorText(error);
        throw new ConfigError(`cannot read config file ${path} (from ${origin}): ${reason}`, path, {cause: error});
    }
    const document = parseDocument(text, {prettyErrors: true, uniqueKeys: true});
    if (document.errors.length > 0) {
        const problems = document.errors.map((error) => `✖ ${error.message.trimEnd()}`).join("\n");
        throw new ConfigError(`invalid YAML in ${path}:\n${problems}`, path);
    }
    let value: unknown;
    try {
        value = document.toJS({maxAliasCount: 100});
    } catch (error) {
        throw new ConfigError(`invalid YAML in ${path}: ${errorText(error)}`, path, {cause: error});
    }
    if (value === null || value === undefined) {
        return {};
    }
    if (!isRawObject(value)) {
        throw new ConfigError(
            `invalid config in ${path}: the file must be a mapping of keys (e.g. "cloud:"), not ${describe(value)}`,
            path,
        );
    }
    return value;
}

/**
 * The effective configuration as YAML (snake_case keys, like the file), with passwords and URL credentials
 * redacted, for `v720-bridge config` and debug logs.
 */
export function formatEffectiveConfig(config: Config): string {
    return stringify(toSnakeCase(config, []), {lineWidth: 0});
}

/** Object keys below these paths are data (camera ids, logger namespaces), not config keys. */
const DATA_KEYED_PATHS = new Set(["log.namespaces", "cameras.overrides"]);

function toSnakeCase(value: unknown, path: readonly string[]): unknown {
    if (Array.isArray(value)) {
        return value.map((item) => toSnakeCase(item, path));
    }
    if (!isRawObject(value)) {
        return value;
    }
    const keepKeys = DATA_KEYED_PATHS.has(path.join("."));
    const out: RawObject = {};
    for (const [key, child] of Object.entries(value)) {
        const name = keepKeys ? key : key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
        out[name] = redact(name, toSnakeCase(child, [...path, name]));
    }
    return out;
}

function redact(key: string, value: unknown): unknown {
    if (typeof value !== "string") {
        return value;
    }
    if (key === "password" || key === "token") {
        return REDACTED;
    }
    if (key === "url") {
        return value.replace(/^([a-z]+:\/\/[^:@/]*):[^@/]*@/i, `$1:${REDACTED}@`);
    }
    return value;
}

/** Text from the environment or the command line: kept as text for string keys, else parsed as YAML. */
function convertText(text: string, leaf: KeyInfo, name: string, source: string): unknown {
    if (leaf.isNullable && (text === "" || text === "null" || text === "~")) {
        return null;
    }
    if (leaf.isText) {
        return text;
    }
    const document = parseDocument(text);
    if (document.errors.length > 0) {
        throw new ConfigError(
            `invalid value in ${name}: ${JSON.stringify(text)} is not a YAML value (${document.errors[0]?.message ?? "parse error"})`,
            source,
        );
    }
    return document.toJS();
}

/** A key that can be overridden: any path that the schema knows, except the root. */
function findConfigKey(segments: readonly string[], ignoreCase: boolean): KeyInfo | undefined {
    const key = findKey(segments, {ignoreCase});
    return key === undefined || key.path.length === 0 ? undefined : key;
}

function getAt(root: RawObject, path: readonly string[]): unknown {
    let node: unknown = root;
    for (const key of path) {
        if (!isRawObject(node)) {
            return undefined;
        }
        node = node[key];
    }
    return node;
}

function setAt(root: RawObject, path: readonly string[], value: unknown): void {
    let node = root;
    for (const [index, key] of path.entries()) {
        if (index === path.length - 1) {
            node[key] = value;
            return;
        }
        const child = node[key];
        if (isRawObject(child)) {
            node = child;
        } else {
            const created: RawObject = {};
            node[key] = created;
            node = created;
        }
    }
}

function isRawObject(value: unknown): value is RawObject {
    return typeof value === "object" && value !== null && !Array.isArray(value);
}

function nonEmpty(value: string | undefined): string | undefined {
    return value === undefined || value.trim() === "" ? undefined : value;
}

function describe(value: unknown): string {
    if (Array.isArray(value)) {
        return "a list";
    }
    return `a ${typeof value}`;
}

function errorText(error: unknown): string {
    return error instanceof Error ? error.message : String(error);
}
