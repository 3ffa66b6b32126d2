import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from "node:fs";
import {tmpdir} from "node:os";
import {join} from "node:path";
import {afterEach, beforeEach, describe, expect, it, vi} from "vitest";
import {STATE_FILE_NAME, StateStore, type StateStoreOptions} from "../../../src/app/stateStore.js";
import {type Logger, silentLogger} from "../../../src/util/log.js";

const START_MS = Date.parse("2025-01-02T03:04:05.000Z");

let dir: string;
let nowMs: number;

beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "v720-state-"));
    nowMs = START_MS;
});

afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, {recursive: true, force: true});
});

function createStore(options: Partial<StateStoreOptions> = {}, log: Logger = silentLogger): StateStore {
    return new StateStore({dataDir: dir, now: () => nowMs, ...options}, log);
}

function readState(): {cameras: {id: string; lastSeenAt: string}[]; pendingIds: {id: string}[]} {
    return JSON.parse(readFileSync(join(dir, STATE_FILE_NAME), "utf8"));
}

/** randomBytes that replays the given hex strings, then falls back to counting bytes. */
function scriptedRandom(...values: string[]): (size: number) => Uint8Array {
    let counter = 0;
    return (size) => {
        const next = values.shift();
        if (next !== undefined) {
            return Buffer.from(next, "hex");
        }
        counter += 1;
        return Buffer.alloc(size, counter);
    };
}

function recordingLogger(lines: string[]): Logger {
    const log: Logger = {
        error: (message) => lines.push(`error ${String(message)}`),
        warn: (message) => lines.push(`warn ${String(message)}`),
        info: () => undefined,
        debug: () => undefined,
        isLevelEnabled: () => true,
        child: () => log,
    };
    return log;
}

describe("StateStore", () => {
    it("issues ids of the classic family: 0800c0 + 6 upper-case hex digits", async () => {
        const store = createStore();
        await store.load();
        const ids = new Set(Array.from({length: 50}, () => store.issueDeviceId()));
        expect(ids.size).toBe(50);
        for (const id of ids) {
            expect(id).toMatch(/^0800c0[0-9A-F]{6}$/);
        }
    });

    it("never issues an id that is already known or handed out", async () => {
        const store = createStore({randomBytes: scriptedRandom("0128f8", "0128f8", "0128F8", "abcdef")});
        await store.load();
        store.recordContact("0800c00128F8");
        expect(store.issueDeviceId()).toBe("0800c0ABCDEF");
        const second = createStore({randomBytes: scriptedRandom("111111", "111111", "222222")});
        await second.load();
        expect(second.issueDeviceId()).toBe("0800c0111111");
        expect(second.issueDeviceId()).toBe("0800c0222222");
    });

    it("gives each id one password of 8 hex digits, stable across contacts and restarts", async () => {
        const store = createStore();
        await store.load();
        const id = store.issueDeviceId();
        const pwd = store.passwordFor(id);
        expect(pwd).toMatch(/^[0-9a-f]{8}$/);
        expect(store.passwordFor(id)).toBe(pwd);
        expect(store.recordContact(id).pwd).toBe(pwd);
        expect(store.passwordFor("56000b00054B")).not.toBe(pwd);
        await store.flush();

        const reloaded = createStore();
        await reloaded.load();
        expect(reloaded.passwordFor(id)).toBe(pwd);
        expect(reloaded.get(id)?.pwd).toBe(pwd);
    });

    it("records contacts: first and last seen, firmware and address", async () => {
        const store = createStore();
        await store.load();
        const first = store.recordContact("0800c00128F8", {firmware: "202212011602", address: "10.42.0.22"});
        expect(first).toMatchObject({
            id: "0800c00128F8",
            firmware: "202212011602",
            lastAddress: "10.42.0.22",
            firstSeenAt: "2025-01-02T03:04:05.000Z",
            lastSeenAt: "2025-01-02T03:04:05.000Z",
        });
        nowMs += 60_000;
        const second = store.recordContact("0800c00128F8", {address: "10.42.0.23"});
        expect(second).toMatchObject({
            firmware: "202212011602",
            lastAddress: "10.42.0.23",
            firstSeenAt: "2025-01-02T03:04:05.000Z",
            lastSeenAt: "2025-01-02T03:05:05.000Z",
        });
        expect(Object.isFrozen(second)).toBe(true);
        expect(store.list().map((camera) => camera.id)).toEqual(["0800c00128F8"]);
    });

    it("lists cameras sorted by id and forgets them", async () => {
        const store = createStore();
        await store.load();
        store.recordContact("0800c0B");
        store.recordContact("0800c0A");
        expect(store.list().map((camera) => camera.id)).toEqual(["0800c0A", "0800c0B"]);
        expect(store.forget("0800c0A")).toBe(true);
        expect(store.forget("0800c0A")).toBe(false);
        await store.flush();
        const reloaded = createStore();
        await reloaded.load();
        expect(reloaded.list().map((camera) => camera.id)).toEqual(["0800c0B"]);
    });

    it("writes state.json atomically and leaves no temporary file behind", async () => {
        const store = createStore();
        await store.load();
        store.recordContact("0800c00128F8", {firmware: "202212011602"});
        const issued = store.issueDeviceId();
        await store.flush();
        expect(readdirSync(dir)).toEqual([STATE_FILE_NAME]);
        const state = readState();
        expect(state.cameras.map((camera) => camera.id)).toEqual(["0800c00128F8"]);
        expect(state.pendingIds.map((pending) => pending.id)).toEqual([issued]);
    });

    it("creates the data directory when it does not exist", async () => {
        const nested = join(dir, "a", "b");
        const store = new StateStore({dataDir: nested, now: () => nowMs}, silentLogger);
        await store.load();
        store.recordContact("0800c00128F8");
        await store.flush();
        expect(existsSync(join(nested, STATE_FILE_NAME))).toBe(true);
    });

    it("debounces writes of important changes", async () => {
        vi.useFakeTimers({toFake: ["setTimeout", "clearTimeout"]});
        const store = createStore({saveDebounceMs: 1_000});
        await store.load();
        store.recordContact("0800c00128F8");
        store.issueDeviceId();
        vi.advanceTimersByTime(999);
        expect(existsSync(join(dir, STATE_FILE_NAME))).toBe(false);
        vi.advanceTimersByTime(1);
        await vi.waitFor(() => expect(existsSync(join(dir, STATE_FILE_NAME))).toBe(true));
        await store.flush();
        expect(readState().cameras).toHaveLength(1);
        expect(readState().pendingIds).toHaveLength(1);
    });

    it("does not write a lastSeenAt-only change before the longer delay", async () => {
        vi.useFakeTimers({toFake: ["setTimeout", "clearTimeout"]});
        const store = createStore({saveDebounceMs: 1_000, lastSeenSaveDelayMs: 60_000});
        await store.load();
        store.recordContact("0800c00128F8");
        await store.flush();
        const before = readFileSync(join(dir, STATE_FILE_NAME), "utf8");

        nowMs += 5_000;
        store.recordContact("0800c00128F8");
        vi.advanceTimersByTime(59_999);
        await Promise.resolve();
        expect(readFileSync(join(dir, STATE_FILE_NAME), "utf8")).toBe(before);
        vi.advanceTimersByTime(1);
        await vi.waitFor(() => expect(readFileSync(join(dir, STATE_FILE_NAME), "utf8")).not.toBe(before));
        expect(readState().cameras[0]?.lastSeenAt).toBe("2025-01-02T03:04:10.000Z");
    });

    it("an important change brings a pending lazy write forward", async () => {
        vi.useFakeTimers({toFake: ["setTimeout", "clearTimeout"]});
        const store = createStore({saveDebounceMs: 1_000, lastSeenSaveDelayMs: 60_000});
        await store.load();
        store.recordContact("0800c00128F8");
        await store.flush();
        store.recordContact("0800c00128F8");
        store.recordContact("0800c00128F8", {firmware: "202401010000"});
        vi.advanceTimersByTime(1_000);
        await vi.waitFor(() => expect(readFileSync(join(dir, STATE_FILE_NAME), "utf8")).toContain("202401010000"));
    });

    it("moves a corrupt file aside with a warning and starts empty", async () => {
        writeFileSync(join(dir, STATE_FILE_NAME), "{not json");
        const lines: string[] = [];
        const store = createStore({}, recordingLogger(lines));
        await store.load();
        expect(store.list()).toEqual([]);
        expect(lines.some((line) => line.startsWith("warn ") && line.includes("corrupt"))).toBe(true);
        const names = readdirSync(dir);
        expect(names).not.toContain(STATE_FILE_NAME);
        expect(names.filter((name) => name.startsWith(`${STATE_FILE_NAME}.corrupt-`))).toHaveLength(1);
        store.recordContact("0800c00128F8");
        await store.flush();
        expect(readState().cameras).toHaveLength(1);
    });

    it("treats valid JSON of the wrong shape as corrupt", async () => {
        writeFileSync(join(dir, STATE_FILE_NAME), JSON.stringify({version: 1, cameras: "nope"}));
        const store = createStore();
        await store.load();
        expect(store.list()).toEqual([]);
        expect(readdirSync(dir).some((name) => name.includes(".corrupt-"))).toBe(true);
    });

    it("bounds the ids that were handed out but never logged in, dropping the oldest", async () => {
        const store = createStore({maxPendingIds: 3});
        await store.load();
        const ids = [store.issueDeviceId(), store.issueDeviceId(), store.issueDeviceId(), store.issueDeviceId()];
        const firstPwd = store.passwordFor(ids[1]!);
        await store.flush();
        expect(readState().pendingIds.map((pending) => pending.id)).toEqual(ids.slice(1));
        expect(store.passwordFor(ids[1]!)).toBe(firstPwd);
    });

    it("rejects flush() when the state cannot be written, and keeps the changes", async () => {
        const blocker = join(dir, "file");
        writeFileSync(blocker, "");
        const store = new StateStore({dataDir: blocker, now: () => nowMs}, silentLogger);
        await store.load().catch(() => undefined);
        store.recordContact("0800c00128F8");
        await expect(store.flush()).rejects.toThrow();
        expect(store.list()).toHaveLength(1);
    });
});
