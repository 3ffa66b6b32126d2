/**
 * The web UI page (issue 5 item 2): a shell; ui/appScript.ts fills it from the JSON API.
 * Kept as a TypeScript string module so `tsc` ships it in dist/ with the rest (no copy step). No backticks or
 * "${" inside: the text is a template literal.
 */
export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>v720-bridge</title>
<link rel="stylesheet" href="/ui/style.css">
<script src="/ui/app.js" defer></script>
</head>
<body>
<header class="top">
<h1>v720-bridge</h1>
<span id="summary" class="muted">loading…</span>
<span id="status" role="status"></span>
</header>
<main>
<section id="cameras" aria-label="Cameras"></section>
<section id="empty" class="empty" hidden>
<h2>No camera yet</h2>
<p>A camera appears here once it has fetched its server from this bridge (HTTP on port 80) and registered on port 6123.
Power-cycle the camera, and run <code>v720-bridge doctor</code> on this machine: it checks the ports, the DNS names
<code>v720.naxclow.com</code> and <code>v720.p2p.naxclow.com</code>, ffmpeg and the MQTT broker, and says what to fix.</p>
</section>
<section id="diagnostics" hidden>
<h2>Unknown camera requests</h2>
<p class="muted">Requests from cameras the bridge does not know (newer firmware). Include them when you report a camera that does not work.</p>
<div class="scroll">
<table>
<thead><tr><th>Time</th><th>Method</th><th>Host</th><th>Path</th><th>Firmware</th><th>Camera</th><th>From</th></tr></thead>
<tbody id="unknown"></tbody>
</table>
</div>
</section>
</main>
<footer class="muted">
<a href="/api/cameras">/api/cameras</a> · <a href="/api/states">/api/states</a> · <a href="/metrics">/metrics</a> · <a href="/readyz">/readyz</a>
</footer>
</body>
</html>
`;
