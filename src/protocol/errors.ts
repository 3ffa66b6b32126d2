/** Bad bytes from a peer. Thrown by every decoder in protocol/; caught only at socket edges. */
export class ProtocolError extends Error {
    override readonly name = "ProtocolError";
    /** The offending bytes, for a hex preview in the log. */
    readonly raw: Uint8Array | undefined;

    constructor(message: string, raw?: Uint8Array, options?: ErrorOptions) {
        super(message, options);
        this.raw = raw;
    }
}
