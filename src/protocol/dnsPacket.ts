/**
 * DNS messages (RFC 1035 §4) ↔ typed values, for the built-in responder (issue 5 item 4). Pure: no sockets.
 *
 * Header (RFC 1035 §4.1.1), 12 bytes, big-endian:
 *
 * | offset | size | field                                                        |
 * |-------:|-----:|--------------------------------------------------------------|
 * |      0 |    2 | id                                                           |
 * |      2 |    2 | QR(1) OPCODE(4) AA(1) TC(1) RD(1) RA(1) Z(3: Z AD CD) RCODE(4) |
 * |      4 |    2 | qdcount                                                      |
 * |      6 |    2 | ancount                                                      |
 * |      8 |    2 | nscount                                                      |
 * |     10 |    2 | arcount                                                      |
 *
 * Question (§4.1.2): name, type u16, class u16. Resource record (§4.1.3): name, type u16, class u16,
 * ttl u32, rdlength u16, rdata. Names are label sequences ending in a zero byte, or in a 2-byte pointer
 * `11xxxxxx xxxxxxxx` to an earlier offset (compression, §4.1.4). Decoding follows pointers; encoding
 * never compresses.
 *
 * Names are presentation strings without the trailing dot (`v720.naxclow.com`; the root is `""`), with
 * `.` and `\` inside a label escaped as `\.` and `\\`, and bytes outside 0x21–0x7e as `\DDD` (RFC 4343 §2.1),
 * so any wire name decodes and re-encodes unchanged. Case is kept (resolvers check that the question
 * comes back with the case they sent).
 */
import {ProtocolError} from "./errors.js";

export const DNS_HEADER_LENGTH = 12;
/** RFC 1035 §2.3.4: a name is at most 255 bytes on the wire; a label at most 63. */
export const MAX_DNS_NAME_BYTES = 255;
export const MAX_DNS_LABEL_BYTES = 63;
/** The EDNS payload size advertised in our answers (the DNS Flag Day 2020 value). */
export const EDNS_UDP_PAYLOAD_BYTES = 1232;

export const DnsType = {
    a: 1,
    ns: 2,
    cname: 5,
    soa: 6,
    ptr: 12,
    mx: 15,
    txt: 16,
    aaaa: 28,
    opt: 41,
    https: 65,
    any: 255,
} as const;

export const DnsClass = {in: 1, any: 255} as const;

export const DnsRcode = {noError: 0, formErr: 1, servFail: 2, nxDomain: 3, notImp: 4, refused: 5} as const;

export const DnsOpcode = {query: 0} as const;

export interface DnsFlags {
    /** true in a response. */
    readonly qr: boolean;
    readonly opcode: number;
    readonly aa: boolean;
    readonly tc: boolean;
    readonly rd: boolean;
    readonly ra: boolean;
    /** The three bits Z, AD, CD (RFC 4035 §3.2), kept as a number 0–7. */
    readonly z: number;
    readonly rcode: number;
}

export interface DnsHeader {
    readonly id: number;
    readonly flags: DnsFlags;
    readonly qdcount: number;
    readonly ancount: number;
    readonly nscount: number;
    readonly arcount: number;
}

export interface DnsQuestion {
    readonly name: string;
    readonly type: number;
    readonly dnsClass: number;
}

export interface DnsRecord {
    readonly name: string;
    readonly type: number;
    /** For OPT records (type 41) this is the requester's UDP payload size (RFC 6891 §6.1.2). */
    readonly dnsClass: number;
    readonly ttl: number;
    /** Raw rdata (a copy). Names inside rdata (CNAME, MX, …) are left compressed as received. */
    readonly data: Buffer;
}

export interface DnsMessage {
    readonly id: number;
    readonly flags: DnsFlags;
    readonly questions: readonly DnsQuestion[];
    readonly answers: readonly DnsRecord[];
    readonly authorities: readonly DnsRecord[];
    readonly additionals: readonly DnsRecord[];
}

/** Decodes the 12-byte header. Throws ProtocolError when fewer than 12 bytes are given. */
export function decodeDnsHeader(bytes: Uint8Array): DnsHeader {
    if (bytes.length < DNS_HEADER_LENGTH) {
        throw new ProtocolError(`truncated DNS header: ${bytes.length} of ${DNS_HEADER_LENGTH} bytes`, bytes);
    }
    const view = toBuffer(bytes);
    const flags = view.readUInt16BE(2);
    return {
        id: view.readUInt16BE(0),
        flags: {
            qr: (flags & 0x8000) !== 0,
            opcode: (flags >> 11) & 0x0f,
            aa: (flags & 0x0400) !== 0,
            tc: (flags & 0x0200) !== 0,
            rd: (flags & 0x0100) !== 0,
            ra: (flags & 0x0080) !== 0,
            z: (flags >> 4) & 0x07,
            rcode: flags & 0x0f,
        },
        qdcount: view.readUInt16BE(4),
        ancount: view.readUInt16BE(6),
        nscount: view.readUInt16BE(8),
        arcount: view.readUInt16BE(10),
    };
}

/**
 * Decodes a whole message. Throws ProtocolError on anything malformed: truncation, a count larger than
 * the sections present, a label over 63 bytes, a name over 255 bytes, a reserved label type, or a
 * compression pointer that does not point strictly backwards. Bytes after the last record are ignored.
 */
export function decodeDnsMessage(bytes: Uint8Array): DnsMessage {
    const view = toBuffer(bytes);
    const header = decodeDnsHeader(view);
    let offset = DNS_HEADER_LENGTH;
    const questions: DnsQuestion[] = [];
    for (let index = 0; index < header.qdcount; index += 1) {
        const name = readName(view, offset);
        offset = name.next;
        need(view, offset, 4, "question");
        questions.push({name: name.name, type: view.readUInt16BE(offset), dnsClass: view.readUInt16BE(offset + 2)});
        offset += 4;
    }
    const answers = readRecords(view, offset, header.ancount);
    const authorities = readRecords(view, answers.next, header.nscount);
    const additionals = readRecords(view, authorities.next, header.arcount);
    return {
        id: header.id,
        flags: header.flags,
        questions,
        answers: answers.records,
        authorities: authorities.records,
        additionals: additionals.records,
    };
}

/**
 * Encodes `message` without name compression. Throws RangeError when a name is not encodable (a label
 * of 0 or more than 63 bytes, a name over 255 bytes), a field is out of range, or the message would
 * exceed 65535 bytes: a programming error, never device input.
 */
export function encodeDnsMessage(message: DnsMessage): Buffer {
    const parts: Buffer[] = [];
    const header = Buffer.alloc(DNS_HEADER_LENGTH);
    header.writeUInt16BE(checkUint(message.id, 0xffff, "id"), 0);
    header.writeUInt16BE(encodeFlags(message.flags), 2);
    header.writeUInt16BE(checkUint(message.questions.length, 0xffff, "qdcount"), 4);
    header.writeUInt16BE(checkUint(message.answers.length, 0xffff, "ancount"), 6);
    header.writeUInt16BE(checkUint(message.authorities.length, 0xffff, "nscount"), 8);
    header.writeUInt16BE(checkUint(message.additionals.length, 0xffff, "arcount"), 10);
    parts.push(header);
    for (const question of message.questions) {
        const fixed = Buffer.alloc(4);
        fixed.writeUInt16BE(checkUint(question.type, 0xffff, "type"), 0);
        fixed.writeUInt16BE(checkUint(question.dnsClass, 0xffff, "class"), 2);
        parts.push(encodeDnsName(question.name), fixed);
    }
    for (const record of [...message.answers, ...message.authorities, ...message.additionals]) {
        const fixed = Buffer.alloc(10);
        fixed.writeUInt16BE(checkUint(record.type, 0xffff, "type"), 0);
        fixed.writeUInt16BE(checkUint(record.dnsClass, 0xffff, "class"), 2);
        fixed.writeUInt32BE(checkUint(record.ttl, 0xffff_ffff, "ttl"), 4);
        fixed.writeUInt16BE(checkUint(record.data.length, 0xffff, "rdlength"), 8);
        parts.push(encodeDnsName(record.name), fixed, record.data);
    }
    const out = Buffer.concat(parts);
    if (out.length > 0xffff) {
        throw new RangeError(`DNS message of ${out.length} bytes exceeds 65535`);
    }
    return out;
}

/** A presentation name (see the file comment) → wire labels ending in the zero byte. Throws RangeError. */
export function encodeDnsName(name: string): Buffer {
    const labels = splitPresentationName(name);
    const parts: Buffer[] = [];
    let total = 1;
    for (const label of labels) {
        if (label.length === 0 || label.length > MAX_DNS_LABEL_BYTES) {
            throw new RangeError(
                `DNS label of ${label.length} bytes in "${name}" (1 to ${MAX_DNS_LABEL_BYTES} allowed)`,
            );
        }
        total += 1 + label.length;
        parts.push(Buffer.from([label.length]), label);
    }
    if (total > MAX_DNS_NAME_BYTES) {
        throw new RangeError(`DNS name "${name}" is ${total} bytes on the wire (at most ${MAX_DNS_NAME_BYTES})`);
    }
    parts.push(Buffer.from([0]));
    return Buffer.concat(parts);
}

/** A copy of `message` whose id is `id` (the forwarder's id mapping). Throws ProtocolError under 12 bytes. */
export function withDnsId(message: Uint8Array, id: number): Buffer {
    if (message.length < DNS_HEADER_LENGTH) {
        throw new ProtocolError(`truncated DNS header: ${message.length} of ${DNS_HEADER_LENGTH} bytes`, message);
    }
    const out = Buffer.from(message);
    out.writeUInt16BE(checkUint(id, 0xffff, "id"), 0);
    return out;
}

/** The 4-byte rdata of an A record for a dotted-quad IPv4 address. Throws RangeError when it is not one. */
export function encodeIpv4(address: string): Buffer {
    const parts = address.split(".");
    if (parts.length !== 4 || parts.some((part) => !/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255)) {
        throw new RangeError(`not an IPv4 address: "${address}"`);
    }
    return Buffer.from(parts.map(Number));
}

/** The dotted-quad form of 4 bytes of A rdata. Throws ProtocolError on another length. */
export function decodeIpv4(data: Uint8Array): string {
    if (data.length !== 4) {
        throw new ProtocolError(`A record data of ${data.length} bytes (4 expected)`, data);
    }
    return Array.from(data).join(".");
}

/** Lower-cased name for comparisons (DNS names compare case-insensitively in ASCII, RFC 4343 §3). */
export function canonicalDnsName(name: string): string {
    return name.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

// ---- internals ---------------------------------------------------------------------------------

function toBuffer(bytes: Uint8Array): Buffer {
    return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
}

function need(view: Buffer, offset: number, length: number, what: string): void {
    if (offset + length > view.length) {
        throw new ProtocolError(`truncated ${what} at offset ${offset}`, view.subarray(0, 64));
    }
}

/** Reads `count` resource records from `offset`; `next` is the offset after the last one. */
function readRecords(view: Buffer, offset: number, count: number): {records: DnsRecord[]; next: number} {
    const records: DnsRecord[] = [];
    let position = offset;
    for (let index = 0; index < count; index += 1) {
        const name = readName(view, position);
        position = name.next;
        need(view, position, 10, "resource record");
        const dataLength = view.readUInt16BE(position + 8);
        need(view, position + 10, dataLength, "rdata");
        records.push({
            name: name.name,
            type: view.readUInt16BE(position),
            dnsClass: view.readUInt16BE(position + 2),
            ttl: view.readUInt32BE(position + 4),
            data: Buffer.from(view.subarray(position + 10, position + 10 + dataLength)),
        });
        position += 10 + dataLength;
    }
    return {records, next: position};
}

/** Reads a (possibly compressed) name at `offset`; `next` is the offset after it in the original position. */
function readName(view: Buffer, offset: number): {name: string; next: number} {
    const labels: string[] = [];
    let position = offset;
    let next = -1;
    let wireBytes = 1;
    // Every pointer must point before the start of the run of labels it ends, so the target offsets
    // strictly decrease and decoding always terminates (no loops, RFC 1035 §4.1.4 "prior occurrence").
    let limit = offset;
    for (;;) {
        need(view, position, 1, "name");
        const length = view.readUInt8(position);
        const kind = length & 0xc0;
        if (kind === 0xc0) {
            need(view, position, 2, "compression pointer");
            const target = view.readUInt16BE(position) & 0x3fff;
            if (target >= limit) {
                throw new ProtocolError(
                    `compression pointer at offset ${position} to ${target} does not point backwards`,
                    view.subarray(0, 64),
                );
            }
            if (next < 0) {
                next = position + 2;
            }
            position = target;
            limit = target;
            continue;
        }
        if (kind !== 0) {
            throw new ProtocolError(
                `reserved label type 0x${kind.toString(16)} at offset ${position}`,
                view.subarray(0, 64),
            );
        }
        if (length === 0) {
            return {name: labels.join("."), next: next < 0 ? position + 1 : next};
        }
        need(view, position + 1, length, "label");
        wireBytes += 1 + length;
        if (wireBytes > MAX_DNS_NAME_BYTES) {
            throw new ProtocolError(`name longer than ${MAX_DNS_NAME_BYTES} bytes`, view.subarray(0, 64));
        }
        labels.push(escapeLabel(view.subarray(position + 1, position + 1 + length)));
        position += 1 + length;
    }
}

function escapeLabel(label: Buffer): string {
    let out = "";
    for (const byte of label) {
        if (byte === 0x2e || byte === 0x5c) {
            out += `\\${String.fromCharCode(byte)}`;
        } else if (byte < 0x21 || byte > 0x7e) {
            out += `\\${byte.toString().padStart(3, "0")}`;
        } else {
            out += String.fromCharCode(byte);
        }
    }
    return out;
}

/** Presentation name → label byte strings; "" and "." are the root. Throws RangeError on a bad escape. */
function splitPresentationName(name: string): Buffer[] {
    if (name === "" || name === ".") {
        return [];
    }
    const labels: Buffer[] = [];
    let current: number[] = [];
    let endsWithDot = false;
    for (let index = 0; index < name.length; index += 1) {
        const char = name.charCodeAt(index);
        endsWithDot = char === 0x2e;
        if (char === 0x2e) {
            labels.push(Buffer.from(current));
            current = [];
        } else if (char === 0x5c) {
            const digits = name.slice(index + 1, index + 4);
            if (/^\d{3}$/.test(digits) && Number(digits) <= 255) {
                current.push(Number(digits));
                index += 3;
            } else if (index + 1 < name.length && name.charCodeAt(index + 1) <= 0xff) {
                current.push(name.charCodeAt(index + 1));
                index += 1;
            } else {
                throw new RangeError(`bad escape in DNS name "${name}"`);
            }
        } else if (char > 0xff) {
            throw new RangeError(`DNS name "${name}" has a character outside latin1; use \\DDD escapes`);
        } else {
            current.push(char);
        }
    }
    if (!endsWithDot) {
        labels.push(Buffer.from(current)); // a trailing unescaped dot is the optional root marker
    }
    return labels;
}

function encodeFlags(flags: DnsFlags): number {
    return (
        (flags.qr ? 0x8000 : 0) |
        (checkUint(flags.opcode, 0x0f, "opcode") << 11) |
        (flags.aa ? 0x0400 : 0) |
        (flags.tc ? 0x0200 : 0) |
        (flags.rd ? 0x0100 : 0) |
        (flags.ra ? 0x0080 : 0) |
        (checkUint(flags.z, 0x07, "z") << 4) |
        checkUint(flags.rcode, 0x0f, "rcode")
    );
}

function checkUint(value: number, max: number, what: string): number {
    if (!Number.isInteger(value) || value < 0 || value > max) {
        throw new RangeError(`DNS ${what} must be an integer 0..${max}, got ${value}`);
    }
    return value;
}
