/**
 * The Logger interface every module receives, and its winston implementation (house-style §4.6).
 * Messages may be lazy (`() => string`) so hot paths pay nothing when the level is off.
 */
import winston from "winston";

export type LogLevel = "error" | "warn" | "info" | "debug";
export type LogMessage = string | (() => string);
export type LogMeta = Readonly<Record<string, unknown>>;

export interface Logger {
    error(message: LogMessage, meta?: LogMeta): void;
    warn(message: LogMessage, meta?: LogMeta): void;
    info(message: LogMessage, meta?: LogMeta): void;
    debug(message: LogMessage, meta?: LogMeta): void;
    isLevelEnabled(level: LogLevel): boolean;
    /** A logger whose namespace is `<this namespace>:<suffix>` (or `suffix` at the root). */
    child(suffix: string): Logger;
}

export interface LogOptions {
    readonly level: LogLevel;
    readonly format: "text" | "json";
    /** Per-namespace levels, e.g. {"camera:udp": "debug"}; the longest matching prefix wins. */
    readonly namespaces: Readonly<Record<string, LogLevel>>;
}

const RANK: Record<LogLevel, number> = {error: 0, warn: 1, info: 2, debug: 3};

export function createLogger(options: LogOptions, stream?: NodeJS.WritableStream): Logger {
    const format =
        options.format === "json"
            ? winston.format.combine(winston.format.timestamp(), winston.format.json())
            : winston.format.combine(
                  winston.format.timestamp(),
                  winston.format.printf(({timestamp, level, message, namespace, ...meta}) => {
                      const rest = Object.keys(meta).length > 0 ? ` ${safeJson(meta)}` : "";
                      return `${String(timestamp)} ${level.padEnd(5)} [${String(namespace)}] ${String(message)}${rest}`;
                  }),
              );
    const transport =
        stream === undefined
            ? new winston.transports.Console({stderrLevels: ["error", "warn", "info", "debug"]})
            : new winston.transports.Stream({stream});
    const root = winston.createLogger({level: "debug", format, transports: [transport]});
    return new WinstonLogger(root, options, "v720");
}

class WinstonLogger implements Logger {
    readonly #root: winston.Logger;
    readonly #options: LogOptions;
    readonly #namespace: string;
    readonly #rank: number;

    constructor(root: winston.Logger, options: LogOptions, namespace: string) {
        this.#root = root;
        this.#options = options;
        this.#namespace = namespace;
        this.#rank = RANK[levelFor(options, namespace)];
    }

    error(message: LogMessage, meta?: LogMeta): void {
        this.#log("error", message, meta);
    }
    warn(message: LogMessage, meta?: LogMeta): void {
        this.#log("warn", message, meta);
    }
    info(message: LogMessage, meta?: LogMeta): void {
        this.#log("info", message, meta);
    }
    debug(message: LogMessage, meta?: LogMeta): void {
        this.#log("debug", message, meta);
    }
    isLevelEnabled(level: LogLevel): boolean {
        return RANK[level] <= this.#rank;
    }
    child(suffix: string): Logger {
        const namespace = this.#namespace === "v720" ? suffix : `${this.#namespace}:${suffix}`;
        return new WinstonLogger(this.#root, this.#options, namespace);
    }

    #log(level: LogLevel, message: LogMessage, meta: LogMeta | undefined): void {
        if (RANK[level] > this.#rank) {
            return;
        }
        const text = typeof message === "function" ? message() : message;
        this.#root.log({level, message: text, namespace: this.#namespace, ...serializeMeta(meta)});
    }
}

function levelFor(options: LogOptions, namespace: string): LogLevel {
    let best: LogLevel = options.level;
    let bestLength = -1;
    for (const [prefix, level] of Object.entries(options.namespaces)) {
        if ((namespace === prefix || namespace.startsWith(`${prefix}:`)) && prefix.length > bestLength) {
            best = level;
            bestLength = prefix.length;
        }
    }
    return best;
}

function serializeMeta(meta: LogMeta | undefined): Record<string, unknown> {
    if (meta === undefined) {
        return {};
    }
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(meta)) {
        out[key] = value instanceof Error ? {name: value.name, message: value.message} : value;
    }
    return out;
}

function safeJson(value: unknown): string {
    try {
        return JSON.stringify(value);
    } catch {
        return "[unserializable]";
    }
}

/** A Logger that drops everything (tests, benchmarks). */
export const silentLogger: Logger = {
    error: () => undefined,
    warn: () => undefined,
    info: () => undefined,
    debug: () => undefined,
    isLevelEnabled: () => false,
    child: () => silentLogger,
};
