/**
 * The web UI script, run by the browser (ES2017, no modules, no framework). It polls `GET /api/cameras`,
 * `GET /api/states` and `GET /api/diagnostics`, keeps one card per camera (the MJPEG <img> is never
 * recreated while it plays) and sends the Home Assistant entity commands to `POST /api/cameras/:id/commands`.
 * Camera-sent text is untrusted: it reaches the DOM only through textContent, input.value and
 * setAttribute of plain attributes — never innerHTML (tests/unit/http/uiRoutes.test.ts checks).
 * Kept as a TypeScript string module so `tsc` ships it in dist/ with the rest (no copy step). No backticks or
 * "${" inside: the text is a String.raw template.
 */
export const APP_JS = String.raw`"use strict";
// v720-bridge web UI. No framework, no CDN. Everything a camera sends (ids, Wi-Fi names, scan
// results, firmware strings) is untrusted: it only ever reaches the page through textContent,
// input.value or setAttribute on non-script attributes. There is no HTML parsing of data here.
(function () {
    var POLL_MS = 2000;
    var DIAGNOSTICS_MS = 10000;
    // A browser opens at most 6 HTTP/1.1 connections per host and every MJPEG tile holds one: beyond
    // MAX_LIVE tiles, the rest show a still image refreshed every SNAPSHOT_MS so the API polls keep working.
    var MAX_LIVE = 4;
    var SNAPSHOT_MS = 10000;
    var cards = new Map();
    var paused = loadPaused();
    var hasDiagnostics = true;
    var lastDiagnosticsAt = 0;
    var busy = false;

    function el(tag, attributes, children) {
        var node = document.createElement(tag);
        var names = attributes ? Object.keys(attributes) : [];
        for (var i = 0; i < names.length; i++) {
            var name = names[i];
            var value = attributes[name];
            if (value === undefined || value === null) {
                continue;
            }
            if (name === "text") {
                node.textContent = String(value);
            } else if (name === "className") {
                node.className = String(value);
            } else {
                node.setAttribute(name, String(value));
            }
        }
        (children || []).forEach(function (child) {
            node.append(child);
        });
        return node;
    }

    function setText(node, text) {
        var value = text === undefined || text === null ? "" : String(text);
        if (node.textContent !== value) {
            node.textContent = value;
        }
    }

    function cameraPath(id) {
        return "/api/cameras/" + encodeURIComponent(id);
    }

    function getJson(path) {
        return fetch(path, {headers: {accept: "application/json"}, cache: "no-store"}).then(function (response) {
            if (!response.ok) {
                var error = new Error(path + ": HTTP " + response.status);
                error.status = response.status;
                throw error;
            }
            return response.json();
        });
    }

    function loadPaused() {
        try {
            return new Set(JSON.parse(localStorage.getItem("v720.paused") || "[]"));
        } catch (error) {
            return new Set();
        }
    }

    function savePaused() {
        try {
            localStorage.setItem("v720.paused", JSON.stringify(Array.from(paused)));
        } catch (error) {
            // private mode: the choice lasts until reload
        }
    }

    function safeUrl(url) {
        return typeof url === "string" && /^(https?|rtsp):\/\//i.test(url) ? url : null;
    }

    function ago(iso) {
        if (!iso) {
            return "never";
        }
        var seconds = Math.round((Date.now() - Date.parse(iso)) / 1000);
        if (!isFinite(seconds)) {
            return "?";
        }
        if (seconds < 5) {
            return "just now";
        }
        if (seconds < 120) {
            return seconds + " s ago";
        }
        if (seconds < 7200) {
            return Math.round(seconds / 60) + " min ago";
        }
        return new Date(iso).toLocaleString();
    }

    function copyText(input, button) {
        var done = function () {
            var previous = button.textContent;
            button.textContent = "Copied";
            setTimeout(function () {
                button.textContent = previous;
            }, 1200);
        };
        if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(input.value).then(done, function () {
                input.select();
            });
            return;
        }
        // Plain http on the LAN is not a secure context: fall back to the selection.
        input.focus();
        input.select();
        try {
            if (document.execCommand("copy")) {
                done();
            }
        } catch (error) {
            // the text stays selected for Ctrl+C
        }
    }

    // ---- one camera card --------------------------------------------------------------------

    function createCard(id) {
        var card = {id: id, controlsKey: "", urlsKey: "", scanKey: ""};
        card.name = el("h2", {className: "name"});
        card.badge = el("span", {className: "badge"});
        card.img = el("img", {className: "live", alt: "Live view of camera " + id, decoding: "async"});
        card.overlay = el("div", {className: "overlay"});
        card.tile = el("div", {className: "tile"}, [card.img, card.overlay]);
        card.note = el("p", {className: "note muted", hidden: ""});
        card.liveButton = el("button", {type: "button", className: "live-toggle"});
        card.liveButton.addEventListener("click", function () {
            if (paused.has(id)) {
                paused.delete(id);
            } else {
                paused.add(id);
            }
            savePaused();
            assignLiveSlots();
        });
        card.snapshot = el("a", {href: cameraPath(id) + "/snapshot.jpg", target: "_blank", rel: "noopener", text: "Snapshot"});
        card.facts = {};
        var factList = el("dl", {className: "facts"});
        [
            ["firmware", "Firmware"],
            ["battery", "Battery"],
            ["sd", "SD card"],
            ["wifi", "Wi-Fi"],
            ["fps", "FPS"],
            ["stream", "Stream"],
            ["seen", "Last seen"],
            ["model", "Model"],
        ].forEach(function (pair) {
            var value = el("dd", {"data-fact": pair[0]});
            card.facts[pair[0]] = value;
            factList.append(el("dt", {text: pair[1]}), value);
        });
        card.controls = el("div", {className: "controls"});
        card.message = el("p", {className: "message", role: "status"});
        card.scanCount = el("span");
        card.scanList = el("ul", {className: "scan"});
        card.scan = el("details", {className: "wifi-scan", hidden: ""}, [
            el("summary", {}, ["Wi-Fi networks found: ", card.scanCount]),
            card.scanList,
        ]);
        card.urlRows = el("div", {className: "urls"});
        card.haText = el("pre", {className: "ha"});
        card.details = el("details", {className: "integration"}, [
            el("summary", {text: "Stream URLs and Home Assistant"}),
            card.urlRows,
            el("h3", {text: "Add the live view to Home Assistant"}),
            card.haText,
        ]);
        card.root = el("article", {className: "camera", "data-camera": id}, [
            el("header", {}, [card.name, card.badge]),
            card.tile,
            el("div", {className: "tile-actions"}, [card.liveButton, card.snapshot]),
            card.note,
            factList,
            card.controls,
            card.message,
            card.scan,
            card.details,
        ]);
        return card;
    }

    function updateCard(card, camera, state) {
        var id = card.id;
        var name = (state && state.name) || id;
        setText(card.name, name === id ? id : name + " (" + id + ")");
        var online = Boolean((camera && camera.online) || (state && state.online));
        card.online = online;
        card.hasVideo = Boolean(camera);
        setText(card.badge, online ? "online" : "offline");
        card.badge.className = "badge " + (online ? "online" : "offline");
        card.root.classList.toggle("is-offline", !online);

        var firmware = (camera && camera.firmware) || (state && state.firmware);
        setText(card.facts.firmware, firmware || "unknown");
        setText(card.facts.battery, state && state.batteryPercent !== null ? state.batteryPercent + " %" : "unknown");
        setText(card.facts.sd, describeSd(state));
        setText(card.facts.wifi, state && state.wifiName !== null ? state.wifiName : "unknown");
        setText(card.facts.fps, camera ? Number(camera.fps || 0).toFixed(1) : "-");
        setText(card.facts.stream, camera ? camera.streamState : "no TCP session");
        setText(card.facts.seen, ago((camera && camera.lastSeenAt) || (state && state.lastSeenAt)));
        setText(card.facts.model, (camera && camera.model) || "unknown");

        updateControls(card, state);
        updateScan(card, state);
        updateUrls(card, camera, name);
    }

    function describeSd(state) {
        if (!state) {
            return "unknown";
        }
        if (state.sdTotalMb !== null && state.sdFreeMb !== null) {
            return state.sdFreeMb + " MB free of " + state.sdTotalMb + " MB";
        }
        if (state.sdState !== null) {
            return "state " + state.sdState;
        }
        return "unknown";
    }

    /** Gives the first MAX_LIVE watchable tiles a live stream and the others a periodic still image. */
    function assignLiveSlots() {
        var live = 0;
        Array.from(cards.keys())
            .sort()
            .forEach(function (id) {
                var card = cards.get(id);
                var wanted = card.online && card.hasVideo && !paused.has(id) && document.visibilityState !== "hidden";
                if (!wanted) {
                    card.mode = "off";
                } else if (live < MAX_LIVE) {
                    card.mode = "live";
                    live += 1;
                } else {
                    card.mode = "still";
                }
                updateTile(card);
            });
    }

    function updateTile(card) {
        var isPaused = paused.has(card.id);
        setText(card.liveButton, isPaused ? "Play" : "Pause");
        card.liveButton.setAttribute("aria-pressed", isPaused ? "false" : "true");
        var base = cameraPath(card.id);
        if (card.mode === "live") {
            if (card.img.getAttribute("src") !== base + "/stream.mjpeg") {
                card.img.setAttribute("src", base + "/stream.mjpeg");
            }
        } else if (card.mode === "still") {
            if (!card.stillAt || Date.now() - card.stillAt >= SNAPSHOT_MS) {
                card.stillAt = Date.now();
                card.img.setAttribute("src", base + "/snapshot.jpg?t=" + card.stillAt);
            }
        } else if (card.img.hasAttribute("src")) {
            card.img.removeAttribute("src");
        }
        if (card.mode !== "still") {
            card.stillAt = 0;
        }
        card.note.hidden = card.mode !== "still";
        setText(card.note, "Still image every " + SNAPSHOT_MS / 1000 + " s: at most " + MAX_LIVE + " live views at once. Pause another camera to watch this one live.");
        var overlay = "";
        if (!card.hasVideo) {
            overlay = "No video: the camera has no TCP session";
        } else if (!card.online) {
            overlay = "Offline";
        } else if (isPaused) {
            overlay = "Paused";
        }
        setText(card.overlay, overlay);
        card.overlay.hidden = overlay === "";
        card.snapshot.hidden = !card.hasVideo;
    }

    function updateControls(card, state) {
        var controls = state ? state.controls || [] : [];
        var key = controls
            .map(function (control) {
                return control.entity + ":" + control.kind;
            })
            .join(",");
        if (key !== card.controlsKey || card.controls.childElementCount === 0) {
            card.controlsKey = key;
            card.controls.replaceChildren();
            card.inputs = {};
            if (controls.length === 0) {
                card.controls.append(
                    el("p", {className: "muted", text: state ? "No controls for this camera yet." : "Controls need MQTT (mqtt.enabled)."}),
                );
            }
            controls.forEach(function (control) {
                card.controls.append(createControl(card, control));
            });
        }
        controls.forEach(function (control) {
            var input = card.inputs[control.entity];
            if (!input || input.dataset.pending === "1") {
                return;
            }
            if (control.kind === "switch") {
                var on = control.value === "ON";
                input.setAttribute("aria-checked", on ? "true" : "false");
                setText(input.querySelector(".value"), control.value === null ? "?" : on ? "On" : "Off");
            } else if ((control.kind === "select" || control.kind === "number") && document.activeElement !== input) {
                var text = control.value === null ? "" : String(control.value);
                if (input.value !== text) {
                    input.value = text;
                }
            }
        });
    }

    function createControl(card, control) {
        var entity = control.entity;
        if (control.kind === "switch") {
            var button = el("button", {type: "button", role: "switch", className: "switch", "data-entity": entity, "aria-checked": "false"}, [
                el("span", {className: "label", text: control.name}),
                el("span", {className: "value", text: "?"}),
            ]);
            button.addEventListener("click", function () {
                send(card, control, button.getAttribute("aria-checked") === "true" ? "OFF" : "ON", button);
            });
            card.inputs[entity] = button;
            return button;
        }
        if (control.kind === "select") {
            var select = el("select", {"data-entity": entity});
            select.append(el("option", {value: "", text: "unknown", disabled: ""}));
            (control.options || []).forEach(function (option) {
                select.append(el("option", {value: option, text: option}));
            });
            select.addEventListener("change", function () {
                send(card, control, select.value, select);
            });
            card.inputs[entity] = select;
            return el("label", {className: "field"}, [el("span", {text: control.name}), select]);
        }
        if (control.kind === "number") {
            var input = el("input", {type: "number", step: "1", min: control.min, max: control.max, "data-entity": entity});
            input.addEventListener("change", function () {
                if (input.value !== "") {
                    send(card, control, input.value, input);
                }
            });
            card.inputs[entity] = input;
            return el("label", {className: "field"}, [el("span", {text: control.name}), input]);
        }
        var press = el("button", {type: "button", className: "action", "data-entity": entity, text: control.name});
        press.addEventListener("click", function () {
            if ((entity === "reboot" || entity === "format_sd") && !window.confirm(control.name + " " + card.id + "?")) {
                return;
            }
            send(card, control, "PRESS", press);
        });
        card.inputs[entity] = press;
        return press;
    }

    function send(card, control, payload, input) {
        input.dataset.pending = "1";
        input.setAttribute("aria-busy", "true");
        setText(card.message, control.name + ": sending…");
        card.message.className = "message";
        fetch(cameraPath(card.id) + "/commands", {
            method: "POST",
            headers: {"content-type": "application/json", accept: "application/json"},
            body: JSON.stringify({entity: control.entity, payload: payload}),
        })
            .then(function (response) {
                return response.json().then(function (body) {
                    if (!response.ok) {
                        throw new Error(body && body.error ? body.error : "HTTP " + response.status);
                    }
                    setText(card.message, control.name + ": sent");
                });
            })
            .catch(function (error) {
                setText(card.message, control.name + ": " + error.message);
                card.message.className = "message error";
            })
            .then(function () {
                delete input.dataset.pending;
                input.removeAttribute("aria-busy");
                poll();
            });
    }

    function updateScan(card, state) {
        var networks = state && Array.isArray(state.wifiScan) ? state.wifiScan : null;
        card.scan.hidden = networks === null;
        if (networks === null) {
            return;
        }
        var key = JSON.stringify(networks);
        if (key === card.scanKey) {
            return;
        }
        card.scanKey = key;
        setText(card.scanCount, networks.length);
        card.scanList.replaceChildren();
        networks.forEach(function (network) {
            card.scanList.append(
                el("li", {}, [
                    el("span", {className: "ssid", text: network.ssid}),
                    el("span", {className: "muted", text: network.rssi === null ? "" : " " + network.rssi + " dBm"}),
                ]),
            );
        });
    }

    function updateUrls(card, camera, name) {
        var urls = (camera && camera.urls) || (card.lastUrls || null);
        var key = JSON.stringify(urls) + "|" + name;
        if (key === card.urlsKey) {
            return;
        }
        card.urlsKey = key;
        card.lastUrls = urls;
        card.urlRows.replaceChildren();
        var labels = [
            ["mjpeg", "MJPEG"],
            ["snapshot", "Snapshot"],
            ["rtsp", "RTSP"],
            ["hls", "HLS"],
            ["audio", "Audio (WAV)"],
        ];
        labels.forEach(function (pair) {
            var url = urls ? safeUrl(urls[pair[0]]) : null;
            if (url === null) {
                return;
            }
            var input = el("input", {type: "text", readonly: "", "aria-label": pair[1] + " URL", "data-url": pair[0]});
            input.value = url;
            var copy = el("button", {type: "button", className: "copy", text: "Copy"});
            copy.addEventListener("click", function () {
                copyText(input, copy);
            });
            card.urlRows.append(el("div", {className: "url"}, [el("span", {text: pair[1]}), input, copy]));
        });
        setText(card.haText, haInstructions(urls, name));
    }

    function haInstructions(urls, name) {
        var mjpeg = urls ? safeUrl(urls.mjpeg) : null;
        var snapshot = urls ? safeUrl(urls.snapshot) : null;
        var rtsp = urls ? safeUrl(urls.rtsp) : null;
        if (mjpeg === null) {
            return "Stream URLs appear once the camera has a TCP session.";
        }
        var lines = [
            "The switches and sensors of " + name + " appear by themselves through MQTT discovery",
            "(Settings → Devices & services → MQTT). For live video:",
            "",
            "Settings → Devices & services → Add integration → MJPEG IP Camera",
            "  MJPEG URL:        " + mjpeg,
            "  Still image URL:  " + snapshot,
        ];
        if (rtsp !== null) {
            lines.push(
                "",
                "or, for H.264 with sound (WebRTC through go2rtc): Add integration → Generic Camera",
                "  Stream source:    " + rtsp,
                "  Still image URL:  " + snapshot,
            );
        }
        lines.push("", "If http.auth is set, enter the same user name and password there.");
        return lines.join("\n");
    }

    // ---- page -------------------------------------------------------------------------------

    function render(cameras, states) {
        var byId = new Map();
        cameras.forEach(function (camera) {
            byId.set(camera.id, {camera: camera, state: null});
        });
        states.forEach(function (state) {
            var entry = byId.get(state.id) || {camera: null, state: null};
            entry.state = state;
            byId.set(state.id, entry);
        });
        var list = document.getElementById("cameras");
        var ids = Array.from(byId.keys()).sort();
        ids.forEach(function (id) {
            var card = cards.get(id);
            if (!card) {
                card = createCard(id);
                cards.set(id, card);
            }
            var entry = byId.get(id);
            updateCard(card, entry.camera, entry.state);
        });
        Array.from(cards.keys()).forEach(function (id) {
            if (!byId.has(id)) {
                cards.get(id).img.removeAttribute("src");
                cards.get(id).root.remove();
                cards.delete(id);
            }
        });
        var order = ids.map(function (id) {
            return cards.get(id).root;
        });
        var current = Array.from(list.children);
        if (order.length !== current.length || order.some(function (node, index) { return current[index] !== node; })) {
            list.replaceChildren.apply(list, order);
        }
        var online = ids.filter(function (id) {
            return cards.get(id).online;
        }).length;
        setText(document.getElementById("summary"), ids.length + " camera" + (ids.length === 1 ? "" : "s") + ", " + online + " online");
        document.getElementById("empty").hidden = ids.length > 0;
        assignLiveSlots();
    }

    function renderDiagnostics(diagnostics) {
        var section = document.getElementById("diagnostics");
        var rows = (diagnostics.unknownRequests || []).slice(0, 20);
        section.hidden = rows.length === 0;
        var body = document.getElementById("unknown");
        body.replaceChildren();
        rows.forEach(function (request) {
            body.append(
                el("tr", {}, [
                    el("td", {text: request.at ? new Date(request.at).toLocaleString() : ""}),
                    el("td", {text: request.method || ""}),
                    el("td", {text: request.host || ""}),
                    el("td", {text: (request.path || "") + (request.query ? "?" + request.query : "")}),
                    el("td", {text: request.firmware || ""}),
                    el("td", {text: request.deviceId || ""}),
                    el("td", {text: request.remoteAddress || ""}),
                ]),
            );
        });
    }

    function pollDiagnostics() {
        if (!hasDiagnostics || Date.now() - lastDiagnosticsAt < DIAGNOSTICS_MS) {
            return;
        }
        lastDiagnosticsAt = Date.now();
        getJson("/api/diagnostics").then(renderDiagnostics, function (error) {
            if (error.status === 404) {
                hasDiagnostics = false; // an older service without the diagnostics API
            }
        });
    }

    function poll() {
        if (busy) {
            return;
        }
        busy = true;
        var status = document.getElementById("status");
        Promise.all([
            getJson("/api/cameras"),
            getJson("/api/states").catch(function () {
                return [];
            }),
        ])
            .then(function (results) {
                render(results[0], results[1]);
                setText(status, "");
                status.className = "";
            })
            .catch(function (error) {
                setText(status, "Cannot reach the bridge (" + error.message + "); retrying…");
                status.className = "error";
            })
            .then(function () {
                busy = false;
            });
        pollDiagnostics();
    }

    document.addEventListener("visibilitychange", function () {
        assignLiveSlots();
    });
    poll();
    setInterval(poll, POLL_MS);
})();
`;
