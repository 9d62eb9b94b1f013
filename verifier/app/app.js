// The officer's screen: camera frames go to this app on 127.0.0.1, nowhere else.
"use strict";
(function () {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  let words = {};
  let showing = false;
  let armed = false;  // scanning runs after a tap on "scan", until a verdict
  let busy = false;
  let audio = null;

  async function post(path, body, headers) {
    const isBytes = body instanceof Uint8Array;
    const response = await fetch(path, {
      method: "POST",
      credentials: "same-origin",
      headers: Object.assign(
        { "X-CSRF-Token": csrf,
          "Content-Type": isBytes ? "application/octet-stream" : "application/json" },
        headers || {}),
      body: isBytes ? body : JSON.stringify(body || {}),
    });
    const data = await response.json();
    if (!response.ok) { throw Object.assign(new Error(data.error), { data: data }); }
    return data;
  }

  function text(id, value) { $(id).textContent = value == null ? "" : String(value); }

  function render(state) {
    words = state.words;
    document.documentElement.lang = state.lang;
    text("title", words.title);
    text("lang", words.language);
    text("plate-label", words.plate);
    $("plate").placeholder = words.plate_hint;
    text("check-plate", words.check_plate);
    text("zone-label", words.zone);
    $("zone").placeholder = words.zone_hint;
    if (document.activeElement !== $("zone")) { $("zone").value = state.zone_input; }
    text("set-zone", words.set_zone);
    text("zone-state", state.zone || words.no_zone);
    text("sync", words.sync_now);
    $("sync").disabled = !state.sync.can_sync;
    $("sync-state").dataset.state = state.sync.state;
    text("sync-state", state.sync.text);
    const b = state.bundle;
    text("bundle-state", b ? `${words.bundle} seq ${b.seq}, ${words.bundle_age} ${b.age}` +
      (b.flag ? ` – ${b.flag}` : "") : "");
    text("log-title", words.log);
    text("end-shift", words.end_shift);
    text("next", words.next);
    text("scan", armed ? words.scanning : words.scan);
    if ($("camera-hint").dataset.off) { text("camera-hint", words.camera_off); }
    const log = $("log");
    log.replaceChildren();
    if (!state.log.length) {
      const li = document.createElement("li");
      li.textContent = words.log_empty;
      log.append(li);
    }
    for (const e of state.log) {
      const li = document.createElement("li");
      li.dataset.outcome = e.outcome;
      li.textContent = [e.time, e.headline, e.reason, e.zone, e.plate, e.number && `Nr. ${e.number}`]
        .filter(Boolean).join(" · ");
      log.append(li);
    }
  }

  async function refresh() {
    const response = await fetch("/api/state", { credentials: "same-origin" });
    render(await response.json());
  }

  function beep(kind) {
    try {
      audio = audio || new AudioContext();
      const tones = { valid: [[880, 0.12], [1320, 0.18]], invalid: [[220, 0.45]],
        indeterminate: [[440, 0.25], [440, 0.25]], not_a_permit: [[330, 0.2]] }[kind] || [];
      let t = audio.currentTime;
      for (const [freq, length] of tones) {
        const osc = audio.createOscillator();
        const gain = audio.createGain();
        osc.type = kind === "invalid" ? "square" : "sine";
        osc.frequency.value = freq;
        gain.gain.value = 0.2;
        osc.connect(gain).connect(audio.destination);
        osc.start(t);
        osc.stop(t + length);
        t += length + 0.06;
      }
    } catch (e) { /* no sound device: the screen still says it */ }
  }

  function show(v) {
    showing = true;
    armed = false;
    text("scan", words.scan);
    const box = $("verdict");
    box.dataset.kind = v.kind;
    box.dataset.reason = v.reason || "";
    text("v-headline", v.headline);
    text("v-reason", v.reason_text);
    const warnings = $("v-warnings");
    warnings.replaceChildren();
    for (const w of v.warnings) {
      const li = document.createElement("li");
      li.textContent = w;
      warnings.append(li);
    }
    const details = $("v-details");
    details.replaceChildren();
    const rows = v.kind === "not_a_permit" ? [] : [[words.zone_checked, v.zone || words.zone_not_checked],
      [words.plate_checked, v.plate], [words.valid_until, v.valid_until],
      [words.valid_from, v.valid_from], [words.number, v.number], [words.type, v.type],
      [words.issuer, v.issuer], [words.bundle, v.bundle_age && `${words.bundle_age} ${v.bundle_age}`]];
    for (const [label, value] of rows) {
      if (value == null || value === "") { continue; }
      const row = document.createElement("div");
      if (label === words.zone_checked || label === words.issuer) { row.className = "wide"; }
      const dt = document.createElement("dt");
      dt.textContent = label;
      const dd = document.createElement("dd");
      dd.textContent = String(value);
      row.append(dt, dd);
      details.append(row);
    }
    box.hidden = false;
    beep(v.kind);
    $("next").focus();
  }

  function plateValue() { return $("plate").value.trim(); }

  async function scan() {
    const video = $("video");
    if (armed && !showing && !busy && video.videoWidth) {
      busy = true;
      try {
        const w = video.videoWidth, h = video.videoHeight;
        const canvas = $("canvas");
        canvas.width = w; canvas.height = h;
        const ctx = canvas.getContext("2d", { willReadFrequently: true });
        ctx.drawImage(video, 0, 0, w, h);
        const rgba = ctx.getImageData(0, 0, w, h).data;
        const grey = new Uint8Array(w * h);
        for (let i = 0, j = 0; j < grey.length; i += 4, j++) {
          grey[j] = (rgba[i] * 77 + rgba[i + 1] * 150 + rgba[i + 2] * 29) >> 8;
        }
        const headers = { "X-Frame-Width": String(w), "X-Frame-Height": String(h) };
        if (plateValue()) { headers["X-Plate"] = plateValue(); }
        const result = await post("/api/frame", grey, headers);
        if (result.found) { show(result); refresh(); }
      } catch (e) { /* the next frame tries again */ }
      busy = false;
    }
    setTimeout(scan, 150);
  }

  async function startCamera() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: false, video: {
        facingMode: "environment", width: { ideal: 1280 }, height: { ideal: 720 } } });
      $("video").srcObject = stream;
      scan();
    } catch (e) {
      $("camera-hint").dataset.off = "1";
      text("camera-hint", words.camera_off || "");
    }
  }

  $("scan").addEventListener("click", () => {
    armed = true;
    text("scan", words.scanning);
  });
  $("check-plate").addEventListener("click", async () => {
    if (!plateValue()) { return; }
    try { show(await post("/api/plate", { plate: plateValue() })); refresh(); }
    catch (e) { text("zone-state", e.data && e.data.text); }
  });
  $("plate").addEventListener("keydown", (e) => { if (e.key === "Enter") { $("check-plate").click(); } });
  $("set-zone").addEventListener("click", async () => {
    try { render(await post("/api/settings", { zone: $("zone").value })); }
    catch (e) { text("zone-state", e.data && e.data.text); }
  });
  $("sync").addEventListener("click", async () => {
    $("sync").disabled = true;
    try { render(await post("/api/sync", {})); } finally { $("sync").disabled = false; }
  });
  $("end-shift").addEventListener("click", async () => {
    render(await post("/api/shift/end", {}));
    $("plate").value = "";
  });
  $("lang").addEventListener("click", async () => {
    render(await post("/api/settings", { lang: document.documentElement.lang === "de" ? "en" : "de" }));
  });
  $("next").addEventListener("click", () => {
    $("verdict").hidden = true;
    showing = false;
  });
  setInterval(refresh, 5000);
  refresh().then(startCamera);
})();
