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
 * Data structures (allocated once, in the constructor; ~46 000 fragments/s pass through here, so an
 * in-order push allocates only what it returns, the payload copy when copyPayloads is set and one
 * small run record per frame): fragments live in a ring of `capacity` slots
 * (the smallest power of two above maxFragments), pkgId `id` in slot `id & (capacity − 1)`; per slot
 * a `Uint32Array` holds the pkgId, a `Uint8Array` the msgFlag (0 = free) and an array the payload.
 * Two more slot-indexed arrays point at the run starting / ending at that slot's fragment, and the
 * live runs (usually 1–3) sit in a small array. Two buffered pkgIds that differ by a multiple of the
 * capacity would share a slot: only pathological input gets there (maxFragments caps what is
 * buffered, and a HEAD supersedes older runs), and then the run holding the slot's occupant is
 * dropped as "incomplete" (counted like an eviction) before the new fragment goes in.
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
/** Largest accepted `maxFragments` (the ring holds the next power of two above it). */
const MAX_FRAGMENTS_LIMIT = 0x10_0000;
/** msgFlag of a free ring slot: flag 0 is never buffered (it is stray). */
const EMPTY = MsgFlag.none;

/** A maximal range of buffered, linkable, consecutive pkgIds `start … end` (mod 2^32). */
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

/** Slots of the fragment ring: the smallest power of two that holds `maxFragments + 1` fragments. */
function ringCapacity(maxFragments: number): number {
    if (!Number.isInteger(maxFragments) || maxFragments < 0 || maxFragments > MAX_FRAGMENTS_LIMIT) {
        throw new RangeError(`maxFragments must be an integer in 0…${MAX_FRAGMENTS_LIMIT}, got ${maxFragments}`);
    }
    let capacity = 1;
    while (capacity <= maxFragments) {
        capacity *= 2; // one more than maxFragments: a push briefly holds one fragment over the cap
    }
    return capacity;
}

export class MjpegAssembler {
    readonly #options: MjpegAssemblerOptions;
    readonly #now: () => number;
    /** pkgId `id` lives in ring slot `id & #mask`. */
    readonly #mask: number;
    /** pkgId held by each slot; meaningful only while the slot's flag is not EMPTY. */
    readonly #slotIds: Uint32Array;
    /** msgFlag of the fragment in each slot, EMPTY when the slot is free. */
    readonly #slotFlags: Uint8Array;
    readonly #slotData: (Buffer | undefined)[];
    /** The run that starts at the slot's fragment, if it starts one. */
    readonly #runStarts: (Run | undefined)[];
    /** The run that ends at the slot's fragment, if it ends one. */
    readonly #runEnds: (Run | undefined)[];
    /** Live runs in the order their start was last set (eviction breaks age ties by this order). */
    readonly #runs: Run[] = [];
    /** Reused list of the runs one call drops. */
    readonly #selected: Run[] = [];
    #fragmentCount = 0;
    #bufferedBytes = 0;
    /** pkgIds before `#floor` belong to finished or superseded frames. */
    #hasFloor = false;
    #floor = 0;
    /** pkgIds of the frame completed last, for duplicate detection. */
    #hasLastFrame = false;
    #lastFirst = 0;
    #lastLast = 0;
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

    /** @throws RangeError when `maxFragments` is not an integer in 0…1 048 576. */
    constructor(options: Partial<MjpegAssemblerOptions> = {}, now: () => number = Date.now) {
        this.#options = {...DEFAULT_ASSEMBLER_OPTIONS, ...options};
        this.#now = now;
        const capacity = ringCapacity(this.#options.maxFragments);
        this.#mask = capacity - 1;
        this.#slotIds = new Uint32Array(capacity);
        this.#slotFlags = new Uint8Array(capacity);
        this.#slotData = new Array<Buffer | undefined>(capacity).fill(undefined);
        this.#runStarts = new Array<Run | undefined>(capacity).fill(undefined);
        this.#runEnds = new Array<Run | undefined>(capacity).fill(undefined);
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
        return this.#fragmentCount;
    }

    /**
     * Slots of the fragment ring, fixed at construction: the smallest power of two above `maxFragments`.
     * Two pkgIds that differ by a multiple of it are never buffered together: the buffered one's run is
     * dropped as "incomplete" when the other arrives.
     */
    get capacity(): number {
        return this.#mask + 1;
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
        let drops: number[] | undefined; // created only when something is dropped
        let reason: DropReason | undefined;

        if (this.#hasFloor && isBefore(id, this.#floor)) {
            if (this.#hasLastFrame && !isBefore(id, this.#lastFirst) && !isBefore(this.#lastLast, id)) {
                this.#stats.fragmentsDuplicate += 1; // a retransmit of the frame just completed
                return {kind: "dropped", reason: "duplicate", packageIds: [id]};
            }
            if ((this.#floor - id) >>> 0 <= RESYNC_DISTANCE) {
                return this.#stray(id);
            }
            this.#stats.sequenceResets += 1; // the camera restarted its counter
            reason = "superseded";
            for (let index = 0; index < this.#runs.length; index += 1) {
                this.#select(this.#runs[index]);
            }
            drops = this.#dropSelected(reason, drops);
            this.#hasFloor = false;
            this.#hasLastFrame = false;
        }

        const slot = id & this.#mask;
        if (this.#holds(slot, id)) {
            const data = this.#slotData[slot];
            if (this.#slotFlags[slot] === msgFlag && data?.equals(payload) === true) {
                this.#stats.fragmentsDuplicate += 1;
                return {kind: "dropped", reason: "duplicate", packageIds: [id]};
            }
            // Same pkgId, other content: the old fragment is from an earlier sequence.
            reason = "superseded";
            this.#select(this.#runContaining(id));
            drops = this.#dropSelected(reason, drops);
        }

        if (msgFlag === MsgFlag.head || msgFlag === MsgFlag.whole) {
            // A new frame starts: every unfinished frame before it is dead (§9.2 rule 5).
            for (let index = 0; index < this.#runs.length; index += 1) {
                const run = this.#runs[index];
                if (run !== undefined && isBefore(run.start, id)) {
                    this.#select(run);
                }
            }
            if (this.#selected.length > 0) {
                reason = "superseded";
                drops = this.#dropSelected(reason, drops);
            }
            this.#hasFloor = true;
            this.#floor = id;
        }

        if (msgFlag === MsgFlag.whole) {
            let all: Buffer | undefined;
            if (payload.length <= this.#options.maxFrameBytes) {
                all = Buffer.allocUnsafe(payload.length); // the one copy per frame
                payload.copy(all);
            }
            return this.#report(this.#finish(all, id, id), reason, drops);
        }

        if (this.#slotFlags[slot] !== EMPTY) {
            // Another buffered pkgId shares the slot: they differ by a multiple of the capacity, which
            // only pathological input reaches (maxFragments < capacity). Its run gives way, like an eviction.
            reason = "incomplete";
            this.#select(this.#runContaining(this.#slotIds[slot] ?? id));
            drops = this.#dropSelected(reason, drops);
        }

        const run = this.#insert(slot, id, msgFlag, payload);
        if (run.bytes > this.#options.maxFrameBytes) {
            this.#select(run);
            drops = this.#dropSelected("too-large", drops);
            return this.#report(undefined, "too-large", drops);
        }
        if (this.#flagOf(run.start) === MsgFlag.head && this.#flagOf(run.end) === MsgFlag.end) {
            const all = Buffer.allocUnsafe(run.bytes); // the one copy per frame
            this.#takeRun(run, all);
            return this.#report(this.#finish(all, run.start, run.end), reason, drops);
        }
        if (this.#fragmentCount > this.#options.maxFragments || this.#bufferedBytes > this.#options.maxFrameBytes) {
            reason = "incomplete";
            drops = this.#evictOldest(drops);
        }
        return this.#report(undefined, reason, drops);
    }

    /** Drops incomplete frames whose first fragment arrived `expireMs` or more ago. */
    expire(): AssemblerResult[] {
        const limit = this.#now() - this.#options.expireMs;
        for (let index = 0; index < this.#runs.length; index += 1) {
            const run = this.#runs[index];
            if (run !== undefined && run.firstSeenMs <= limit) {
                this.#select(run);
            }
        }
        if (this.#selected.length === 0) {
            return [];
        }
        const drops = this.#dropSelected("expired", undefined) ?? [];
        return [{kind: "dropped", reason: "expired", packageIds: drops}];
    }

    /** Forgets every buffered fragment and the sequence position (new stream). Stats are kept. */
    reset(): void {
        this.#slotFlags.fill(EMPTY);
        this.#slotData.fill(undefined);
        this.#runStarts.fill(undefined);
        this.#runEnds.fill(undefined);
        this.#runs.length = 0;
        this.#selected.length = 0;
        this.#fragmentCount = 0;
        this.#bufferedBytes = 0;
        this.#hasFloor = false;
        this.#hasLastFrame = false;
    }

    #stray(id: number): AssemblerResult {
        this.#stats.fragmentsStray += 1;
        return {kind: "dropped", reason: "stray", packageIds: [id]};
    }

    /** One result for one push: a frame wins, then a validation drop, then buffer drops. */
    #report(
        result: AssemblerResult | undefined,
        reason: DropReason | undefined,
        drops: number[] | undefined,
    ): AssemblerResult {
        if (result?.kind === "frame") {
            return result;
        }
        if (result?.kind === "dropped") {
            return drops === undefined || drops.length === 0
                ? result
                : {...result, packageIds: [...drops, ...result.packageIds]};
        }
        if (reason === undefined || drops === undefined || drops.length === 0) {
            return PENDING;
        }
        return {kind: "dropped", reason, packageIds: drops};
    }

    /** The slot holds fragment `id`. */
    #holds(slot: number, id: number): boolean {
        return this.#slotFlags[slot] !== EMPTY && this.#slotIds[slot] === id;
    }

    /** msgFlag of buffered fragment `id`, or EMPTY when it is not buffered. */
    #flagOf(id: number): number {
        const slot = id & this.#mask;
        return this.#slotIds[slot] === id ? (this.#slotFlags[slot] ?? EMPTY) : EMPTY;
    }

    /** Stores the fragment (a copy unless copyPayloads is false) in its free slot and merges it with its neighbours' runs. */
    #insert(slot: number, id: number, flag: number, payload: Buffer): Run {
        this.#slotIds[slot] = id;
        this.#slotFlags[slot] = flag;
        this.#slotData[slot] = this.#options.copyPayloads ? Buffer.from(payload) : payload;
        this.#fragmentCount += 1;
        this.#bufferedBytes += payload.length;
        const leftId = previous(id);
        const rightId = next(id);
        const leftRun = canLink(this.#flagOf(leftId), flag) ? this.#runEnds[leftId & this.#mask] : undefined;
        const rightRun = canLink(flag, this.#flagOf(rightId)) ? this.#runStarts[rightId & this.#mask] : undefined;
        if (leftRun !== undefined && rightRun !== undefined) {
            this.#runEnds[leftId & this.#mask] = undefined;
            this.#runStarts[rightId & this.#mask] = undefined;
            leftRun.end = rightRun.end;
            leftRun.count += 1 + rightRun.count;
            leftRun.bytes += payload.length + rightRun.bytes;
            leftRun.firstSeenMs = Math.min(leftRun.firstSeenMs, rightRun.firstSeenMs);
            this.#runEnds[leftRun.end & this.#mask] = leftRun;
            this.#unlist(rightRun);
            return leftRun;
        }
        if (leftRun !== undefined) {
            this.#runEnds[leftId & this.#mask] = undefined;
            leftRun.end = id;
            leftRun.count += 1;
            leftRun.bytes += payload.length;
            this.#runEnds[slot] = leftRun;
            return leftRun;
        }
        if (rightRun !== undefined) {
            this.#runStarts[rightId & this.#mask] = undefined;
            rightRun.start = id;
            rightRun.count += 1;
            rightRun.bytes += payload.length;
            this.#runStarts[slot] = rightRun;
            this.#unlist(rightRun); // its start changed: it moves to the end of the list
            this.#runs.push(rightRun);
            return rightRun;
        }
        const run: Run = {start: id, end: id, count: 1, bytes: payload.length, firstSeenMs: this.#now()};
        this.#runStarts[slot] = run;
        this.#runEnds[slot] = run;
        this.#runs.push(run);
        return run;
    }

    /** Removes `run` from the list of live runs, keeping the others' order. */
    #unlist(run: Run): void {
        const runs = this.#runs;
        const index = runs.indexOf(run);
        if (index < 0) {
            return;
        }
        for (let at = index + 1; at < runs.length; at += 1) {
            runs[at - 1] = runs[at] as Run;
        }
        runs.length -= 1;
    }

    /**
     * The run holding buffered fragment `id`: walks left to its start (a run is shorter than the
     * ring). The first run start at or left of a buffered id is its own run's.
     */
    #runContaining(id: number): Run | undefined {
        let start = id;
        for (let steps = 0; steps <= this.#mask; steps += 1) {
            const run = this.#runStarts[start & this.#mask];
            if (run !== undefined && run.start === start) {
                return run;
            }
            start = previous(start);
        }
        return undefined; // unreachable while the slots and runs agree
    }

    /** Frees a run's slots, copying its payloads in order into `into` when given. */
    #takeRun(run: Run, into: Buffer | undefined): void {
        let id = run.start;
        let offset = 0;
        for (let index = 0; index < run.count; index += 1) {
            const slot = id & this.#mask;
            const data = this.#slotData[slot];
            if (into !== undefined && data !== undefined) {
                data.copy(into, offset);
                offset += data.length;
            }
            this.#slotData[slot] = undefined;
            this.#slotFlags[slot] = EMPTY;
            this.#runStarts[slot] = undefined;
            this.#runEnds[slot] = undefined;
            id = next(id);
        }
        this.#unlist(run);
        this.#fragmentCount -= run.count;
        this.#bufferedBytes -= run.bytes;
    }

    /**
     * Checks the trailer and SOI/EOI of a concatenated frame (§9.2 step 3) and records the frame;
     * `all` is undefined when the frame exceeded maxFrameBytes.
     */
    #finish(all: Buffer | undefined, first: number, last: number): AssemblerResult {
        const packageIds = idRange(first, last);
        this.#hasLastFrame = true;
        this.#lastFirst = first;
        this.#lastLast = last;
        this.#hasFloor = true;
        this.#floor = next(last); // a later HEAD would have superseded this frame, so this only moves forward
        if (all === undefined) {
            return this.#rejectFrame("too-large", packageIds);
        }
        const total = all.length;
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

    /** Drops runs one by one, oldest first (ties: list order), until both caps hold again. */
    #evictOldest(drops: number[] | undefined): number[] | undefined {
        let dropped = drops;
        while (this.#fragmentCount > this.#options.maxFragments || this.#bufferedBytes > this.#options.maxFrameBytes) {
            let oldest: Run | undefined;
            for (let index = 0; index < this.#runs.length; index += 1) {
                const run = this.#runs[index];
                if (run !== undefined && (oldest === undefined || run.firstSeenMs < oldest.firstSeenMs)) {
                    oldest = run;
                }
            }
            if (oldest === undefined) {
                break;
            }
            this.#select(oldest);
            dropped = this.#dropSelected("incomplete", dropped);
        }
        return dropped;
    }

    #select(run: Run | undefined): void {
        if (run !== undefined) {
            this.#selected.push(run);
        }
    }

    /**
     * Removes the selected runs, appending their pkgIds to `drops` (created if needed), and counts
     * the frames they belonged to: runs are grouped in pkgId order, a new frame starting at a HEAD or
     * after an END.
     */
    #dropSelected(reason: DropReason, drops: number[] | undefined): number[] | undefined {
        const runs = this.#selected;
        sortBySequence(runs);
        let dropped = drops;
        let frames = 0;
        let previousEndsFrame = true;
        for (let index = 0; index < runs.length; index += 1) {
            const run = runs[index];
            if (run === undefined) {
                continue;
            }
            const startsFrame = this.#flagOf(run.start) === MsgFlag.head;
            const endsFrame = this.#flagOf(run.end) === MsgFlag.end;
            if (startsFrame || previousEndsFrame) {
                frames += 1;
            }
            previousEndsFrame = endsFrame;
            this.#takeRun(run, undefined);
            dropped ??= [];
            let id = run.start;
            for (let count = 0; count < run.count; count += 1) {
                dropped.push(id);
                id = next(id);
            }
            this.#stats.fragmentsDropped += run.count;
        }
        runs.length = 0;
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
        return dropped;
    }
}

/**
 * Sorts runs by start in pkgId order from the earliest start (found by scanning in list order);
 * insertion sort: the list holds a handful of runs and this allocates nothing.
 */
function sortBySequence(runs: Run[]): void {
    const [first] = runs;
    if (first === undefined || runs.length < 2) {
        return;
    }
    let base = first.start;
    for (const run of runs) {
        if (isBefore(run.start, base)) {
            base = run.start;
        }
    }
    for (let index = 1; index < runs.length; index += 1) {
        const run = runs[index] as Run;
        const key = (run.start - base) >>> 0;
        let at = index - 1;
        for (; at >= 0; at -= 1) {
            const other = runs[at] as Run;
            if ((other.start - base) >>> 0 <= key) {
                break;
            }
            runs[at + 1] = other;
        }
        runs[at + 1] = run;
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
