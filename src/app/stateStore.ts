/**
 * Runtime state that is not configuration (decisions.md 3): the cameras that have contacted us, the password
 * (`pwd`) each camera id is given, and the ids handed out by `registerDevices`. Kept in `<data_dir>/state.json`,
 * written atomically (temp file + fsync + rename), debounced. A corrupt file is moved aside with a warning and
 * the bridge starts empty: losing this state only means cameras get new passwords at their next bootstrap.
 */
import {randomBytes as cryptoRandomBytes} from "node:crypto";
import {mkdir, open, readFile, rename, rm} from "node:fs/promises";
import {join, resolve} from "node:path";
import {z} from "zod";
import type {Logger} from "../util/log.js";

export const STATE_FILE_NAME = "state.json";
/** Ids handed out by registerDevices: the classic family prefix + 6 random upper-case hex digits (decisions.md 4). */
export const ISSUED_ID_PREFIX = "0800c0";
const STATE_VERSION = 1;

export interface KnownCamera {
    readonly id: string;
    /** 8 hex digits, generated once per id; the camera sends it back as `token` in its login (code 100). */
    readonly pwd: string;
    readonly firmware: string | null;
    /** ISO 8601 times. */
    readonly firstSeenAt: string;
    readonly lastSeenAt: string;
    /** The last remote address the camera reached us from, as the caller reports it (e.g. `10.0.0.5:51234`). */
    readonly lastAddress: string | null;
}

export interface ContactDetails {
    readonly firmware?: string | undefined;
    readonly address?: string | undefined;
}

export interface StateStoreOptions {
    readonly dataDir: string;
    /** Delay before writing an important change (new camera, new id, firmware/address change). */
    readonly saveDebounceMs?: number;
    /** Delay before writing a change of `lastSeenAt` only. */
    readonly lastSeenSaveDelayMs?: number;
    /** Bound on ids that were handed out (or given a password) but never logged in; the oldest go first. */
    readonly maxPendingIds?: number;
    readonly now?: () => number;
    readonly randomBytes?: (size: number) => Uint8Array;
}

/** An id that has a password but has not logged in yet (handed out by registerDevices, or asked about). */
interface PendingId {
    readonly id: string;
    readonly pwd: string;
    readonly createdAt: string;
    /** True when this bridge generated the id (registerDevices). */
    readonly issued: boolean;
}

const isoTime = z.string().min(1);
const stateFileSchema = z.object({
    version: z.literal(STATE_VERSION),
    cameras: z.array(
        z.object({
            id: z.string().min(1),
            pwd: z.string().min(1),
            firmware: z.string().nullable(),
            firstSeenAt: isoTime,
            lastSeenAt: isoTime,
            lastAddress: z.string().nullable(),
        }),
    ),
    pendingIds: z.array(
        z.object({id: z.string().min(1), pwd: z.string().min(1), createdAt: isoTime, issued: z.boolean()}),
    ),
});

export class StateStore {
    readonly #file: string;
    readonly #dataDir: string;
    readonly #log: Logger;
    readonly #saveDebounceMs: number;
    readonly #lastSeenSaveDelayMs: number;
    readonly #maxPendingIds: number;
    readonly #now: () => number;
    readonly #randomBytes: (size: number) => Uint8Array;
    readonly #cameras = new Map<string, KnownCamera>();
    /** Insertion-ordered: the first entry is the oldest. */
    readonly #pending = new Map<string, PendingId>();
    #timer: NodeJS.Timeout | undefined;
    #timerDueAt = Number.POSITIVE_INFINITY;
    #isDirty = false;
    #saving: Promise<void> = Promise.resolve();
    #tempCounter = 0;

    constructor(options: StateStoreOptions, log: Logger) {
        this.#dataDir = resolve(options.dataDir);
        this.#file = join(this.#dataDir, STATE_FILE_NAME);
        this.#log = log;
        this.#saveDebounceMs = options.saveDebounceMs ?? 1_000;
        this.#lastSeenSaveDelayMs = options.lastSeenSaveDelayMs ?? 60_000;
        this.#maxPendingIds = options.maxPendingIds ?? 1_000;
        this.#now = options.now ?? Date.now;
        this.#randomBytes = options.randomBytes ?? cryptoRandomBytes;
    }

    /** The state file's path. */
    get file(): string {
        return this.#file;
    }

    /** Reads the state file. A missing file is an empty state; a corrupt one is renamed aside with a warning. */
    async load(): Promise<void> {
        let text: string;
        try {
            text = await readFile(this.#file, "utf8");
        } catch (error) {
            if (error instanceof Error && "code" in error && error.code === "ENOENT") {
                this.#log.info(`no state file yet at ${this.#file}; starting empty`);
                return;
            }
            throw new Error(`cannot read state file ${this.#file}`, {cause: error});
        }
        const parsed = parseStateFile(text);
        if (parsed === undefined) {
            const aside = `${this.#file}.corrupt-${new Date(this.#now()).toISOString().replaceAll(":", "-")}`;
            await rename(this.#file, aside);
            this.#log.warn(`state file ${this.#file} is corrupt; moved it to ${aside} and starting empty`);
            return;
        }
        this.#cameras.clear();
        this.#pending.clear();
        for (const camera of parsed.cameras) {
            this.#cameras.set(camera.id, Object.freeze({...camera}));
        }
        for (const pending of parsed.pendingIds) {
            if (!this.#cameras.has(pending.id)) {
                this.#pending.set(pending.id, Object.freeze({...pending}));
            }
        }
        this.#log.info(`loaded state: ${this.#cameras.size} known camera(s) from ${this.#file}`);
    }

    /** A new device id for registerDevices, unique among known and handed-out ids; remembered at once. */
    issueDeviceId(): string {
        for (;;) {
            const id = ISSUED_ID_PREFIX + Buffer.from(this.#randomBytes(3)).toString("hex").toUpperCase();
            if (!this.#isTaken(id)) {
                this.#addPending({id, pwd: this.#newPassword(), createdAt: this.#isoNow(), issued: true});
                this.#markDirty(true);
                return id;
            }
        }
    }

    /** The camera's password (8 hex digits), generated on first request and stable afterwards. */
    passwordFor(id: string): string {
        const known = this.#cameras.get(id) ?? this.#pending.get(id);
        if (known !== undefined) {
            return known.pwd;
        }
        const pwd = this.#newPassword();
        this.#addPending({id, pwd, createdAt: this.#isoNow(), issued: false});
        this.#markDirty(true);
        return pwd;
    }

    /** Records that the camera talked to us (login, heartbeat, bootstrap); returns its updated record. */
    recordContact(id: string, details: ContactDetails = {}): KnownCamera {
        const now = this.#isoNow();
        const previous = this.#cameras.get(id);
        if (previous === undefined) {
            const pending = this.#pending.get(id);
            this.#pending.delete(id);
            const camera: KnownCamera = Object.freeze({
                id,
                pwd: pending?.pwd ?? this.#newPassword(),
                firmware: details.firmware ?? null,
                firstSeenAt: now,
                lastSeenAt: now,
                lastAddress: details.address ?? null,
            });
            this.#cameras.set(id, camera);
            this.#markDirty(true);
            return camera;
        }
        const camera: KnownCamera = Object.freeze({
            ...previous,
            firmware: details.firmware ?? previous.firmware,
            lastAddress: details.address ?? previous.lastAddress,
            lastSeenAt: now,
        });
        this.#cameras.set(id, camera);
        const isImportant = camera.firmware !== previous.firmware || camera.lastAddress !== previous.lastAddress;
        this.#markDirty(isImportant);
        return camera;
    }

    get(id: string): KnownCamera | undefined {
        return this.#cameras.get(id);
    }

    /** Known cameras, sorted by id. */
    list(): readonly KnownCamera[] {
        return [...this.#cameras.values()].sort((a, b) => (a.id < b.id ? -1 : Number(a.id > b.id)));
    }

    /** Forgets a camera (and any pending password for its id). Returns false when the id was unknown. */
    forget(id: string): boolean {
        const existed = this.#cameras.delete(id) || this.#pending.has(id);
        this.#pending.delete(id);
        if (existed) {
            this.#markDirty(true);
        }
        return existed;
    }

    /** Writes pending changes now (and waits for any write in progress). */
    async flush(): Promise<void> {
        this.#clearTimer();
        const previous = this.#saving;
        const next = previous.then(() => this.#writeIfDirty());
        this.#saving = next.catch(() => undefined);
        await next;
    }

    /** Flushes and stops the save timer. */
    async stop(): Promise<void> {
        await this.flush();
    }

    #isTaken(id: string): boolean {
        const lower = id.toLowerCase();
        for (const existing of [...this.#cameras.keys(), ...this.#pending.keys()]) {
            if (existing.toLowerCase() === lower) {
                return true;
            }
        }
        return false;
    }

    #addPending(entry: PendingId): void {
        this.#pending.set(entry.id, Object.freeze(entry));
        for (const oldest of this.#pending.keys()) {
            if (this.#pending.size <= this.#maxPendingIds) {
                break;
            }
            this.#pending.delete(oldest);
        }
    }

    #newPassword(): string {
        return Buffer.from(this.#randomBytes(4)).toString("hex");
    }

    #isoNow(): string {
        return new Date(this.#now()).toISOString();
    }

    #markDirty(isImportant: boolean): void {
        this.#isDirty = true;
        const delayMs = isImportant ? this.#saveDebounceMs : this.#lastSeenSaveDelayMs;
        const dueAt = this.#now() + delayMs;
        if (this.#timer !== undefined && this.#timerDueAt <= dueAt) {
            return;
        }
        this.#clearTimer();
        this.#timerDueAt = dueAt;
        this.#timer = setTimeout(() => {
            this.#timer = undefined;
            this.#timerDueAt = Number.POSITIVE_INFINITY;
            this.flush().catch((error: unknown) => {
                this.#log.error(`cannot write state file ${this.#file}; will retry`, {error});
                this.#markDirty(false);
            });
        }, delayMs);
        this.#timer.unref();
    }

    #clearTimer(): void {
        if (this.#timer !== undefined) {
            clearTimeout(this.#timer);
            this.#timer = undefined;
            this.#timerDueAt = Number.POSITIVE_INFINITY;
        }
    }

    async #writeIfDirty(): Promise<void> {
        if (!this.#isDirty) {
            return;
        }
        this.#isDirty = false;
        const state: z.input<typeof stateFileSchema> = {
            version: STATE_VERSION,
            cameras: this.list().map((camera) => ({...camera})),
            pendingIds: [...this.#pending.values()].map((pending) => ({...pending})),
        };
        try {
            await this.#writeAtomically(`${JSON.stringify(state, null, 2)}\n`);
        } catch (error) {
            this.#isDirty = true;
            throw error;
        }
    }

    async #writeAtomically(text: string): Promise<void> {
        await mkdir(this.#dataDir, {recursive: true});
        this.#tempCounter += 1;
        const temp = `${this.#file}.tmp-${process.pid}-${this.#tempCounter}`;
        try {
            const handle = await open(temp, "w", 0o600);
            try {
                await handle.writeFile(text, "utf8");
                await handle.sync();
            } finally {
                await handle.close();
            }
            await rename(temp, this.#file);
        } catch (error) {
            await rm(temp, {force: true}).catch(() => undefined);
            throw error;
        }
        await syncDirectory(this.#dataDir);
    }
}

function parseStateFile(text: string): z.output<typeof stateFileSchema> | undefined {
    let json: unknown;
    try {
        json = JSON.parse(text);
    } catch {
        return undefined;
    }
    const result = stateFileSchema.safeParse(json);
    return result.success ? result.data : undefined;
}

/** Makes the rename durable; some file systems refuse to open a directory, which is harmless. */
async function syncDirectory(directory: string): Promise<void> {
    try {
        const handle = await open(directory, "r");
        try {
            await handle.sync();
        } finally {
            await handle.close();
        }
    } catch {
        // best effort
    }
}
