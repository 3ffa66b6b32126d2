/**
 * Redaction for captures users attach to public bug reports (issue 6 item 5): the Wi-Fi password
 * (`p` of the 204 Wi-Fi form, protocol-notes.md §11.2 / new-firmware-notes.md §3.3), any `password`,
 * `pwd`, `passwd`, `tarPwd`, and tokens (`token`, `devToken`, `cliToken`; the bootstrap `token` query
 * parameter; the MQTT CONNECT password) become "<redacted>". PURE.
 */

export const REDACTED = "<redacted>";

/** Keys (compared in lower case) whose values are secrets wherever they appear. */
const SECRET_KEYS: ReadonlySet<string> = new Set([
    "p",
    "pwd",
    "password",
    "passwd",
    "tarpwd",
    "token",
    "devtoken",
    "clitoken",
    "authorization",
    "cookie",
]);

/** Human-readable list for the capture's first line. */
export const REDACTED_KEYS: readonly string[] = [
    "p",
    "pwd",
    "password",
    "passwd",
    "tarPwd",
    "token",
    "devToken",
    "cliToken",
    "MQTT password",
];

const MAX_DEPTH = 32;

export function isSecretKey(key: string): boolean {
    return SECRET_KEYS.has(key.toLowerCase());
}

/** A deep copy of `value` with every secret key's value replaced (objects and arrays, any depth). */
export function redactJson(value: unknown, depth = 0): unknown {
    if (depth > MAX_DEPTH) {
        return "<too deep>";
    }
    if (Array.isArray(value)) {
        return value.map((item: unknown) => redactJson(item, depth + 1));
    }
    if (typeof value === "object" && value !== null) {
        const out: Record<string, unknown> = {};
        for (const [key, item] of Object.entries(value)) {
            out[key] = isSecretKey(key) && item !== null ? REDACTED : redactJson(item, depth + 1);
        }
        return out;
    }
    return value;
}

const QUOTED_SECRET = /("(?:p|pwd|password|passwd|tarPwd|token|devToken|cliToken)"\s*:\s*)"(?:[^"\\]|\\.)*"?/gi;
const BARE_SECRET = /("(?:p|pwd|password|passwd|tarPwd|token|devToken|cliToken)"\s*:\s*)(?!["\s])[^,}\]\s]+/gi;

/**
 * Redacts secrets in text that is not valid JSON (a truncated or garbled device message): the
 * value after any `"secretKey":`, quoted or bare, becomes "<redacted>".
 */
export function redactText(text: string): string {
    return text.replace(QUOTED_SECRET, `$1"${REDACTED}"`).replace(BARE_SECRET, `$1"${REDACTED}"`);
}

/** `devicesCode=X&token=abc` → `devicesCode=X&token=<redacted>`, everything else as sent. */
export function redactQuery(query: string): string {
    if (query === "") {
        return query;
    }
    return query
        .split("&")
        .map((part) => {
            const equals = part.indexOf("=");
            if (equals < 0) {
                return part;
            }
            const rawKey = part.slice(0, equals);
            return isSecretKey(safeDecode(rawKey)) ? `${rawKey}=${REDACTED}` : part;
        })
        .join("&");
}

/** Query parameters as an object (last value wins), secrets redacted. */
export function queryObject(query: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, value] of new URLSearchParams(query)) {
        out[key] = isSecretKey(key) ? REDACTED : value;
    }
    return out;
}

function safeDecode(text: string): string {
    try {
        return decodeURIComponent(text.replaceAll("+", " "));
    } catch (error) {
        if (error instanceof URIError) {
            return text;
        }
        throw error;
    }
}
