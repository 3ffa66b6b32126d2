/** Linux /proc readers for the bench: kernel UDP counters, one socket's drops, host CPU. Undefined elsewhere. */
import {readFileSync} from "node:fs";

export interface UdpSnmp {
    readonly inDatagrams: number;
    readonly inErrors: number;
    readonly rcvbufErrors: number;
}

/** The system-wide `Udp:` line of /proc/net/snmp. */
export function readUdpSnmp(): UdpSnmp | undefined {
    const text = readProc("/proc/net/snmp");
    if (text === undefined) {
        return undefined;
    }
    const rows = text.split("\n").filter((line) => line.startsWith("Udp:"));
    const names = rows[0]?.split(/\s+/) ?? [];
    const values = rows[1]?.split(/\s+/) ?? [];
    const field = (name: string): number => Number(values[names.indexOf(name)] ?? Number.NaN);
    const snmp = {
        inDatagrams: field("InDatagrams"),
        inErrors: field("InErrors"),
        rcvbufErrors: field("RcvbufErrors"),
    };
    return Number.isFinite(snmp.inErrors) ? snmp : undefined;
}

/**
 * Datagrams the kernel dropped on the IPv4 UDP socket bound to `port` (the `drops` column of
 * /proc/net/udp: receive buffer full, or a socket filter), summed over sockets on that port.
 */
export function readUdpSocketDrops(port: number): number | undefined {
    const text = readProc("/proc/net/udp");
    if (text === undefined) {
        return undefined;
    }
    const suffix = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
    let drops: number | undefined;
    for (const line of text.split("\n").slice(1)) {
        const columns = line.trim().split(/\s+/);
        if (columns[1]?.endsWith(suffix) === true) {
            drops = (drops ?? 0) + Number(columns.at(-1) ?? 0);
        }
    }
    return drops;
}

export interface HostCpu {
    /** Jiffies spent not idle (all cores). */
    readonly busy: number;
    readonly total: number;
}

export function readHostCpu(): HostCpu | undefined {
    const line = readProc("/proc/stat")?.split("\n")[0];
    if (line?.startsWith("cpu ") !== true) {
        return undefined;
    }
    const values = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = values.reduce((sum, value) => sum + value, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0); // idle + iowait
    return {busy: total - idle, total};
}

function readProc(path: string): string | undefined {
    try {
        return readFileSync(path, "utf8");
    } catch (error) {
        if (error instanceof Error) {
            return undefined;
        }
        throw error;
    }
}
