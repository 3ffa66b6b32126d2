/**
 * The web UI stylesheet: light and dark, no external fonts or images (works offline).
 * Kept as a TypeScript string module so `tsc` ships it in dist/ with the rest (no copy step). No backticks or
 * "${" inside: the text is a template literal.
 */
export const STYLE_CSS = `:root {
    --bg: #f4f5f7;
    --card: #fff;
    --text: #1d2127;
    --muted: #667085;
    --line: #d9dde3;
    --accent: #1a73e8;
    --ok: #1e8e3e;
    --bad: #c5221f;
    font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
    font-size: 15px;
    color: var(--text);
    background: var(--bg);
}
@media (prefers-color-scheme: dark) {
    :root {
        --bg: #121417;
        --card: #1c1f24;
        --text: #e6e8eb;
        --muted: #9aa3ad;
        --line: #2e333a;
        --accent: #8ab4f8;
        --ok: #81c995;
        --bad: #f28b82;
    }
}
* { box-sizing: border-box; }
body { margin: 0; }
a { color: var(--accent); }
.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: 0.4rem 1rem; padding: 0.8rem 1rem; border-bottom: 1px solid var(--line); background: var(--card); }
.top h1 { font-size: 1.2rem; margin: 0; }
main { padding: 1rem; }
footer { padding: 1rem; font-size: 0.85rem; }
.muted { color: var(--muted); }
.error { color: var(--bad); }
#cameras { display: grid; gap: 1rem; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); }
.camera { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 0.8rem; min-width: 0; }
.camera > header { display: flex; align-items: center; justify-content: space-between; gap: 0.5rem; }
.camera h2 { font-size: 1rem; margin: 0; overflow-wrap: anywhere; }
.camera h3 { font-size: 0.9rem; margin: 0.8rem 0 0.3rem; }
.badge { font-size: 0.75rem; padding: 0.1rem 0.5rem; border-radius: 999px; border: 1px solid currentColor; white-space: nowrap; }
.badge.online { color: var(--ok); }
.badge.offline { color: var(--bad); }
.tile { position: relative; margin: 0.6rem 0; aspect-ratio: 4 / 3; background: #000; border-radius: 6px; overflow: hidden; }
.tile img { display: block; width: 100%; height: 100%; object-fit: contain; }
.tile img:not([src]) { visibility: hidden; }
.overlay { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center; color: #fff; background: rgba(0, 0, 0, 0.55); text-align: center; padding: 1rem; }
.overlay[hidden] { display: none; }
.tile-actions { display: flex; gap: 0.8rem; align-items: center; }
.note { font-size: 0.8rem; margin: 0.3rem 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 0.8rem; margin: 0.6rem 0; font-size: 0.9rem; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; overflow-wrap: anywhere; }
.controls { display: flex; flex-wrap: wrap; gap: 0.4rem; margin: 0.6rem 0; }
button, select, input { font: inherit; color: inherit; }
button { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 0.3rem 0.6rem; cursor: pointer; }
button:hover { border-color: var(--accent); }
button[aria-busy="true"] { opacity: 0.6; }
.switch { display: inline-flex; gap: 0.4rem; }
.switch .value { font-weight: 600; color: var(--muted); }
.switch[aria-checked="true"] { border-color: var(--ok); }
.switch[aria-checked="true"] .value { color: var(--ok); }
.field { display: inline-flex; gap: 0.4rem; align-items: center; border: 1px solid var(--line); border-radius: 6px; padding: 0.15rem 0.4rem; }
.field input { width: 4rem; }
select, input { background: var(--card); border: 1px solid var(--line); border-radius: 4px; padding: 0.15rem 0.3rem; }
.message { min-height: 1.2em; margin: 0.2rem 0; font-size: 0.85rem; color: var(--muted); }
.message.error { color: var(--bad); }
details { margin: 0.4rem 0; }
summary { cursor: pointer; }
.scan { margin: 0.3rem 0; padding-left: 1.2rem; }
.ssid { white-space: pre-wrap; overflow-wrap: anywhere; }
.url { display: grid; grid-template-columns: 6.5rem 1fr auto; gap: 0.4rem; align-items: center; margin: 0.3rem 0; }
.url input { width: 100%; font-family: ui-monospace, monospace; font-size: 0.8rem; }
pre.ha { white-space: pre-wrap; overflow-wrap: anywhere; font-size: 0.8rem; background: var(--bg); padding: 0.5rem; border-radius: 6px; }
.is-offline .tile img { opacity: 0.4; }
.empty { max-width: 48rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { text-align: left; padding: 0.25rem 0.5rem; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
`;
