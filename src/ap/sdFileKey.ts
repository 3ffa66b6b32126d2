/** The CLI name of one SD recording: `YYYYMMDD-HH-MM` (file `/sd/YYYYMMDD/HH/MM.avi`, protocol-notes.md §11.3). */
import {isSdDate, type SdFileKey} from "../protocol/apMessages.js";

/** Parses `20230124-02-05`. Throws RangeError with a usage message when malformed or out of range. */
export function parseSdFileKey(text: string): SdFileKey {
    const match = /^(\d{8})-(\d{2})-(\d{2})$/.exec(text.trim());
    const date = Number(match?.[1]);
    const hours = Number(match?.[2]);
    const minute = Number(match?.[3]);
    if (match === null || !isSdDate(date) || hours > 23 || minute > 59) {
        throw new RangeError(`"${text}" is not a recording name: expected YYYYMMDD-HH-MM, e.g. 20230124-02-05`);
    }
    return {date, hours, minute};
}

/** `{20230124, 2, 5}` → `20230124-02-05`. */
export function formatSdFileKey(key: SdFileKey): string {
    return `${key.date}-${pad2(key.hours)}-${pad2(key.minute)}`;
}

/** 20230124 → `2023-01-24`. */
export function formatSdDate(date: number): string {
    const text = String(date);
    return `${text.slice(0, 4)}-${text.slice(4, 6)}-${text.slice(6, 8)}`;
}

/** Parses a `--date` value: `20230124` or `2023-01-24`. Throws RangeError. */
export function parseSdDate(text: string): number {
    const digits = text.trim().replaceAll("-", "");
    const date = /^\d{8}$/.test(digits) ? Number(digits) : Number.NaN;
    if (!isSdDate(date)) {
        throw new RangeError(`"${text}" is not a date: expected YYYYMMDD or YYYY-MM-DD`);
    }
    return date;
}

export function pad2(value: number): string {
    return String(value).padStart(2, "0");
}
