/**
 * The responses the built-in responder builds itself, as pure functions of the query (issue 5 item 4):
 * A (and ANY) for a zone name → the advertised IPv4 address; AAAA and every other type → NOERROR with no
 * answer, so a camera falls back to A; errors (FORMERR, SERVFAIL) echo the question.
 */
import {
    DnsClass,
    type DnsMessage,
    DnsOpcode,
    DnsRcode,
    type DnsRecord,
    DnsType,
    EDNS_UDP_PAYLOAD_BYTES,
    encodeIpv4,
} from "../protocol/dnsPacket.js";

/** What to do with a decoded query. */
export type QueryDecision =
    | {readonly kind: "local"; readonly name: string; readonly type: number}
    | {readonly kind: "forward"}
    | {readonly kind: "reject"; readonly rcode: number; readonly reason: string};

/**
 * Local when the query is a standard query with exactly one question inside `isLocalName`; a standard
 * query without a question is FORMERR; a message that is itself a response is dropped by the caller
 * (it never gets here); everything else (other opcodes, several questions, other names) is forwarded.
 */
export function decideQuery(query: DnsMessage, isLocalName: (name: string) => boolean): QueryDecision {
    if (query.flags.opcode === DnsOpcode.query && query.questions.length === 0) {
        return {kind: "reject", rcode: DnsRcode.formErr, reason: "query without a question"};
    }
    const [question] = query.questions;
    if (
        query.flags.opcode === DnsOpcode.query &&
        query.questions.length === 1 &&
        question !== undefined &&
        isLocalName(question.name)
    ) {
        return {kind: "local", name: question.name, type: question.type};
    }
    return {kind: "forward"};
}

/**
 * The authoritative answer for a zone name: an A record with `address` for type A or ANY in class IN or
 * ANY, otherwise no record (NOERROR). `address` undefined (nothing to advertise) gives SERVFAIL.
 * Throws RangeError when `address` is not an IPv4 dotted quad.
 */
export function buildLocalAnswer(query: DnsMessage, address: string | undefined, ttlS: number): DnsMessage {
    if (address === undefined) {
        return buildErrorResponse(query, DnsRcode.servFail);
    }
    const answers: DnsRecord[] = [];
    for (const question of query.questions) {
        const wantsA = question.type === DnsType.a || question.type === DnsType.any;
        const inClass = question.dnsClass === DnsClass.in || question.dnsClass === DnsClass.any;
        if (wantsA && inClass) {
            answers.push({
                name: question.name,
                type: DnsType.a,
                dnsClass: DnsClass.in,
                ttl: ttlS,
                data: encodeIpv4(address),
            });
        }
    }
    return response(query, DnsRcode.noError, answers, true);
}

/** A response with `rcode`, the question echoed and no records (besides OPT when the query had one). */
export function buildErrorResponse(query: DnsMessage, rcode: number): DnsMessage {
    return response(query, rcode, [], false);
}

/** The query's OPT record, if any (RFC 6891 §6.1.1: at most one, in the additional section). */
export function findOpt(query: DnsMessage): DnsRecord | undefined {
    return query.additionals.find((record) => record.type === DnsType.opt);
}

function response(query: DnsMessage, rcode: number, answers: DnsRecord[], authoritative: boolean): DnsMessage {
    // RFC 6891 §7: a responder that understands EDNS answers an EDNS query with an OPT record of its own.
    const opt = findOpt(query);
    const additionals: DnsRecord[] =
        opt === undefined
            ? []
            : [{name: "", type: DnsType.opt, dnsClass: EDNS_UDP_PAYLOAD_BYTES, ttl: 0, data: Buffer.alloc(0)}];
    return {
        id: query.id,
        flags: {
            qr: true,
            opcode: query.flags.opcode,
            aa: authoritative,
            tc: false,
            rd: query.flags.rd,
            ra: true,
            z: 0,
            rcode,
        },
        questions: query.questions,
        answers,
        authorities: [],
        additionals,
    };
}
