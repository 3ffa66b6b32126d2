/**
 * UDP cmd 1 fragments → whole JPEG frames (protocol-notes.md §9.2).
 *
 * A frame is HEAD (msgFlag 250), zero or more BODY (251) and END (252) with consecutive pkgIds,
 * or one packet with msgFlag 255. The END fragment carries a 5-byte trailer:
 *
 * | offset from the end | size | type   | field                          |
 * |--------------------:|-----:|--------|--------------------------------|
 * |                  −5 |    1 | u8     | unknown (reported as trailerByte) |
 * |                  −4 |    4 | u32 LE | jpegLength = Σ payloads − 5    |
 *
 * Fragments may arrive reordered and duplicated. Present fragments are kept in "runs": maximal
 * ranges of consecutive pkgIds in which each neighbour pair may belong to one frame (HEAD|BODY
 * followed by BODY|END). A run that starts with HEAD and ends with END is a whole frame, so a
 * completed frame can never mix two HEADs or miss a fragment. Merging runs is O(1) per fragment;
 * each frame is walked once to concatenate it. pkgIds are compared modulo 2^32.
 *
 * Pure: no timers, no I/O; the clock is injected and `expire()` is called by the owner.
 */
import {MsgFlag} from "./commands.js";

export interface AssembledFrame {
    /** The JPEG (SOI … EOI), trailer removed. Owned by the caller. */
    readonly jpeg: Buffer;
    readonly firstPackageId: number;
    readonly lastPackageId: number;
    /** Every pkgId of the frame, in order (for 605 confirms). */
    readonly packageIds: readonly number[];
    /** The unknown fifth-from-last byte (protocol-notes.md §13.1), or −1 when the frame had no valid trailer. */
    readonly trailerByte: number;
}

export type DropReason =
    | "incomplete"
    | "superseded"
    | "expired"
    | "trailer-mismatch"
    | "not-jpeg"
    | "too-large"
    | "duplicate"
    | "stray";

/**
 * What one `push` did. `dropped` reports fragments discarded by this call: for "duplicate" and
 * "stray" the pushed fragment itself; otherwise (partial) frames that this push displaced or that
 * failed validation. The pushed fragment may then still be buffered.
 */
export type AssemblerResult =
    | {readonly kind: "frame"; readonly frame: AssembledFrame}
    | {readonly kind: "pending"}
    | {readonly kind: "dropped"; readonly reason: DropReason; readonly packageIds: readonly number[]};

export interface MjpegAssemblerOptions {
    /** Largest frame (Σ payload bytes) accepted; also the cap on all buffered bytes. */
    readonly maxFrameBytes: number;
    /** Most fragments buffered at once. */
    readonly maxFragments: number;
    /** Incomplete frames older than this are dropped by `expire()`. */
    readonly expireMs: number;
    /**
     * Copy each payload before buffering it (default). Pass false when the caller hands over buffers
     * nobody else writes or pools, such as dgram's per-datagram buffers: one copy per fragment less.
     */
    readonly copyPayloads: boolean;
}

export interface AssemblerStats {
    fragmentsReceived: number;
    fragmentsDuplicate: number;
    /** Fragments older than the current frame, or with an unknown msgFlag. */
    fragmentsStray: number;
    /** Fragments discarded as part of a dropped frame. */
    fragmentsDropped: number;
    framesCompleted: number;
    framesDropped: number;
    framesSuperseded: number;
    framesExpired: number;
    /** Evicted because the buffer was full. */
    framesIncomplete: number;
    framesTooLarge: number;
    framesNotJpeg: number;
    /** Complete frames whose trailer length did not match and that had no usable EOI. */
    trailerMismatch: number;
    /** Complete frames kept by the fallback rule: no valid trailer, but SOI and an EOI in the last 5 bytes. */
    framesWithoutTrailer: number;
    /** The pkgId sequence jumped back by more than the resync distance: state was cleared. */
    sequenceResets: number;
}

export const DEFAULT_ASSEMBLER_OPTIONS: MjpegAssemblerOptions = {
    maxFrameBytes: 1024 * 1024,
    maxFragments: 1024,
    expireMs: 1000,
    copyPayloads: true,
};

/** `[1 byte unknown][u32 LE jpegLength]` (protocol-notes.md §9.2). */
export const JPEG_TRAILER_LENGTH = 5;

const HALF_RANGE = 0x8000_0000;
/** A fragment this far behind the current frame means the camera restarted its pkgId counter. */
const RESYNC_DISTANCE = 0x1_0000;

interface Fragment {
    readonly flag: number;
    readonly data: Buffer;
}

interface Run {
    start: number;
    end: number;
    count: number;
    bytes: number;
    firstSeenMs: number;
}

const next = (id: number): number => (id + 1) >>> 0;
const previous = (id: number): number => (id - 1) >>> 0;
/** `a` comes before `b` in the u32 sequence (serial number arithmetic, RFC 1982 style). */
const isBefore = (a: number, b: number): boolean => a !== b && (b - a) >>> 0 < HALF_RANGE;
/** Fragment at `a` can be followed by fragment at `a + 1` inside one frame. */
const canLink = (a: number, b: number): boolean =>
    (a === MsgFlag.head || a === MsgFlag.body) && (b === MsgFlag.body || b === MsgFlag.end);

const PENDING: AssemblerResult = {kind: "pending"};

export class MjpegAssembler {
    readonly #options: MjpegAssemblerOptions;
    readonly #now: () => number;
    readonly #fragments = new Map<number, Fragment>();
    readonly #runByStart = new Map<number, Run>();
    readonly #runByEnd = new Map<number, Run>();
    #bufferedBytes = 0;
    /** pkgIds before this belong to finished or superseded frames. */
    #floor: number | undefined;
    #lastFrame: {first: number; last: number} | undefined;
    readonly #stats: AssemblerStats = {
        fragmentsReceived: 0,
        fragmentsDuplicate: 0,
        fragmentsStray: 0,
        fragmentsDropped: 0,
        framesCompleted: 0,
        framesDropped: 0,
        framesSuperseded: 0,
        framesExpired: 0,
        framesIncomplete: 0,
        framesTooLarge: 0,
        framesNotJpeg: 0,
        trailerMismatch: 0,
        framesWithoutTrailer: 0,
        sequenceResets: 0,
    };

    constructor(options: Partial<MjpegAssemblerOptions> = {}, now: () => number = Date.now) {
        this.#options = {...DEFAULT_ASSEMBLER_OPTIONS, ...options};
        this.#now = now;
    }

    get stats(): Readonly<AssemblerStats> {
        return this.#stats;
    }

    /** Payload bytes held for incomplete frames. */
    get bufferedBytes(): number {
        return this.#bufferedBytes;
    }

    /** Fragments held for incomplete frames. */
    get bufferedFragments(): number {
        return this.#fragments.size;
    }

    /**
     * Adds one cmd 1 fragment. `payload` is copied if kept. Never throws on device input: bad
     * fragments and frames come back as `dropped` and are counted in `stats`.
     */
    push(packageId: number, msgFlag: number, payload: Buffer): AssemblerResult {
        const id = packageId >>> 0;
        this.#stats.fragmentsReceived += 1;
        if (
            msgFlag !== MsgFlag.head &&
            msgFlag !== MsgFlag.body &&
            msgFlag !== MsgFlag.end &&
            msgFlag !== MsgFlag.whole
        ) {
            return this.#stray(id); // unflagged media is not used by any known firmware (§9.2)
        }
        const drops: number[] = [];
        let reason: DropReason | undefined;

        if (this.#floor !== undefined && isBefore(id, this.#floor)) {
            const last = this.#lastFrame;
            if (last !== undefined && !isBefore(id, last.first) && !isBefore(last.last, id)) {
                this.#stats.fragmentsDuplicate += 1; // a retransmit of the frame just completed
                return {kind: "dropped", reason: "duplicate", packageIds: [id]};
            }
            if ((this.#floor - id) >>> 0 <= RESYNC_DISTANCE) {
                return this.#stray(id);
            }
            this.#stats.sequenceResets += 1; // the camera restarted its counter
            reason = "superseded";
            this.#dropRuns([...this.#runByStart.values()], reason, drops);
            this.#floor = undefined;
            this.#lastFrame = undefined;
        }

        const existing = this.#fragments.get(id);
        if (existing !== undefined) {
            if (existing.flag === msgFlag && existing.data.equals(payload)) {
                this.#stats.fragmentsDuplicate += 1;
                return {kind: "dropped", reason: "duplicate", packageIds: [id]};
            }
            // Same pkgId, other content: the old fragment is from an earlier sequence.
            reason = "superseded";
            this.#dropRuns([this.#runContaining(id)], reason, drops);
        }

        if (msgFlag === MsgFlag.head || msgFlag === MsgFlag.whole) {
            // A new frame starts: every unfinished frame before it is dead (§9.2 rule 5).
            const older: Run[] = [];
            for (const run of this.#runByStart.values()) {
                if (isBefore(run.start, id)) {
                    older.push(run);
                }
            }
            if (older.length > 0) {
                reason = "superseded";
                this.#dropRuns(older, reason, drops);
            }
            this.#floor = id;
        }

        if (msgFlag === MsgFlag.whole) {
            const result = this.#finish([payload], payload.length, id, id);
            return this.#report(result, reason, drops);
        }

        const run = this.#insert(id, msgFlag, payload);
        if (run.bytes > this.#options.maxFrameBytes) {
            this.#dropRuns([run], "too-large", drops);
            return this.#report(undefined, "too-large", drops);
        }
        const head = this.#fragments.get(run.start);
        const end = this.#fragments.get(run.end);
        if (head?.flag === MsgFlag.head && end?.flag === MsgFlag.end) {
            const parts = this.#takeRun(run);
            return this.#report(this.#finish(parts, run.bytes, run.start, run.end), reason, drops);
        }
        if (this.#fragments.size > this.#options.maxFragments || this.#bufferedBytes > this.#options.maxFrameBytes) {
            reason = "incomplete";
            this.#evictOldest(drops);
        }
        return this.#report(undefined, reason, drops);
    }

    /** Drops incomplete frames whose first fragment arrived `expireMs` or more ago. */
    expire(): AssemblerResult[] {
        const limit = this.#now() - this.#options.expireMs;
        const old: Run[] = [];
        for (const run of this.#runByStart.values()) {
            if (run.firstSeenMs <= limit) {
                old.push(run);
            }
        }
        if (old.length === 0) {
            return [];
        }
        const drops: number[] = [];
        this.#dropRuns(old, "expired", drops);
        return [{kind: "dropped", reason: "expired", packageIds: drops}];
    }

    /** Forgets every buffered fragment and the sequence position (new stream). Stats are kept. */
    reset(): void {
        this.#fragments.clear();
        this.#runByStart.clear();
        this.#runByEnd.clear();
        this.#bufferedBytes = 0;
        this.#floor = undefined;
        this.#lastFrame = undefined;
    }

    #stray(id: number): AssemblerResult {
        this.#stats.fragmentsStray += 1;
        return {kind: "dropped", reason: "stray", packageIds: [id]};
    }

    /** One result for one push: a frame wins, then a validation drop, then buffer drops. */
    #report(result: AssemblerResult | undefined, reason: DropReason | undefined, drops: number[]): AssemblerResult {
        if (result?.kind === "frame") {
            return result;
        }
        if (result?.kind === "dropped") {
            return drops.length === 0 ? result : {...result, packageIds: [...drops, ...result.packageIds]};
        }
        if (reason === undefined || drops.length === 0) {
            return PENDING;
        }
        return {kind: "dropped", reason, packageIds: drops};
    }

    /** Stores a copy of the fragment and merges it with its neighbours' runs. */
    #insert(id: number, flag: number, payload: Buffer): Run {
        this.#fragments.set(id, {flag, data: this.#options.copyPayloads ? Buffer.from(payload) : payload});
        this.#bufferedBytes += payload.length;
        const left = this.#fragments.get(previous(id));
        const right = this.#fragments.get(next(id));
        const leftRun = left !== undefined && canLink(left.flag, flag) ? this.#runByEnd.get(previous(id)) : undefined;
        const rightRun = right !== undefined && canLink(flag, right.flag) ? this.#runByStart.get(next(id)) : undefined;
        if (leftRun !== undefined && rightRun !== undefined) {
            this.#runByEnd.delete(leftRun.end);
            this.#runByStart.delete(rightRun.start);
            leftRun.end = rightRun.end;
            leftRun.count += 1 + rightRun.count;
            leftRun.bytes += payload.length + rightRun.bytes;
            leftRun.firstSeenMs = Math.min(leftRun.firstSeenMs, rightRun.firstSeenMs);
            this.#runByEnd.set(leftRun.end, leftRun);
            return leftRun;
        }
        if (leftRun !== undefined) {
            this.#runByEnd.delete(leftRun.end);
            leftRun.end = id;
            leftRun.count += 1;
            leftRun.bytes += payload.length;
            this.#runByEnd.set(id, leftRun);
            return leftRun;
        }
        if (rightRun !== undefined) {
            this.#runByStart.delete(rightRun.start);
            rightRun.start = id;
            rightRun.count += 1;
            rightRun.bytes += payload.length;
            this.#runByStart.set(id, rightRun);
            return rightRun;
        }
        const run: Run = {start: id, end: id, count: 1, bytes: payload.length, firstSeenMs: this.#now()};
        this.#runByStart.set(id, run);
        this.#runByEnd.set(id, run);
        return run;
    }

    /** The run holding buffered fragment `id` (walks left to its start: runs are at most maxFragments long). */
    #runContaining(id: number): Run {
        let start = id;
        for (;;) {
            const run = this.#runByStart.get(start);
            if (run !== undefined) {
                return run; // the first run start at or left of a buffered id is its own run's
            }
            start = previous(start);
        }
    }

    /** Removes a run from the buffer and returns its payloads in order. */
    #takeRun(run: Run): Buffer[] {
        const parts: Buffer[] = new Array<Buffer>(run.count);
        let id = run.start;
        for (let index = 0; index < run.count; index += 1) {
            const fragment = this.#fragments.get(id) as Fragment; // invariant: every id of a run is buffered
            parts[index] = fragment.data;
            this.#fragments.delete(id);
            id = next(id);
        }
        this.#runByStart.delete(run.start);
        this.#runByEnd.delete(run.end);
        this.#bufferedBytes -= run.bytes;
        return parts;
    }

    /** Concatenates, checks the trailer and SOI/EOI (§9.2 step 3) and records the frame. */
    #finish(parts: readonly Buffer[], total: number, first: number, last: number): AssemblerResult {
        const packageIds = idRange(first, last);
        this.#lastFrame = {first, last};
        this.#floor = next(last); // a later HEAD would have superseded this frame, so this only moves forward
        if (total > this.#options.maxFrameBytes) {
            return this.#rejectFrame("too-large", packageIds);
        }
        const all = Buffer.allocUnsafe(total); // the one copy per frame
        let offset = 0;
        for (const part of parts) {
            part.copy(all, offset);
            offset += part.length;
        }
        const isSoi = total >= 2 && all[0] === 0xff && all[1] === 0xd8;
        if (total >= JPEG_TRAILER_LENGTH + 4 && isSoi) {
            const jpegLength = total - JPEG_TRAILER_LENGTH;
            if (all.readUInt32LE(total - 4) === jpegLength) {
                if (all[jpegLength - 2] !== 0xff || all[jpegLength - 1] !== 0xd9) {
                    return this.#rejectFrame("not-jpeg", packageIds);
                }
                const trailerByte = all.readUInt8(jpegLength);
                const jpeg = all.subarray(0, jpegLength);
                return this.#emit({jpeg, firstPackageId: first, lastPackageId: last, packageIds, trailerByte});
            }
        }
        // Fallback (§9.2 step 3): no valid trailer, keep it if an EOI ends in the last 5 bytes.
        if (!isSoi) {
            return this.#rejectFrame("not-jpeg", packageIds);
        }
        for (let index = total - 2; index >= Math.max(2, total - 6); index -= 1) {
            if (all[index] === 0xff && all[index + 1] === 0xd9) {
                this.#stats.framesWithoutTrailer += 1;
                const jpeg = all.subarray(0, index + 2);
                return this.#emit({jpeg, firstPackageId: first, lastPackageId: last, packageIds, trailerByte: -1});
            }
        }
        return this.#rejectFrame("trailer-mismatch", packageIds);
    }

    #emit(frame: AssembledFrame): AssemblerResult {
        this.#stats.framesCompleted += 1;
        return {kind: "frame", frame};
    }

    #rejectFrame(reason: "too-large" | "not-jpeg" | "trailer-mismatch", packageIds: number[]): AssemblerResult {
        this.#stats.framesDropped += 1;
        this.#stats.fragmentsDropped += packageIds.length;
        if (reason === "too-large") {
            this.#stats.framesTooLarge += 1;
        } else if (reason === "not-jpeg") {
            this.#stats.framesNotJpeg += 1;
        } else {
            this.#stats.trailerMismatch += 1;
        }
        return {kind: "dropped", reason, packageIds};
    }

    /** Drops runs in the buffer until both caps hold again, oldest first. */
    #evictOldest(drops: number[]): void {
        const byAge = [...this.#runByStart.values()].sort((a, b) => a.firstSeenMs - b.firstSeenMs);
        for (const run of byAge) {
            if (
                this.#fragments.size <= this.#options.maxFragments &&
                this.#bufferedBytes <= this.#options.maxFrameBytes
            ) {
                return;
            }
            this.#dropRuns([run], "incomplete", drops);
        }
    }

    /**
     * Removes `runs`, appending their pkgIds to `drops`, and counts the frames they belonged to:
     * runs are grouped in pkgId order, a new frame starting at a HEAD or after an END.
     */
    #dropRuns(runs: Run[], reason: DropReason, drops: number[]): void {
        const [first] = runs;
        if (first !== undefined && runs.length > 1) {
            const base = runs.reduce((min, run) => (isBefore(run.start, min) ? run.start : min), first.start);
            runs.sort((a, b) => ((a.start - base) >>> 0) - ((b.start - base) >>> 0));
        }
        let frames = 0;
        let previousEndsFrame = true;
        for (const run of runs) {
            const startsFrame = this.#fragments.get(run.start)?.flag === MsgFlag.head;
            const endsFrame = this.#fragments.get(run.end)?.flag === MsgFlag.end;
            if (startsFrame || previousEndsFrame) {
                frames += 1;
            }
            previousEndsFrame = endsFrame;
            this.#takeRun(run);
            let id = run.start;
            for (let index = 0; index < run.count; index += 1) {
                drops.push(id);
                id = next(id);
            }
            this.#stats.fragmentsDropped += run.count;
        }
        this.#stats.framesDropped += frames;
        if (reason === "superseded") {
            this.#stats.framesSuperseded += frames;
        } else if (reason === "expired") {
            this.#stats.framesExpired += frames;
        } else if (reason === "too-large") {
            this.#stats.framesTooLarge += frames;
        } else {
            this.#stats.framesIncomplete += frames;
        }
    }
}

function idRange(first: number, last: number): number[] {
    const count = ((last - first) >>> 0) + 1;
    const ids = new Array<number>(count);
    let id = first;
    for (let index = 0; index < count; index += 1) {
        ids[index] = id;
        id = next(id);
    }
    return ids;
}
