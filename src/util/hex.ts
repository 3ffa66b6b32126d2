/** Hex preview of at most `maxBytes` bytes, with the total length when cut: `57000000… (107 B)`. */
export function hexPreview(bytes: Uint8Array, maxBytes = 32): string {
    const shown = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, maxBytes)).toString("hex");
    return bytes.length > maxBytes ? `${shown}… (${bytes.length} B)` : shown;
}
