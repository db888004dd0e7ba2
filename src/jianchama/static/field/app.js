/* The inspector's field app (F-44): today's visits, the code offline, check-in and result kept on the phone.

   Data: the visits and the day's code tokens come from two JSON endpoints, kept by the service worker (sw.js)
   for offline use. Acts (code shown, check-in, result with photos) go into IndexedDB with the time each
   happened and a UUID of their own, and are sent in order to the sync endpoint when the network is there;
   the server applies each once (a retry finds its UUID). A refused act stays on the phone, exportable.
   After the result, the inspectors and the enterprise's person (or a witness of his refusal) sign the on-site
   record on canvases (signature_pad, vendored, kept by the service worker): one more act, `sign_record`,
   with the time they signed; the platform makes the signed PDFs when it arrives. */
"use strict";

(function () {
  const root = document.getElementById("field-app");
  if (!root) return;
  const URLS = {
    visits: root.dataset.visits,
    codes: root.dataset.codes,
    sync: root.dataset.sync,
    sw: root.dataset.sw,
    scope: root.dataset.scope,
  };
  const view = document.getElementById("view");
  const state = { visits: null, codes: null, csrf: "", offlineData: false, timer: null, lastError: "" };

  // --- IndexedDB ------------------------------------------------------------------------------------------

  const dbPromise = new Promise((resolve, reject) => {
    const request = indexedDB.open("jc-field", 1);
    request.onupgradeneeded = () => {
      const db = request.result;
      db.createObjectStore("acts", { keyPath: "seq", autoIncrement: true });
      db.createObjectStore("meta");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });

  function done(request) {
    return new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  async function store(name, mode) {
    return (await dbPromise).transaction(name, mode || "readonly").objectStore(name);
  }
  async function allActs() {
    const acts = await done((await store("acts")).getAll());
    return acts.sort((a, b) => a.seq - b.seq);
  }
  async function putAct(act) {
    return done((await store("acts", "readwrite")).put(act));
  }
  async function getMeta(key) {
    return done((await store("meta")).get(key));
  }
  async function setMeta(key, value) {
    return done((await store("meta", "readwrite")).put(value, key));
  }

  // --- Small helpers --------------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function pad(n) {
    return String(n).padStart(2, "0");
  }
  function clock(date) {
    return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  }
  function dayLabel(iso) {
    const [, m, d] = iso.split("-");
    return `${Number(m)}月${Number(d)}日`;
  }
  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }
  const KIND_LABELS = {
    code_shown: "出示检查码",
    check_in: "签到开始检查",
    result: "录入检查结果",
    sign_record: "签署现场检查笔录",
  };
  const STATE_LABELS = { waiting: "待发送", synced: "已同步", refused: "被拒绝（已保留）" };

  // --- Data -----------------------------------------------------------------------------------------------

  async function fetchJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const type = response.headers.get("Content-Type") || "";
    if (!type.startsWith("application/json")) throw new Error("请重新登录后再打开现场执法应用");
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || `HTTP ${response.status}`);
    return { body, offline: response.headers.get("X-Field-Offline") === "1" };
  }

  async function loadData() {
    try {
      const visits = await fetchJson(URLS.visits);
      state.visits = visits.body;
      state.csrf = visits.body.csrf || state.csrf;
      state.offlineData = visits.offline;
      const codes = await fetchJson(URLS.codes);
      state.codes = codes.body;
      state.lastError = "";
    } catch (error) {
      state.lastError = error.message || "数据载入失败";
    }
    document.documentElement.dataset.fieldData = state.visits ? "1" : "0";
    if (navigator.serviceWorker && navigator.serviceWorker.controller && state.visits) {
      document.documentElement.dataset.fieldOffline = "ready"; // kept by the service worker for offline use
    }
  }

  function visit(id) {
    return ((state.visits && state.visits.visits) || []).find((v) => v.id === id);
  }
  function tokensOf(id) {
    const entry = ((state.codes && state.codes.codes) || []).find((c) => c.task === id);
    return entry ? entry.tokens : [];
  }
  function currentToken(id, now) {
    const seconds = Math.floor(now.getTime() / 1000);
    return tokensOf(id).find((t) => t.not_before <= seconds && seconds < t.not_after) || null;
  }

  // --- Position (亮码即定位): the browser's own permission is the inspector's consent ----------------------

  async function position() {
    if (!("geolocation" in navigator)) return { allowed: false };
    let permission = "prompt";
    try {
      permission = (await navigator.permissions.query({ name: "geolocation" })).state;
    } catch (error) {
      /* older browsers: ask */
    }
    if (permission === "denied") return { allowed: false };
    return new Promise((resolve) => {
      navigator.geolocation.getCurrentPosition(
        (p) =>
          resolve({
            allowed: true,
            latitude: p.coords.latitude,
            longitude: p.coords.longitude,
            accuracy: p.coords.accuracy,
          }),
        async (error) => {
          // Allowed but no fix (indoors, timeout) is itself a fact the platform keeps; refused is not.
          let now = permission;
          try {
            now = (await navigator.permissions.query({ name: "geolocation" })).state;
          } catch (ignored) {
            /* keep the first answer */
          }
          resolve({ allowed: error.code !== error.PERMISSION_DENIED && now === "granted" });
        },
        { enableHighAccuracy: true, timeout: 10000, maximumAge: 60000 },
      );
    });
  }

  // --- Acts -----------------------------------------------------------------------------------------------

  async function queueAct(kind, task, extra) {
    const occurred = (extra && extra.occurred_at) || new Date().toISOString(); // the act's time, not the fix's
    const where = await position();
    const v = visit(task);
    const act = {
      client_id: uuid(),
      kind,
      task,
      task_number: v ? v.number : "",
      enterprise: v ? v.enterprise.name : "",
      occurred_at: occurred,
      location: where,
      fields: (extra && extra.fields) || {},
      photos: (extra && extra.photos) || [],
      state: "waiting",
      message: "",
      created_at: new Date().toISOString(),
    };
    act.seq = await putAct(act);
    await refreshStatus();
    sync();
    return act;
  }

  function localState(acts, id) {
    const mine = acts.filter((a) => a.task === id && a.state !== "refused");
    return {
      checkedIn: mine.some((a) => a.kind === "check_in"),
      result: mine.some((a) => a.kind === "result"),
      resultAct: mine.filter((a) => a.kind === "result").pop() || null,
      signed: mine.some((a) => a.kind === "sign_record"),
      waiting: mine.filter((a) => a.state === "waiting").length,
      refused: acts.filter((a) => a.task === id && a.state === "refused").length,
    };
  }

  let syncing = null;
  let syncAgain = false;
  function sync() {
    // One run at a time; an act queued during a run is sent by another run right after it.
    if (syncing) {
      syncAgain = true;
      return syncing;
    }
    syncing = (async () => {
      do {
        syncAgain = false;
        await runSync();
      } while (syncAgain);
    })().finally(() => (syncing = null));
    return syncing;
  }

  async function send(act) {
    const form = new FormData();
    form.append("client_id", act.client_id);
    form.append("kind", act.kind);
    form.append("task", String(act.task));
    form.append("occurred_at", act.occurred_at);
    const where = act.location || {};
    form.append("location_allowed", where.allowed ? "1" : "0");
    if (where.latitude !== undefined) {
      form.append("latitude", String(where.latitude));
      form.append("longitude", String(where.longitude));
      form.append("accuracy", String(where.accuracy || ""));
    }
    for (const [name, value] of Object.entries(act.fields || {})) form.append(name, value);
    for (const photo of act.photos || []) form.append("evidence_files", photo.blob, photo.name);
    return fetch(URLS.sync, {
      method: "POST",
      body: form,
      credentials: "same-origin",
      headers: { "X-CSRFToken": state.csrf, Accept: "application/json" },
    });
  }

  async function runSync() {
    if (!navigator.onLine) return;
    let sent = 0;
    for (const act of await allActs()) {
      if (act.state !== "waiting") continue;
      let response;
      try {
        response = await send(act);
        if (response.status === 403 && !(response.headers.get("Content-Type") || "").includes("json")) {
          await loadData(); // a stale CSRF token: fetch a fresh one, then once more
          response = await send(act);
        }
      } catch (error) {
        state.lastError = "网络中断，稍后自动重试";
        break; // in order: nothing after an act that did not go through
      }
      let body = null;
      try {
        body = await response.json();
      } catch (error) {
        body = null;
      }
      if (response.ok && body) {
        act.state = "synced";
        act.message = body.message || "";
        act.synced_at = new Date().toISOString();
        await putAct(act);
        await setMeta("last_sync", act.synced_at);
        state.lastError = "";
        sent += 1;
      } else if (body && body.login_required) {
        state.lastError = body.message;
        break;
      } else if (body && [400, 403, 404, 409].includes(response.status)) {
        act.state = "refused";
        act.message = body.message || `HTTP ${response.status}`;
        await putAct(act);
        sent += 1;
      } else {
        state.lastError = body && body.message
          ? body.message
          : response.redirected || response.ok
            ? "登录已过期：请联网后重新登录，记录仍在手机上"
            : `平台暂时无法接收（HTTP ${response.status}），稍后重试`;
        break;
      }
    }
    await refreshStatus();
    if (sent && navigator.onLine) {
      await loadData(); // the visits as the platform now has them
      if (!editing()) render(); // never wipe a form being filled
    }
  }

  // --- Status bar -----------------------------------------------------------------------------------------

  async function refreshStatus() {
    const acts = await allActs();
    const waiting = acts.filter((a) => a.state === "waiting").length;
    const refused = acts.filter((a) => a.state === "refused").length;
    const last = await getMeta("last_sync");
    const lastText = last ? `上次同步 ${clock(new Date(last))}` : "尚未同步";
    const net = document.getElementById("net");
    net.textContent = navigator.onLine ? "● 在线" : "○ 离线";
    net.className = "net " + (navigator.onLine ? "online" : "offline");
    document.getElementById("waiting").textContent = String(waiting);
    document.getElementById("status").classList.toggle("has-refused", refused > 0);
    document.getElementById("queue-link").lastChild.textContent = refused ? ` 项 · 被拒绝 ${refused} 项` : " 项";
    document.getElementById("last-sync").textContent = state.lastError ? `${lastText} · ${state.lastError}` : lastText;
  }

  // --- Screens --------------------------------------------------------------------------------------------

  function editing() {
    return /\/(result|sign)$/.test(location.hash || "");
  }

  function stopTimer() {
    if (state.timer) clearInterval(state.timer);
    state.timer = null;
  }

  async function render() {
    stopTimer();
    const hash = location.hash || "#/";
    const parts = hash.slice(2).split("/");
    const entered = hash !== state.lastHash;
    state.lastHash = hash;
    const acts = await allActs();
    view.replaceChildren();
    if (!state.visits) {
      view.append(el("p", { class: "field-error", text: state.lastError || "没有可用的任务数据：请联网打开一次" }));
      return;
    }
    if (parts[0] === "queue") return renderQueue(acts);
    if (parts[0] === "v" && visit(Number(parts[1]))) {
      const v = visit(Number(parts[1]));
      if (parts[2] === "code") return renderCode(v, entered);
      if (parts[2] === "result") return renderResult(v, acts);
      if (parts[2] === "sign") return renderSign(v, acts);
      return renderVisit(v, acts);
    }
    return renderList(acts);
  }

  function actions(v, acts) {
    const local = localState(acts, v.id);
    const started = v.status === "in_progress" || local.checkedIn;
    const buttons = [];
    if (v.today && v.code_active && tokensOf(v.id).length && v.status !== "result_recorded") {
      buttons.push(el("a", { class: "btn", href: `#/v/${v.id}/code`, text: "出示检查码" }));
    }
    if (v.today && v.status === "notified" && !local.checkedIn) {
      buttons.push(
        el("button", {
          type: "button",
          class: "btn secondary",
          text: "签到开始检查",
          onclick: async (event) => {
            event.target.disabled = true;
            await queueAct("check_in", v.id);
            render();
          },
        }),
      );
    }
    if (v.today && started && v.status !== "result_recorded" && !local.result) {
      buttons.push(el("a", { class: "btn secondary", href: `#/v/${v.id}/result`, text: "录入检查结果" }));
    }
    if ((v.status === "result_recorded" || local.result) && !v.record_signed && !local.signed) {
      buttons.push(el("a", { class: "btn", href: `#/v/${v.id}/sign`, text: "签署现场检查笔录" }));
    }
    return buttons;
  }

  function localNote(acts, v) {
    const local = localState(acts, v.id);
    const notes = [];
    if (local.checkedIn && v.status === "notified") notes.push("已在手机上签到");
    if (local.result && v.status !== "result_recorded") notes.push("检查结果已保存在手机上");
    if (local.signed && !v.record_signed) notes.push("现场检查笔录已在手机上签署");
    if (v.record_signed) notes.push("现场检查笔录已签署并送达企业");
    if (local.waiting) notes.push(`${local.waiting}项待发送`);
    if (local.refused) notes.push(`${local.refused}项被拒绝`);
    return notes.length ? el("p", { class: "local-state", text: notes.join(" · ") }) : null;
  }

  function renderList(acts) {
    const data = state.visits;
    const today = data.visits.filter((v) => v.today);
    const later = data.visits.filter((v) => !v.today);
    view.append(el("h1", {}, "今日检查 ", el("span", { class: "muted", text: dayLabel(data.today) })));
    if (state.offlineData) {
      view.append(el("p", { class: "muted", text: `离线数据，取自 ${clock(new Date(data.fetched_at))}` }));
    }
    if (!today.length) view.append(el("p", { class: "muted", text: "今天没有需要实施的检查任务。" }));
    for (const v of today) {
      view.append(
        el(
          "div",
          { class: "card visit-card", "data-task": v.id },
          el("h2", {}, el("a", { href: `#/v/${v.id}`, text: v.enterprise.name })),
          el("p", { class: "muted", text: `${v.number} · ${v.kind} · ${v.mode} · ${v.status_label}` }),
          el("p", { class: "muted", text: v.enterprise.address }),
          localNote(acts, v),
          el("div", { class: "toolbar" }, actions(v, acts)),
        ),
      );
    }
    if (later.length) {
      view.append(el("h2", { text: `未来${data.days}天` }));
      view.append(
        el(
          "ul",
          {},
          later.map((v) =>
            el("li", {}, el("a", { href: `#/v/${v.id}`, text: `${dayLabel(v.window_start)} ${v.enterprise.name}` }), " ",
              el("span", { class: "muted", text: v.status_label })),
          ),
        ),
      );
    }
  }

  function renderVisit(v, acts) {
    view.append(
      el("p", {}, el("a", { href: "#/", text: "← 今日检查" })),
      el("h1", { text: v.enterprise.name }),
      el("p", { class: "muted", text: `${v.number} · ${v.lead_body} · ${v.status_label}` }),
      el("p", { text: `检查日期：${dayLabel(v.window_start)}至${dayLabel(v.window_end)}` }),
      el("p", { text: `地址：${v.enterprise.address || "—"}` }),
      el("p", { text: `执法人员：${v.team.join("、")}` }),
      el("p", { text: `检查事项：${v.items.map((i) => i.name).join("、")}` }),
      localNote(acts, v),
      el("div", { class: "toolbar" }, actions(v, acts)),
    );
    const mine = acts.filter((a) => a.task === v.id);
    if (mine.length) view.append(el("h2", { text: "本手机上的记录" }), ...mine.map(actRow));
  }

  function renderCode(v, entered) {
    view.append(el("p", {}, el("a", { href: `#/v/${v.id}`, text: "← 返回任务" })));
    const box = el("div", { class: "field-code" });
    view.append(box);
    let shown = null;
    const draw = () => {
      const now = new Date();
      const token = currentToken(v.id, now);
      if (shown && token && shown.not_before === token.not_before) {
        box.querySelector(".slot").textContent = `本码有效至 ${clock(new Date(token.not_after * 1000))}`;
        return;
      }
      shown = token;
      box.replaceChildren(el("p", {}, el("strong", { text: v.enterprise.name })));
      if (!token) {
        box.append(el("p", { class: "expired-note", text: "手机上的检查码已用完或不在今天：请联网后重新打开本应用" }));
        return;
      }
      const img = el("img", { id: "qr", alt: "检查码二维码", "data-url": token.url });
      img.src = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(token.svg);
      box.append(
        el("div", { class: "qr" }, img),
        el("p", { class: "slot muted", text: `本码有效至 ${clock(new Date(token.not_after * 1000))}` }),
        el("p", { class: "muted", text: "请企业用手机扫码核验。二维码按时段自动更换，截图无效。" }),
        el("p", { class: "muted", text: `任务 ${v.number}` }),
      );
    };
    draw();
    state.timer = setInterval(draw, 1000);
    if (entered) queueAct("code_shown", v.id); // 亮码即定位: when and where the code was shown
  }

  function renderResult(v, acts) {
    view.append(el("p", {}, el("a", { href: `#/v/${v.id}`, text: "← 返回任务" })));
    view.append(el("h1", { text: `录入检查结果 · ${v.enterprise.name}` }));
    const photos = [];
    const photoList = el("div", { class: "photo-list" });
    const form = el("form", { class: "field-form", id: "result-form" });
    for (const item of v.items) {
      form.append(el("h2", { text: item.name }));
      for (const entry of item.entries) {
        const choices = [
          ["compliant", "符合"],
          ["non_compliant", "不符合"],
          ["not_applicable", "不适用"],
        ].map(([value, label]) =>
          el("label", {}, el("input", { type: "radio", name: entry.name, value, required: true }), label),
        );
        form.append(
          el(
            "div",
            { class: "entry" },
            el("p", { text: entry.label }),
            el("div", { class: "choices" }, choices),
            el("input", { type: "text", name: `${entry.name}_note`, placeholder: "说明（不符合时必填）", maxlength: "500" }),
          ),
        );
      }
    }
    const row = (label, input) => el("div", { class: "row" }, el("label", {}, label, input));
    form.append(
      row(
        "检查结论",
        el("select", { name: "outcome", required: true }, el("option", { value: "", text: "请选择" }),
          state.visits.outcomes.map((o) => el("option", { value: o.value, text: o.label }))),
      ),
      row("检查情况", el("textarea", { name: "summary", rows: "3", required: true })),
      row("整改期限（工作日，责令整改时填写）", el("input", { type: "number", name: "rectify_working_days", min: "1", max: "60" })),
      row("改进建议（告知企业）", el("textarea", { name: "improvement_advice", rows: "2" })),
      row("现场负责人姓名", el("input", { type: "text", name: "onsite_person_name", maxlength: "50" })),
      row("现场负责人手机号", el("input", { type: "tel", name: "onsite_person_phone", maxlength: "20", inputmode: "numeric" })),
      row(
        "现场照片",
        el("input", {
          type: "file",
          name: "photos",
          accept: "image/jpeg,image/png",
          capture: "environment",
          multiple: true,
          onchange: (event) => {
            for (const file of event.target.files) {
              const name = /\.(jpe?g|png)$/i.test(file.name) ? file.name : `photo-${photos.length + 1}.${file.type === "image/png" ? "png" : "jpg"}`;
              photos.push({ name, type: file.type, blob: file });
              const img = el("img", { alt: name });
              const reader = new FileReader(); // a data: URL: the page's CSP allows no blob: images
              reader.onload = () => (img.src = reader.result);
              reader.readAsDataURL(file);
              photoList.append(img);
            }
            event.target.value = "";
          },
        }),
      ),
      photoList,
      el("button", { type: "submit", text: "保存结果（联网后自动提交）" }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const occurred = new Date().toISOString();
      const fields = {};
      for (const [name, value] of new FormData(form).entries()) {
        if (name !== "photos" && typeof value === "string") fields[name] = value;
      }
      form.querySelector("button[type=submit]").disabled = true;
      const saved = photos.map((p) => ({ name: p.name, type: p.type, blob: new Blob([p.blob], { type: p.type }) }));
      await queueAct("result", v.id, { fields, photos: saved, occurred_at: occurred });
      location.hash = `#/v/${v.id}`;
    });
    view.append(form);
  }

  // --- The on-site record signed on the phone (F-45) ---------------------------------------------------------

  function signaturePad(id, label) {
    // A canvas sized to its box at the screen's pixel ratio (as the online signing page, js/sign.js).
    const canvas = el("canvas", { id, class: "signature-pad", "aria-label": `${label}的签名框` });
    const pad = new SignaturePad(canvas, { minWidth: 1, maxWidth: 3, penColor: "#000" });
    const fit = () => {
      if (!canvas.offsetWidth) return; // hidden: fitted when shown
      const data = pad.isEmpty() ? null : pad.toData();
      const ratio = Math.max(window.devicePixelRatio || 1, 1);
      canvas.width = canvas.offsetWidth * ratio;
      canvas.height = canvas.offsetHeight * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      if (data) pad.fromData(data);
    };
    const box = el(
      "div",
      { class: "signature-field" },
      el("label", { for: id, text: `${label}签名` }),
      canvas,
      el("button", { type: "button", class: "secondary", text: "清除", onclick: () => pad.clear() }),
    );
    return { box, pad, fit, label };
  }

  function renderSign(v, acts) {
    const local = localState(acts, v.id);
    view.append(el("p", {}, el("a", { href: `#/v/${v.id}`, text: "← 返回任务" })));
    view.append(el("h1", { text: `签署现场检查笔录 · ${v.enterprise.name}` }));
    if (typeof SignaturePad === "undefined") {
      view.append(el("p", { class: "field-error", text: "签名组件未载入：请联网打开一次本应用后再签署" }));
      return;
    }
    if (v.record_signed || local.signed) {
      view.append(el("p", { class: "muted", text: "现场检查笔录已签署。" }));
      return;
    }
    if (!(v.status === "result_recorded" || local.result)) {
      view.append(el("p", { class: "field-error", text: "请先录入检查结果，再签署现场检查笔录" }));
      return;
    }
    const result = local.resultAct ? local.resultAct.fields : null;
    if (result) {
      const outcome = state.visits.outcomes.find((o) => o.value === result.outcome);
      view.append(
        el("div", { class: "card" },
          el("p", {}, el("strong", { text: "检查结论：" }), outcome ? outcome.label : result.outcome),
          el("p", { text: result.summary || "" })),
      );
    }
    view.append(el("p", { class: "muted", text: "请当事人阅看检查结果后签名。签署后联网时自动提交，平台生成文书、编号并送达企业，不能修改。" }));
    const form = el("form", { class: "field-form", id: "sign-form", novalidate: true });
    const inspectors = v.inspectors.map((i) => ({ ...i, ...signaturePad(`pad-inspector-${i.id}`, `执法人员${i.name}`) }));
    const party = signaturePad("pad-party", "当事人");
    const witness = signaturePad("pad-witness", "见证人");
    const row = (label, input) => el("div", { class: "row" }, el("label", {}, label, input));
    const partyName = el("input", { type: "text", name: "party_name", maxlength: "50", value: (result && result.onsite_person_name) || v.onsite_person || "" });
    const witnessName = el("input", { type: "text", name: "witness_name", maxlength: "50" });
    const refused = el("input", { type: "checkbox", name: "refused", id: "sign-refused" });
    const partyBlock = el("div", {}, row("当事人（企业现场负责人）姓名", partyName), party.box);
    const witnessBlock = el("div", { hidden: true }, row("见证人姓名", witnessName), witness.box);
    const problems = el("div", { class: "field-error", id: "sign-problems", role: "alert" });
    refused.addEventListener("change", () => {
      partyBlock.hidden = refused.checked;
      witnessBlock.hidden = !refused.checked;
      (refused.checked ? witness : party).fit();
    });
    form.append(
      ...inspectors.map((i) => i.box),
      row("当事人意见（陈述、申辩）", el("textarea", { name: "party_statement", rows: "3", maxlength: "2000" })),
      el("div", { class: "row" }, el("label", {}, refused, " 当事人拒绝签字（由见证人签名）")),
      partyBlock,
      witnessBlock,
      problems,
      el("button", { type: "submit", text: "确认签署（联网后自动提交）" }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const occurred = new Date().toISOString(); // the time they signed
      const missing = [];
      for (const i of inspectors) if (i.pad.isEmpty()) missing.push(`请${i.label}在签名框内签名`);
      if (refused.checked) {
        if (!witnessName.value.trim()) missing.push("当事人拒绝签字的，请填写见证人姓名，并由见证人签名");
        if (witness.pad.isEmpty()) missing.push("请见证人在签名框内签名");
      } else {
        if (!partyName.value.trim()) missing.push("请填写当事人（企业现场负责人）姓名；当事人拒绝签字的，请勾选「当事人拒绝签字」");
        if (party.pad.isEmpty()) missing.push("请当事人在签名框内签名");
      }
      if (missing.length) {
        problems.replaceChildren(...missing.map((m) => el("p", { text: m })));
        return;
      }
      const fields = {
        party_statement: form.elements.party_statement.value,
        refused: refused.checked ? "1" : "",
      };
      for (const i of inspectors) fields[`inspector_${i.id}`] = i.pad.toDataURL("image/png");
      if (refused.checked) {
        fields.witness_name = witnessName.value;
        fields.witness_signature = witness.pad.toDataURL("image/png");
      } else {
        fields.party_name = partyName.value;
        fields.party_signature = party.pad.toDataURL("image/png");
      }
      form.querySelector("button[type=submit]").disabled = true;
      await queueAct("sign_record", v.id, { fields, occurred_at: occurred });
      location.hash = `#/v/${v.id}`;
    });
    view.append(form);
    for (const pad of [...inspectors, party]) pad.fit();
  }

  function actRow(act) {
    const v = visit(act.task);
    return el(
      "div",
      { class: "act", "data-state": act.state, "data-kind": act.kind },
      el("p", {},
        el("strong", { text: KIND_LABELS[act.kind] || act.kind }), " ",
        v ? v.enterprise.name : act.enterprise || `任务 ${act.task_number || act.task}`, " ",
        el("span", { class: `state-${act.state}`, text: STATE_LABELS[act.state] || act.state })),
      el("p", { class: "muted", text: `发生于 ${new Date(act.occurred_at).toLocaleString("zh-CN")}${act.photos && act.photos.length ? ` · 照片 ${act.photos.length} 张` : ""}` }),
      act.message ? el("p", { class: act.state === "refused" ? "field-error" : "muted", text: act.message }) : null,
    );
  }

  async function exportActs(acts) {
    const toData = (blob) =>
      new Promise((resolve) => {
        const reader = new FileReader();
        reader.onload = () => resolve(reader.result);
        reader.readAsDataURL(blob);
      });
    const out = [];
    for (const act of acts) {
      const photos = [];
      for (const p of act.photos || []) photos.push({ name: p.name, type: p.type, data: await toData(p.blob) });
      out.push({ ...act, photos });
    }
    const blob = new Blob([JSON.stringify({ exported_at: new Date().toISOString(), acts: out }, null, 2)], {
      type: "application/json",
    });
    const link = el("a", { href: URL.createObjectURL(blob), download: `现场记录-${new Date().toISOString().slice(0, 10)}.json` });
    document.body.append(link);
    link.click();
    link.remove();
  }

  function renderQueue(acts) {
    view.append(
      el("p", {}, el("a", { href: "#/", text: "← 今日检查" })),
      el("h1", { text: "本手机上的现场记录" }),
      el(
        "div",
        { class: "toolbar" },
        el("button", { type: "button", class: "btn", text: "立即同步", onclick: () => sync() }),
        el("button", { type: "button", class: "btn secondary", id: "export", text: "导出记录（JSON）", onclick: () => exportActs(acts) }),
      ),
    );
    if (!acts.length) view.append(el("p", { class: "muted", text: "没有记录。" }));
    view.append(...acts.slice().reverse().map(actRow));
  }

  // --- Start ----------------------------------------------------------------------------------------------

  window.addEventListener("hashchange", render);
  window.addEventListener("online", () => {
    refreshStatus();
    sync();
  });
  window.addEventListener("offline", refreshStatus);

  (async () => {
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.addEventListener("controllerchange", async () => {
        await loadData(); // now through the worker, which keeps a copy for offline use
        if (!editing()) render();
      });
      navigator.serviceWorker.register(URLS.sw, { scope: URLS.scope }).catch(() => {});
    }
    await loadData();
    await refreshStatus();
    await render();
    document.documentElement.dataset.fieldStarted = String(performance.now());
    sync();
  })();
})();
