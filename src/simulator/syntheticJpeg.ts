/**
 * Real, decodable baseline JPEGs for the simulator: a textured test card with the frame counter in
 * big 7-segment digits and the camera id in small hex digits, 4:2:2 like the camera (SOF0, three
 * components, Y sampled 2×1; protocol-notes.md §9.2).
 *
 * Cheap per frame: the image is coded with a restart interval (DRI) of R MCUs, and every glyph cell
 * is aligned to restart intervals. Each interval is entropy-coded on its own (DC prediction resets
 * at every RSTn), so a frame is a concatenation of pre-encoded byte strings: static background
 * intervals plus, per counter digit, the intervals of that digit's glyph. Rendering one frame is one
 * allocation and ~100 copies.
 *
 * Layout of every frame:
 *
 * | segment | content |
 * |---------|---------|
 * | SOI     | FF D8 |
 * | APP0    | JFIF 1.01 (the camera's HEAD starts `ffd8ffe000104a464946`, §9.2) |
 * | COM     | `v720sim cam=<id> frame=<10 digits>` + space padding (reaches `targetBytes`) |
 * | DQT     | two tables, IJG quality scaling of the Annex K tables |
 * | SOF0    | 8-bit, W×H, Y 2×1 q0, Cb 1×1 q1, Cr 1×1 q1 |
 * | DHT     | the four standard Annex K Huffman tables |
 * | DRI     | R |
 * | SOS     | interleaved Y Cb Cr, then entropy data with RST0…RST7 |
 * | EOI     | FF D9 |
 */

const SOI = 0xd8;
const EOI = 0xd9;
const APP0 = 0xe0;
const COM = 0xfe;
const DQT = 0xdb;
const SOF0 = 0xc0;
const DHT = 0xc4;
const DRI = 0xdd;
const SOS = 0xda;
const RST0 = 0xd0;

const MCU_WIDTH = 16;
const MCU_HEIGHT = 8;
/** Counter digits shown and written into the COM segment. */
const COUNTER_COM_DIGITS = 10;
const COUNTER_MODULUS = 10 ** COUNTER_COM_DIGITS;
const MAX_DISPLAY_DIGITS = 6;
const COMMENT_PREFIX = "v720sim";
const MAX_SEGMENT_PAYLOAD = 65_533;

// ---- Annex K tables ---------------------------------------------------------------------------

const ZIGZAG = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];
const LUMA_QUANT = [
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51,
    87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101,
    72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_QUANT = [
    17,
    18,
    24,
    47,
    99,
    99,
    99,
    99,
    18,
    21,
    26,
    66,
    99,
    99,
    99,
    99,
    24,
    26,
    56,
    99,
    99,
    99,
    99,
    99,
    47,
    66,
    99,
    99,
    99,
    99,
    99,
    99,
    ...new Array<number>(32).fill(99),
];

interface HuffmanSpec {
    readonly bits: readonly number[];
    readonly values: readonly number[];
}
const DC_LUMA: HuffmanSpec = {bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0], values: range(12)};
const DC_CHROMA: HuffmanSpec = {bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], values: range(12)};
const AC_LUMA: HuffmanSpec = {
    bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
    values: hexBytes(
        "01020300041105122131410613516107227114328191a1082342b1c11552d1f0" +
            "2433627282090a161718191a25262728292a3435363738393a43444546474849" +
            "4a535455565758595a636465666768696a737475767778797a83848586878889" +
            "8a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5" +
            "c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9fa",
    ),
};
const AC_CHROMA: HuffmanSpec = {
    bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
    values: hexBytes(
        "000102031104052131061241510761711322328108144291a1b1c109233352f0" +
            "156272d10a162434e125f11718191a262728292a35363738393a434445464748" +
            "494a535455565758595a636465666768696a737475767778797a828384858687" +
            "88898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3" +
            "c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9fa",
    ),
};

/** code | (length << 16), indexed by symbol. */
function buildHuffmanCodes(spec: HuffmanSpec): Int32Array {
    const codes = new Int32Array(256);
    let code = 0;
    let index = 0;
    for (let length = 1; length <= 16; length += 1) {
        for (let count = 0; count < (spec.bits[length - 1] ?? 0); count += 1) {
            codes[spec.values[index] ?? 0] = code | (length << 16);
            code += 1;
            index += 1;
        }
        code <<= 1;
    }
    return codes;
}
const DC_LUMA_CODES = buildHuffmanCodes(DC_LUMA);
const DC_CHROMA_CODES = buildHuffmanCodes(DC_CHROMA);
const AC_LUMA_CODES = buildHuffmanCodes(AC_LUMA);
const AC_CHROMA_CODES = buildHuffmanCodes(AC_CHROMA);

/** IJG quality scaling (libjpeg `jpeg_quality_scaling`), natural order. */
function scaleQuant(base: readonly number[], quality: number): Uint8Array {
    const q = Math.min(100, Math.max(1, Math.round(quality)));
    const scale = q < 50 ? Math.floor(5000 / q) : 200 - q * 2;
    return Uint8Array.from(base, (value) => Math.min(255, Math.max(1, Math.floor((value * scale + 50) / 100))));
}

// ---- forward DCT and entropy coding --------------------------------------------------------------

const COS = new Float64Array(64);
for (let u = 0; u < 8; u += 1) {
    for (let x = 0; x < 8; x += 1) {
        COS[u * 8 + x] = ((u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16)) / 2;
    }
}

class BitWriter {
    bytes = new Uint8Array(1 << 16);
    length = 0;
    #acc = 0;
    #count = 0;

    reset(): void {
        this.length = 0;
        this.#acc = 0;
        this.#count = 0;
    }

    write(code: number, length: number): void {
        this.#acc = ((this.#acc << length) | (code & ((1 << length) - 1))) >>> 0;
        this.#count += length;
        while (this.#count >= 8) {
            this.#count -= 8;
            const byte = (this.#acc >>> this.#count) & 0xff;
            this.#push(byte);
            if (byte === 0xff) {
                this.#push(0); // byte stuffing (T.81 F.1.2.3)
            }
        }
        this.#acc &= (1 << this.#count) - 1;
    }

    /** Pads the last byte with 1-bits (T.81 F.1.2.3). */
    flush(): void {
        if (this.#count > 0) {
            this.write((1 << (8 - this.#count)) - 1, 8 - this.#count);
        }
    }

    pushMarker(marker: number): void {
        this.#push(0xff);
        this.#push(marker);
    }

    #push(byte: number): void {
        if (this.length === this.bytes.length) {
            const grown = new Uint8Array(this.bytes.length * 2);
            grown.set(this.bytes);
            this.bytes = grown;
        }
        this.bytes[this.length] = byte;
        this.length += 1;
    }
}

/** Planar 4:2:2 image; chroma planes are `ceil(width / 2)` × `height`. Sizes are MCU-padded internally. */
export interface YCbCrImage {
    readonly width: number;
    readonly height: number;
    readonly y: Uint8Array;
    readonly cb: Uint8Array;
    readonly cr: Uint8Array;
}

/** Quantisation-ready coder for one image size and quality. */
class McuCoder {
    readonly mcusX: number;
    readonly mcusY: number;
    readonly lumaQuant: Uint8Array;
    readonly chromaQuant: Uint8Array;
    readonly #lumaDivisors = new Float64Array(64);
    readonly #chromaDivisors = new Float64Array(64);
    readonly #block = new Float64Array(64);
    readonly #temp = new Float64Array(64);
    readonly #coefficients = new Int32Array(64);
    readonly #writer = new BitWriter();

    constructor(width: number, height: number, quality: number) {
        this.mcusX = Math.ceil(width / MCU_WIDTH);
        this.mcusY = Math.ceil(height / MCU_HEIGHT);
        this.lumaQuant = scaleQuant(LUMA_QUANT, quality);
        this.chromaQuant = scaleQuant(CHROMA_QUANT, quality);
        for (let index = 0; index < 64; index += 1) {
            this.#lumaDivisors[index] = this.lumaQuant[index] ?? 1;
            this.#chromaDivisors[index] = this.chromaQuant[index] ?? 1;
        }
    }

    /**
     * Entropy-codes MCUs [first, first + count) of padded planes as one restart interval (DC
     * prediction starts at 0), followed by RST(`restartIndex` mod 8) unless `restartIndex` is −1.
     */
    encodeInterval(planes: PaddedPlanes, first: number, count: number, restartIndex: number): Buffer {
        const writer = this.#writer;
        writer.reset();
        const predictions = [0, 0, 0];
        for (let mcu = first; mcu < first + count; mcu += 1) {
            const mx = mcu % this.mcusX;
            const my = Math.floor(mcu / this.mcusX);
            const lumaX = mx * MCU_WIDTH;
            const top = my * MCU_HEIGHT;
            predictions[0] = this.#encodeBlock(planes.y, planes.stride, lumaX, top, 0, predictions[0] ?? 0);
            predictions[0] = this.#encodeBlock(planes.y, planes.stride, lumaX + 8, top, 0, predictions[0]);
            predictions[1] = this.#encodeBlock(planes.cb, planes.chromaStride, mx * 8, top, 1, predictions[1] ?? 0);
            predictions[2] = this.#encodeBlock(planes.cr, planes.chromaStride, mx * 8, top, 1, predictions[2] ?? 0);
        }
        writer.flush();
        if (restartIndex >= 0) {
            writer.pushMarker(RST0 + (restartIndex % 8));
        }
        return Buffer.from(writer.bytes.subarray(0, writer.length));
    }

    /** Returns the block's quantised DC (the next prediction). */
    #encodeBlock(
        plane: Uint8Array,
        stride: number,
        left: number,
        top: number,
        table: 0 | 1,
        prediction: number,
    ): number {
        const block = this.#block;
        const temp = this.#temp;
        for (let y = 0; y < 8; y += 1) {
            const row = (top + y) * stride + left;
            for (let x = 0; x < 8; x += 1) {
                block[y * 8 + x] = (plane[row + x] ?? 0) - 128;
            }
        }
        for (let y = 0; y < 8; y += 1) {
            for (let u = 0; u < 8; u += 1) {
                let sum = 0;
                for (let x = 0; x < 8; x += 1) {
                    sum += (block[y * 8 + x] ?? 0) * (COS[u * 8 + x] ?? 0);
                }
                temp[y * 8 + u] = sum;
            }
        }
        const divisors = table === 0 ? this.#lumaDivisors : this.#chromaDivisors;
        const coefficients = this.#coefficients;
        for (let v = 0; v < 8; v += 1) {
            for (let u = 0; u < 8; u += 1) {
                let sum = 0;
                for (let y = 0; y < 8; y += 1) {
                    sum += (temp[y * 8 + u] ?? 0) * (COS[v * 8 + y] ?? 0);
                }
                const natural = v * 8 + u;
                block[natural] = Math.round(sum / (divisors[natural] ?? 1));
            }
        }
        for (let k = 0; k < 64; k += 1) {
            coefficients[k] = block[ZIGZAG[k] ?? 0] ?? 0;
        }
        const dcCodes = table === 0 ? DC_LUMA_CODES : DC_CHROMA_CODES;
        const acCodes = table === 0 ? AC_LUMA_CODES : AC_CHROMA_CODES;
        const dc = coefficients[0] ?? 0;
        this.#writeValue(dcCodes, 0, dc - prediction);
        let run = 0;
        for (let k = 1; k < 64; k += 1) {
            const value = coefficients[k] ?? 0;
            if (value === 0) {
                run += 1;
                continue;
            }
            while (run > 15) {
                this.#writeSymbol(acCodes, 0xf0); // ZRL
                run -= 16;
            }
            this.#writeValue(acCodes, run << 4, value);
            run = 0;
        }
        if (run > 0) {
            this.#writeSymbol(acCodes, 0x00); // EOB
        }
        return dc;
    }

    #writeValue(codes: Int32Array, symbolBase: number, value: number): void {
        const magnitude = Math.abs(value);
        const size = magnitude === 0 ? 0 : 32 - Math.clz32(magnitude);
        this.#writeSymbol(codes, symbolBase | size);
        if (size > 0) {
            this.#writer.write(value > 0 ? value : value + (1 << size) - 1, size);
        }
    }

    #writeSymbol(codes: Int32Array, symbol: number): void {
        const entry = codes[symbol] ?? 0;
        this.#writer.write(entry & 0xffff, entry >>> 16);
    }
}

interface PaddedPlanes {
    readonly stride: number;
    readonly chromaStride: number;
    readonly y: Uint8Array;
    readonly cb: Uint8Array;
    readonly cr: Uint8Array;
}

function padPlanes(image: YCbCrImage, mcusX: number, mcusY: number): PaddedPlanes {
    const stride = mcusX * MCU_WIDTH;
    const chromaStride = mcusX * 8;
    const rows = mcusY * MCU_HEIGHT;
    const sourceChroma = Math.ceil(image.width / 2);
    const y = new Uint8Array(stride * rows);
    const cb = new Uint8Array(chromaStride * rows);
    const cr = new Uint8Array(chromaStride * rows);
    for (let row = 0; row < rows; row += 1) {
        const sourceRow = Math.min(row, image.height - 1);
        for (let x = 0; x < stride; x += 1) {
            y[row * stride + x] = image.y[sourceRow * image.width + Math.min(x, image.width - 1)] ?? 0;
        }
        for (let x = 0; x < chromaStride; x += 1) {
            const source = sourceRow * sourceChroma + Math.min(x, sourceChroma - 1);
            cb[row * chromaStride + x] = image.cb[source] ?? 128;
            cr[row * chromaStride + x] = image.cr[source] ?? 128;
        }
    }
    return {stride, chromaStride, y, cb, cr};
}

// ---- marker segments ------------------------------------------------------------------------------

function segment(marker: number, payload: readonly number[] | Uint8Array): Buffer {
    if (payload.length > MAX_SEGMENT_PAYLOAD) {
        throw new RangeError(`JPEG segment payload too long: ${payload.length}`);
    }
    const out = Buffer.allocUnsafe(4 + payload.length);
    out[0] = 0xff;
    out[1] = marker;
    out.writeUInt16BE(payload.length + 2, 2);
    out.set(payload, 4);
    return out;
}

function headerAfterComment(coder: McuCoder, width: number, height: number, restartInterval: number): Buffer {
    const dqt = [0, ...ZIGZAG.map((n) => coder.lumaQuant[n] ?? 1), 1, ...ZIGZAG.map((n) => coder.chromaQuant[n] ?? 1)];
    const sof = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 3, 1, 0x21, 0, 2, 0x11, 1, 3, 0x11, 1];
    const dht: number[] = [];
    for (const [tableClassId, spec] of [
        [0x00, DC_LUMA],
        [0x10, AC_LUMA],
        [0x01, DC_CHROMA],
        [0x11, AC_CHROMA],
    ] as const) {
        dht.push(tableClassId, ...spec.bits, ...spec.values);
    }
    const parts = [segment(DQT, dqt), segment(SOF0, sof), segment(DHT, dht)];
    if (restartInterval > 0) {
        parts.push(segment(DRI, [restartInterval >> 8, restartInterval & 0xff]));
    }
    parts.push(segment(SOS, [3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]));
    return Buffer.concat(parts);
}

function startOfImage(): Buffer {
    // JFIF 1.01, aspect ratio 1:1, no thumbnail.
    const app0 = segment(APP0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
    return Buffer.concat([Buffer.from([0xff, SOI]), app0]);
}

/** One-shot baseline encode of `image` (no restart markers). Throws RangeError on bad sizes. */
export function encodeJpeg(image: YCbCrImage, options: {quality?: number; comment?: string} = {}): Buffer {
    checkSize(image.width, image.height);
    const coder = new McuCoder(image.width, image.height, options.quality ?? 75);
    const planes = padPlanes(image, coder.mcusX, coder.mcusY);
    const parts = [startOfImage()];
    if (options.comment !== undefined) {
        parts.push(segment(COM, Buffer.from(options.comment, "latin1")));
    }
    parts.push(headerAfterComment(coder, image.width, image.height, 0));
    parts.push(coder.encodeInterval(planes, 0, coder.mcusX * coder.mcusY, -1));
    parts.push(Buffer.from([0xff, EOI]));
    return Buffer.concat(parts);
}

function checkSize(width: number, height: number): void {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16) {
        throw new RangeError(`image size must be integers >= 16, got ${width}x${height}`);
    }
    if (width > 4096 || height > 4096) {
        throw new RangeError(`image size must be <= 4096, got ${width}x${height}`);
    }
}

// ---- the test card ------------------------------------------------------------------------------

/** Segments a..g as bits 0..6; 0-9 then A-F. */
const SEVEN_SEGMENT = [0x3f, 0x06, 0x5b, 0x4f, 0x66, 0x6d, 0x7d, 0x07, 0x7f, 0x6f, 0x77, 0x7c, 0x39, 0x5e, 0x79, 0x71];
const PANEL = {y: 24, cb: 128, cr: 128};
const LIT = {y: 235, cb: 100, cr: 150};

/** A rectangle in pixels, aligned to MCUs. */
interface Cell {
    readonly x: number;
    readonly y: number;
    readonly width: number;
    readonly height: number;
}

class Canvas {
    readonly planes: PaddedPlanes;

    constructor(planes: PaddedPlanes) {
        this.planes = planes;
    }

    fill(x: number, y: number, width: number, height: number, colour: {y: number; cb: number; cr: number}): void {
        const {stride, chromaStride} = this.planes;
        const rows = this.planes.y.length / stride;
        for (let row = Math.max(0, y); row < Math.min(rows, y + height); row += 1) {
            for (let column = Math.max(0, x); column < Math.min(stride, x + width); column += 1) {
                this.planes.y[row * stride + column] = colour.y;
                const chroma = row * chromaStride + (column >> 1);
                this.planes.cb[chroma] = colour.cb;
                this.planes.cr[chroma] = colour.cr;
            }
        }
    }

    glyph(cell: Cell, glyph: number): void {
        this.fill(cell.x, cell.y, cell.width, cell.height, PANEL);
        const mask = SEVEN_SEGMENT[glyph] ?? 0;
        const margin = Math.max(1, Math.floor(cell.width / 6));
        const thickness = Math.max(2, Math.floor(cell.width / 7));
        const left = cell.x + margin;
        const right = cell.x + cell.width - margin - thickness;
        const top = cell.y + margin;
        const bottom = cell.y + cell.height - margin - thickness;
        const middle = Math.floor((top + bottom) / 2);
        const horizontal = right - left + thickness;
        const upper = middle - top + thickness;
        const lower = bottom - middle + thickness;
        const segments: readonly [number, number, number, number][] = [
            [left, top, horizontal, thickness], // a
            [right, top, thickness, upper], // b
            [right, middle, thickness, lower], // c
            [left, bottom, horizontal, thickness], // d
            [left, middle, thickness, lower], // e
            [left, top, thickness, upper], // f
            [left, middle, horizontal, thickness], // g
        ];
        segments.forEach(([x, y, width, height], bit) => {
            if ((mask >> bit) & 1) {
                this.fill(x, y, width, height, LIT);
            }
        });
    }
}

/** Deterministic texture: colour gradients, bars and seeded noise (sets the frame size). */
function drawBackground(canvas: Canvas, width: number, height: number, seed: number, noise: number): void {
    const {stride, chromaStride, y, cb, cr} = canvas.planes;
    const rows = y.length / stride;
    let state = seed >>> 0 || 1;
    const random = (): number => {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        return state / 0x1_0000_0000;
    };
    for (let row = 0; row < rows; row += 1) {
        for (let column = 0; column < stride; column += 1) {
            const bar = Math.floor((column * 8) / Math.max(1, width));
            const base = 60 + Math.floor((row * 120) / Math.max(1, height)) + ((bar * 13) % 40);
            const grain = (random() - 0.5) * noise;
            y[row * stride + column] = clampByte(base + grain);
        }
        for (let column = 0; column < chromaStride; column += 1) {
            const bar = Math.floor((column * 16) / Math.max(1, width));
            cb[row * chromaStride + column] = clampByte(128 + 50 * Math.sin(bar + row / 97) + (random() - 0.5) * noise);
            cr[row * chromaStride + column] = clampByte(128 + 50 * Math.cos(bar * 1.7 + row / 61));
        }
    }
}

function clampByte(value: number): number {
    return Math.min(255, Math.max(0, Math.round(value)));
}

export interface SyntheticJpegOptions {
    /** Default 640 (the camera's only mode, §9.2). */
    readonly width?: number;
    /** Default 480. */
    readonly height?: number;
    /** IJG quality 1..100, default 75. Ignored when `targetBytes` is set. */
    readonly quality?: number;
    /**
     * Wanted frame size. The highest quality whose frames fit is chosen, then the COM segment is
     * padded so each frame is exactly this long (when the frame fits at quality 1).
     */
    readonly targetBytes?: number;
    /** Texture seed, default 1. */
    readonly seed?: number;
}

/** Renders frames for any camera id; shared by every camera with the same options. */
export interface SyntheticJpegSource {
    readonly width: number;
    readonly height: number;
    readonly quality: number;
    /** A fresh buffer (owned by the caller) with `counter` (mod 10^10) drawn and in the COM segment. Deterministic. */
    render(cameraId: string, counter: number): Buffer;
}

interface Slot {
    readonly cell: Cell;
    /** Encoded intervals per glyph (filled on first use), one Buffer per MCU row of the cell. */
    readonly glyphRows: (Buffer[] | undefined)[];
}

/** A frame body piece: static bytes or the `row`-th interval row of counter slot `slot`. */
type Piece = Buffer | {readonly slot: number; readonly row: number};

interface CameraLayout {
    readonly head: Buffer;
    /** Offset of the 10 counter digits inside `head`; the COM length is at `commentOffset`. */
    readonly counterOffset: number;
    readonly commentOffset: number;
    readonly pieces: readonly Piece[];
    readonly staticBytes: number;
}

class CompositeJpegSource implements SyntheticJpegSource {
    readonly width: number;
    readonly height: number;
    readonly quality: number;
    readonly #targetBytes: number | undefined;
    readonly #coder: McuCoder;
    readonly #planes: PaddedPlanes;
    readonly #restartInterval: number;
    readonly #intervals: Buffer[];
    readonly #counterSlots: Slot[];
    readonly #idCells: Cell[];
    readonly #idRows: {readonly first: number; readonly count: number};
    /** The background of the id band (rows from 0), to restore after drawing a camera's id. */
    readonly #idBand: {readonly y: Uint8Array; readonly cb: Uint8Array; readonly cr: Uint8Array};
    readonly #tail: Buffer;
    readonly #layouts = new Map<string, CameraLayout>();

    constructor(width: number, height: number, quality: number, targetBytes: number | undefined, seed: number) {
        this.width = width;
        this.height = height;
        this.quality = quality;
        this.#targetBytes = targetBytes;
        this.#coder = new McuCoder(width, height, quality);
        const {mcusX, mcusY} = this.#coder;
        const stride = mcusX * MCU_WIDTH;
        const rows = mcusY * MCU_HEIGHT;
        this.#planes = {
            stride,
            chromaStride: stride / 2,
            y: new Uint8Array(stride * rows),
            cb: new Uint8Array((stride / 2) * rows),
            cr: new Uint8Array((stride / 2) * rows),
        };
        const canvas = new Canvas(this.#planes);
        drawBackground(canvas, width, height, seed, 5);

        // Restart interval R: a divisor of the MCU columns; counter cells are R MCUs wide and aligned.
        let interval = Math.max(1, Math.floor(mcusX / 8));
        while (mcusX % interval !== 0) {
            interval -= 1;
        }
        this.#restartInterval = interval;
        const cellsPerRow = mcusX / interval;
        const digitCount = Math.max(1, Math.min(MAX_DISPLAY_DIGITS, cellsPerRow - (cellsPerRow > 2 ? 2 : 0)));
        const cellWidth = interval * MCU_WIDTH;
        const cellMcuRows = Math.max(2, Math.min(mcusY - 1, Math.round((cellWidth * 2) / MCU_HEIGHT)));
        const firstColumn = Math.floor((cellsPerRow - digitCount) / 2) * interval;
        const idMcuRows = Math.min(4, Math.max(2, mcusY - cellMcuRows - 1));
        const firstRow = Math.min(mcusY - cellMcuRows, Math.max(idMcuRows + 1, Math.floor((mcusY - cellMcuRows) / 2)));

        // The id: 12 small hex glyphs in the top band, re-encoded per camera (static for its frames).
        const idCellWidth = MCU_WIDTH;
        this.#idCells = [];
        for (let index = 0; index < 12 && (index + 1) * idCellWidth <= width; index += 1) {
            this.#idCells.push({x: index * idCellWidth, y: 0, width: idCellWidth, height: idMcuRows * MCU_HEIGHT});
        }
        this.#idRows = {first: 0, count: idMcuRows};
        const bandRows = idMcuRows * MCU_HEIGHT;
        this.#idBand = {
            y: this.#planes.y.slice(0, bandRows * stride),
            cb: this.#planes.cb.slice(0, (bandRows * stride) / 2),
            cr: this.#planes.cr.slice(0, (bandRows * stride) / 2),
        };

        const counterCells: Cell[] = [];
        for (let digit = 0; digit < digitCount; digit += 1) {
            counterCells.push({
                x: (firstColumn + digit * interval) * MCU_WIDTH,
                y: firstRow * MCU_HEIGHT,
                width: cellWidth,
                height: cellMcuRows * MCU_HEIGHT,
            });
        }
        // The background under the counter is the blank panel.
        for (const cell of counterCells) {
            canvas.fill(cell.x, cell.y, cell.width, cell.height, PANEL);
        }
        const totalIntervals = (mcusX * mcusY) / interval;
        this.#intervals = [];
        for (let index = 0; index < totalIntervals; index += 1) {
            this.#intervals.push(this.#encodeInterval(index));
        }
        this.#counterSlots = counterCells.map((cell) => ({cell, glyphRows: new Array(10).fill(undefined)}));
        this.#tail = Buffer.from([0xff, EOI]);
    }

    render(cameraId: string, counter: number): Buffer {
        const layout = this.#layout(cameraId);
        const value = ((Math.floor(counter) % COUNTER_MODULUS) + COUNTER_MODULUS) % COUNTER_MODULUS;
        const digits = String(value).padStart(COUNTER_COM_DIGITS, "0");
        const slotGlyphs = this.#counterSlots.map((_, index) =>
            Number(digits[COUNTER_COM_DIGITS - this.#counterSlots.length + index] ?? "0"),
        );
        let bodyBytes = layout.staticBytes;
        for (const piece of layout.pieces) {
            if (!Buffer.isBuffer(piece)) {
                bodyBytes += this.#slotPiece(piece, slotGlyphs).length;
            }
        }
        const natural = layout.head.length + bodyBytes + this.#tail.length;
        const padding = this.#targetBytes === undefined ? 0 : Math.max(0, this.#targetBytes - natural);
        // Padding: first grow the counter COM (up to its maximum), then whole extra COM segments.
        const commentPayload = layout.head.readUInt16BE(layout.commentOffset) - 2;
        const inComment = Math.min(padding, MAX_SEGMENT_PAYLOAD - commentPayload);
        let rest = padding - inComment;
        const extraSegments: number[] = [];
        while (rest > 0) {
            const size = Math.min(rest, MAX_SEGMENT_PAYLOAD + 4);
            // A lone remainder below 4 bytes cannot form a segment: shift bytes from the previous one.
            const take = rest - size > 0 && rest - size < 4 ? size - 4 : size;
            extraSegments.push(Math.max(4, take));
            rest -= Math.max(4, take);
        }
        const total = natural + inComment + extraSegments.reduce((sum, size) => sum + size, 0);
        const out = Buffer.allocUnsafe(total);
        const commentEnd = layout.counterOffset + COUNTER_COM_DIGITS;
        layout.head.copy(out, 0, 0, commentEnd);
        out.write(digits, layout.counterOffset, "latin1");
        out.writeUInt16BE(commentPayload + 2 + inComment, layout.commentOffset);
        let offset = commentEnd;
        out.fill(0x20, offset, offset + inComment);
        offset += inComment;
        for (const size of extraSegments) {
            out[offset] = 0xff;
            out[offset + 1] = COM;
            out.writeUInt16BE(size - 2, offset + 2);
            out.fill(0x20, offset + 4, offset + size);
            offset += size;
        }
        offset += layout.head.copy(out, offset, commentEnd);
        for (const piece of layout.pieces) {
            offset += (Buffer.isBuffer(piece) ? piece : this.#slotPiece(piece, slotGlyphs)).copy(out, offset);
        }
        this.#tail.copy(out, offset);
        return out;
    }

    #slotPiece(piece: {readonly slot: number; readonly row: number}, glyphs: readonly number[]): Buffer {
        const slot = this.#counterSlots[piece.slot];
        if (slot === undefined) {
            return Buffer.alloc(0);
        }
        const glyph = glyphs[piece.slot] ?? 0;
        let rows = slot.glyphRows[glyph];
        if (rows === undefined) {
            rows = this.#encodeGlyph(slot.cell, glyph);
            slot.glyphRows[glyph] = rows;
        }
        return rows[piece.row] ?? Buffer.alloc(0);
    }

    /** Draws `glyph` into `cell`, encodes the cell's interval rows, and blanks the cell again. */
    #encodeGlyph(cell: Cell, glyph: number): Buffer[] {
        const canvas = new Canvas(this.#planes);
        canvas.glyph(cell, glyph);
        const rows: Buffer[] = [];
        for (let row = 0; row < cell.height / MCU_HEIGHT; row += 1) {
            const mcuRow = cell.y / MCU_HEIGHT + row;
            rows.push(this.#encodeInterval((mcuRow * this.#coder.mcusX + cell.x / MCU_WIDTH) / this.#restartInterval));
        }
        canvas.fill(cell.x, cell.y, cell.width, cell.height, PANEL);
        return rows;
    }

    #encodeInterval(index: number): Buffer {
        const total = (this.#coder.mcusX * this.#coder.mcusY) / this.#restartInterval;
        const restartIndex = index === total - 1 ? -1 : index;
        return this.#coder.encodeInterval(
            this.#planes,
            index * this.#restartInterval,
            this.#restartInterval,
            restartIndex,
        );
    }

    #layout(cameraId: string): CameraLayout {
        const cached = this.#layouts.get(cameraId);
        if (cached !== undefined) {
            return cached;
        }
        if (this.#layouts.size >= 4096) {
            this.#layouts.clear();
        }
        const layout = this.#buildLayout(cameraId);
        this.#layouts.set(cameraId, layout);
        return layout;
    }

    #buildLayout(cameraId: string): CameraLayout {
        const safeId = cameraId.replace(/[^\x21-\x7e]/g, "_").slice(0, 64);
        const commentText = `${COMMENT_PREFIX} cam=${safeId} frame=`;
        const comment = segment(COM, Buffer.from(`${commentText}${"0".repeat(COUNTER_COM_DIGITS)}`, "latin1"));
        const soi = startOfImage();
        const head = Buffer.concat([
            soi,
            comment,
            headerAfterComment(this.#coder, this.width, this.height, this.#restartInterval),
        ]);
        const commentOffset = soi.length + 2;
        const counterOffset = soi.length + 4 + commentText.length;

        // Per-camera id band: draw the id's hex digits, encode those rows, restore the background.
        const canvas = new Canvas(this.#planes);
        const {mcusX} = this.#coder;
        const perRow = mcusX / this.#restartInterval;
        const idIntervals = new Map<number, Buffer>();
        const hex = safeId.toUpperCase();
        this.#idCells.forEach((cell, index) => {
            const glyph = Number.parseInt(hex[index] ?? "", 16);
            if (Number.isInteger(glyph)) {
                canvas.glyph(cell, glyph);
            }
        });
        for (let row = this.#idRows.first; row < this.#idRows.first + this.#idRows.count; row += 1) {
            for (let column = 0; column < perRow; column += 1) {
                const index = row * perRow + column;
                const touched = this.#idCells.some(
                    (cell) =>
                        cell.x < (column + 1) * this.#restartInterval * MCU_WIDTH &&
                        cell.x + cell.width > column * this.#restartInterval * MCU_WIDTH,
                );
                if (touched) {
                    idIntervals.set(index, this.#encodeInterval(index));
                }
            }
        }
        this.#planes.y.set(this.#idBand.y);
        this.#planes.cb.set(this.#idBand.cb);
        this.#planes.cr.set(this.#idBand.cr);

        const slotByInterval = new Map<number, {slot: number; row: number}>();
        this.#counterSlots.forEach(({cell}, slot) => {
            for (let row = 0; row < cell.height / MCU_HEIGHT; row += 1) {
                const mcuRow = cell.y / MCU_HEIGHT + row;
                slotByInterval.set((mcuRow * mcusX + cell.x / MCU_WIDTH) / this.#restartInterval, {slot, row});
            }
        });
        const pieces: Piece[] = [];
        let run: Buffer[] = [];
        let staticBytes = 0;
        const flush = (): void => {
            if (run.length > 0) {
                const joined = Buffer.concat(run);
                pieces.push(joined);
                staticBytes += joined.length;
                run = [];
            }
        };
        this.#intervals.forEach((bytes, index) => {
            const dynamic = slotByInterval.get(index);
            if (dynamic === undefined) {
                run.push(idIntervals.get(index) ?? bytes);
            } else {
                flush();
                pieces.push(dynamic);
            }
        });
        flush();
        return {head, counterOffset, commentOffset, pieces, staticBytes};
    }
}

const sources = new Map<string, SyntheticJpegSource>();
const SIZE_PROBE_ID = "888888888888";
const SIZE_PROBE_COUNTER = 8_888_888_888;

/**
 * A frame source for `options`, memoised (every camera with the same options shares it). Building
 * one costs a few full-frame encodes (tens of ms; a few hundred with `targetBytes`). Throws
 * RangeError on bad sizes or quality.
 */
export function createSyntheticJpegSource(options: SyntheticJpegOptions = {}): SyntheticJpegSource {
    const width = options.width ?? 640;
    const height = options.height ?? 480;
    const seed = options.seed ?? 1;
    checkSize(width, height);
    const key = JSON.stringify([width, height, options.quality ?? 75, options.targetBytes ?? null, seed]);
    const cached = sources.get(key);
    if (cached !== undefined) {
        return cached;
    }
    let source: SyntheticJpegSource;
    if (options.targetBytes === undefined) {
        const quality = options.quality ?? 75;
        if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
            throw new RangeError(`quality must be an integer 1..100, got ${quality}`);
        }
        source = new CompositeJpegSource(width, height, quality, undefined, seed);
    } else {
        const target = options.targetBytes;
        if (!Number.isInteger(target) || target < 1) {
            throw new RangeError(`targetBytes must be a positive integer, got ${target}`);
        }
        // Highest quality whose largest frame (all glyphs "8") still fits.
        let low = 1;
        let high = 100;
        while (low < high) {
            const middle = Math.ceil((low + high) / 2);
            const probe = new CompositeJpegSource(width, height, middle, undefined, seed);
            if (probe.render(SIZE_PROBE_ID, SIZE_PROBE_COUNTER).length <= target) {
                low = middle;
            } else {
                high = middle - 1;
            }
        }
        source = new CompositeJpegSource(width, height, low, target, seed);
    }
    if (sources.size >= 64) {
        sources.clear();
    }
    sources.set(key, source);
    return source;
}

/** The "v720sim cam=<id> frame=<n>" text fits in this many bytes at the start of the COM segment. */
const COM_INFO_MAX_BYTES = 160;

export interface SimFrameInfo {
    readonly cameraId: string;
    readonly counter: number;
}

/**
 * The camera id and frame counter from a simulator frame's COM segment (`v720sim cam=<id>
 * frame=<n>`), or undefined when `jpeg` is not a simulator frame. Scans the marker segments up to SOS.
 */
export function readSimFrameInfo(jpeg: Uint8Array): SimFrameInfo | undefined {
    if (jpeg.length < 4 || jpeg[0] !== 0xff || jpeg[1] !== SOI) {
        return undefined;
    }
    const bytes = Buffer.isBuffer(jpeg) ? jpeg : Buffer.from(jpeg.buffer, jpeg.byteOffset, jpeg.length);
    let offset = 2;
    while (offset + 4 <= bytes.length && bytes[offset] === 0xff) {
        const marker = bytes[offset + 1];
        if (marker === SOS || marker === EOI) {
            return undefined;
        }
        const length = bytes.readUInt16BE(offset + 2);
        if (marker === COM) {
            // the COM segment is padded to the target frame size: read only the start of it
            const textEnd = Math.min(bytes.length, offset + 2 + length, offset + 4 + COM_INFO_MAX_BYTES);
            const text = bytes.toString("latin1", offset + 4, textEnd);
            const match = /^v720sim cam=(\S*) frame=(\d+)/.exec(text);
            if (match !== null) {
                return {cameraId: match[1] ?? "", counter: Number(match[2])};
            }
        }
        offset += 2 + length;
    }
    return undefined;
}

/** The frame counter of a simulator frame, or undefined. */
export function readSimFrameCounter(jpeg: Uint8Array): number | undefined {
    return readSimFrameInfo(jpeg)?.counter;
}

function range(count: number): number[] {
    return Array.from({length: count}, (_, index) => index);
}

function hexBytes(hex: string): number[] {
    return Array.from(Buffer.from(hex, "hex"));
}
