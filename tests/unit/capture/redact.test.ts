import fc from "fast-check";
import {describe, expect, it} from "vitest";
import {queryObject, REDACTED, redactJson, redactQuery, redactText} from "../../../src/capture/redact.js";

describe("redactJson", () => {
    it("redacts the 204 Wi-Fi form's p, passwords and tokens at any depth, keeping everything else", () => {
        const input = {
            code: 301,
            target: "00112233445566778899aabbccddeeff",
            content: {code: 204, s: "Café-Wohnzimmer 📶", p: "hunter2", u: "user-1"},
            list: [{pwd: "91edf41f"}, {password: "x", PASSWORD: "y"}, {devToken: "XJ0af899", cliToken: "deadc0de"}],
            token: "91edf41f",
            nested: {deeper: {tarPwd: "abc", keep: 1}},
            none: null,
        };
        expect(redactJson(input)).toStrictEqual({
            code: 301,
            target: "00112233445566778899aabbccddeeff",
            content: {code: 204, s: "Café-Wohnzimmer 📶", p: REDACTED, u: "user-1"},
            list: [{pwd: REDACTED}, {password: REDACTED, PASSWORD: REDACTED}, {devToken: REDACTED, cliToken: REDACTED}],
            token: REDACTED,
            nested: {deeper: {tarPwd: REDACTED, keep: 1}},
            none: null,
        });
    });

    it("does not modify its input", () => {
        const input = {token: "secret"};
        redactJson(input);
        expect(input.token).toBe("secret");
    });

    it("keeps a null secret as null (nothing to hide) and numbers as numbers", () => {
        expect(redactJson({pwd: null, token: 1234})).toStrictEqual({pwd: null, token: REDACTED});
    });

    it("never leaks a secret value, whatever the nesting", () => {
        const secret = "S3CRET-value";
        const tree = fc.letrec((tie) => ({
            node: fc.oneof(
                {depthSize: "small"},
                fc.constant(secret),
                fc.integer(),
                fc.array(tie("node"), {maxLength: 3}),
                fc.dictionary(fc.constantFrom("a", "b", "p", "pwd", "token", "cliToken", "x"), tie("node"), {
                    maxKeys: 4,
                }),
            ),
        })).node;
        fc.assert(
            fc.property(tree, (value) => {
                const wrapped = {token: secret, inner: value, password: secret};
                const text = JSON.stringify(redactJson(wrapped));
                expect(text).not.toContain(`"token":"${secret}"`);
                expect(text).not.toContain(`"password":"${secret}"`);
                expect(text).not.toMatch(/"(p|pwd|token|cliToken)":"S3CRET-value"/);
            }),
        );
    });
});

describe("redactText", () => {
    it.each([
        [
            '{"code": 100, "uid": "0800c00128F8", "token": "91edf41f" ,"domain": "v720',
            `{"code": 100, "uid": "0800c00128F8", "token": "${REDACTED}" ,"domain": "v720`,
        ],
        ['{"code":204,"s":"net","p":"hunter2"', `{"code":204,"s":"net","p":"${REDACTED}"`],
        ['{"code":204,"p":"hunter', `{"code":204,"p":"${REDACTED}"`],
        ['{"pwd": 12345678, "x": 1,}', `{"pwd": "${REDACTED}", "x": 1,}`],
        ['{"Password":"a\\"b","keep":"me"', `{"Password":"${REDACTED}","keep":"me"`],
        ["no secrets here", "no secrets here"],
    ])("%s", (input, expected) => {
        expect(redactText(input)).toBe(expected);
    });
});

describe("query strings", () => {
    it("redacts the bootstrap token in a raw query and keeps the rest as sent", () => {
        expect(redactQuery("devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1")).toBe(
            `devicesCode=0800c00128F8&random=OPQRST&token=${REDACTED}`,
        );
        expect(redactQuery("a&b=%zz&PWD=1")).toBe(`a&b=%zz&PWD=${REDACTED}`);
    });

    it("turns a query into an object with secrets redacted", () => {
        expect(queryObject("devicesCode=0800c00128F8&random=OPQRST&token=2d8c8b52f1")).toStrictEqual({
            devicesCode: "0800c00128F8",
            random: "OPQRST",
            token: REDACTED,
        });
    });
});
