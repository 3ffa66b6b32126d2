/**
 * Opening listening sockets with start-up errors a user can act on (issue 2 item 6): a port that cannot be
 * opened ends start-up with ONE line saying which port, why, and what to do.
 */
import type {Socket as UdpSocket} from "node:dgram";
import type {Server} from "node:net";

/** A listener could not be opened. `code` is the system error code (EACCES, EADDRINUSE, …). */
export class ListenError extends Error {
    override readonly name = "ListenError";
    readonly code: string;
    readonly host: string;
    readonly port: number;
    /** The config key of the port, e.g. `cloud.http_port`. */
    readonly what: string;

    constructor(code: string, host: string, port: number, what: string, protocol: "tcp" | "udp", cause?: unknown) {
        super(
            describeListenFailure(code, host, port, what, protocol, cause instanceof Error ? cause.message : undefined),
            {
                cause,
            },
        );
        this.code = code;
        this.host = host;
        this.port = port;
        this.what = what;
    }
}

/**
 * `server.listen(port, host)` as a promise resolving to the bound port (useful with port 0). `what` names the
 * config key of the port (`cloud.http_port`). Works for `http.Server` too. The caller still owns the server's
 * permanent 'error' listener; this one is removed once listening.
 */
export function listen(server: Server, port: number, host: string, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const onError = (error: Error): void => {
            server.off("listening", onListening);
            reject(new ListenError(errorCode(error), host, port, what, "tcp", error));
        };
        const onListening = (): void => {
            server.off("error", onError);
            const address = server.address();
            resolve(typeof address === "object" && address !== null ? address.port : port);
        };
        server.once("error", onError);
        server.once("listening", onListening);
        server.listen(port, host);
    });
}

/** `socket.bind(port, host)` as a promise resolving to the bound port; errors as for `listen`. */
export function bindUdp(socket: UdpSocket, port: number, host: string, what: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const onError = (error: Error): void => {
            socket.off("listening", onListening);
            reject(new ListenError(errorCode(error), host, port, what, "udp", error));
        };
        const onListening = (): void => {
            socket.off("error", onError);
            resolve(socket.address().port);
        };
        socket.once("error", onError);
        socket.once("listening", onListening);
        socket.bind(port, host);
    });
}

/** The one-line explanation used as the `ListenError` message. */
export function describeListenFailure(
    code: string,
    host: string,
    port: number,
    what: string,
    protocol: "tcp" | "udp" = "tcp",
    detail?: string,
): string {
    const where = `cannot listen on ${formatAddress(host, port)}${protocol === "udp" ? "/udp" : ""} (${what})`;
    const setting = settingNames(what);
    switch (code) {
        case "EACCES":
            return port < 1024
                ? `${where}: permission denied — run as root, grant CAP_NET_BIND_SERVICE, or set ${setting} to a port above 1023 and forward ${port} to it`
                : `${where}: permission denied — check the security policy of this machine or set ${setting} to another port`;
        case "EADDRINUSE":
            return `${where}: address already in use by another process — stop it (e.g. an old fake server or mosquitto; \`ss -${protocol === "udp" ? "u" : "t"}lnp 'sport = :${port}'\` shows which) or change ${setting}`;
        case "EADDRNOTAVAIL":
            return `${where}: address not available — ${host} is not an address of this machine; listen on 0.0.0.0 or one of its own addresses`;
        default:
            return `${where}: ${detail ?? code} — check ${setting}`;
    }
}

/** `cloud.http_port` → `cloud.http_port / V720_CLOUD__HTTP_PORT`; other descriptions are returned unchanged. */
function settingNames(what: string): string {
    if (!/^[a-z0-9_]+(\.[a-z0-9_]+)*$/.test(what)) {
        return what;
    }
    return `${what} / V720_${what.toUpperCase().replaceAll(".", "__")}`;
}

function formatAddress(host: string, port: number): string {
    return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

function errorCode(error: Error): string {
    return "code" in error && typeof error.code === "string" ? error.code : "UNKNOWN";
}
