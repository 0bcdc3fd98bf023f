// The one form: rows added and removed, the draft kept in this browser, the server's field-level messages
// shown beside the fields as the clerk leaves them and on submit. Values are read back into the intake
// contract's JSON by each field's name (its path: shareholders.0.id_number) and data-kind.
"use strict";
(function () {
  const form = document.getElementById("one-form");
  if (!form) { return; }
  const initial = JSON.parse(document.getElementById("form-initial").textContent);
  const locked = JSON.parse(document.getElementById("form-locked").textContent);
  // a correction: only the parts the rejected departments use may change (null: a new application)
  const editableNode = document.getElementById("form-editable");
  const editable = editableNode ? JSON.parse(editableNode.textContent) : null;
  const draftKey = form.dataset.draftKey || "";
  const summary = document.getElementById("form-summary");
  const state = document.getElementById("form-state");
  const touched = new Set();
  let submitted = false;
  let checkTimer = 0;
  let saveTimer = 0;

  function getPath(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }
  function setPath(obj, path, value) {
    const parts = path.split(".");
    let o = obj;
    for (let i = 0; i < parts.length - 1; i++) {
      const k = parts[i];
      if (o[k] == null) { o[k] = /^\d+$/.test(parts[i + 1]) ? [] : {}; }
      o = o[k];
    }
    o[parts[parts.length - 1]] = value;
  }
  function under(name, p) { return name === p || name.indexOf(p + ".") === 0; }
  function isLocked(name) {
    if (locked.some(function (p) { return under(name, p); })) { return true; }
    return editable !== null && !editable.some(function (p) { return under(name, p); });
  }
  function kindOf(row) {
    const select = row ? row.querySelector('select[name$=".kind"]') : null;
    return select ? select.value : "";
  }

  function collect() {
    const out = {};
    form.querySelectorAll("[name]").forEach(function (el) {
      const kind = el.dataset.kind;
      if (!kind) { return; }
      const only = el.closest("[data-only-for]");
      if (only && kindOf(el.closest(".row")) !== only.dataset.onlyFor) { return; }
      if (kind === "set") {
        if (getPath(out, el.name) === undefined) { setPath(out, el.name, []); }
        if (el.checked) { getPath(out, el.name).push(el.value); }
        return;
      }
      let value;
      const text = el.value.trim();
      if (kind === "bool") { value = el.checked; }
      else if (kind === "lines") { value = text.split(/[\n、；;]+/).map(function (s) { return s.trim(); }).filter(Boolean); }
      else if (kind === "int") { value = text === "" ? null : (/^-?\d+$/.test(text) ? parseInt(text, 10) : text); }
      else { value = (text === "" && el.dataset.optional) ? null : text; }
      setPath(out, el.name, value);
    });
    form.querySelectorAll(".rows[data-rows]").forEach(function (box) {
      if (getPath(out, box.dataset.rows) === undefined) { setPath(out, box.dataset.rows, []); }
    });
    return out;
  }

  function addRow(path) {
    const template = document.getElementById("tpl-" + path.replace(/\./g, "-"));
    const box = form.querySelector('.rows[data-rows="' + path + '"]');
    const index = box.children.length;
    const holder = document.createElement("div");
    holder.innerHTML = template.innerHTML.replace(/__i__/g, String(index));
    const row = holder.firstElementChild;
    row.querySelector(".row-n").textContent = String(index + 1);
    box.appendChild(row);
    return row;
  }

  function showKinds() {
    form.querySelectorAll(".row").forEach(function (row) {
      row.querySelectorAll("[data-only-for]").forEach(function (f) { f.hidden = kindOf(row) !== f.dataset.onlyFor; });
    });
  }

  function applyLocks() {
    form.querySelectorAll("[name]").forEach(function (el) {
      if (!el.dataset.kind || !isLocked(el.name)) { return; }
      if (el.tagName === "SELECT" || el.type === "checkbox") { el.disabled = true; } else { el.readOnly = true; }
    });
    form.querySelectorAll(".add-row").forEach(function (b) { b.hidden = isLocked(b.dataset.rows); });
    form.querySelectorAll(".row").forEach(function (row) {
      const remove = row.querySelector(".remove-row");
      if (remove) { remove.hidden = isLocked(row.dataset.row); }
    });
  }

  function fill(data) {
    form.querySelectorAll(".rows[data-rows]").forEach(function (box) {
      const list = getPath(data, box.dataset.rows) || [];
      box.innerHTML = "";
      const n = Math.max(list.length, parseInt(box.dataset.minimum || "0", 10));
      for (let i = 0; i < n; i++) { addRow(box.dataset.rows); }
    });
    form.querySelectorAll("[name]").forEach(function (el) {
      const kind = el.dataset.kind;
      if (!kind) { return; }
      const v = getPath(data, el.name);
      if (kind === "set") { el.checked = Array.isArray(v) && v.indexOf(el.value) >= 0; }
      else if (kind === "bool") { el.checked = !!v; }
      else if (kind === "lines") { el.value = Array.isArray(v) ? v.join("\n") : ""; }
      else { el.value = v == null ? "" : String(v); }
    });
    showKinds();
    applyLocks();
  }

  function findField(path) {
    let p = path;
    while (p) {
      const f = form.querySelector('.field[data-path="' + CSS.escape(p) + '"]');
      if (f && !f.hidden) { return f; }
      const cut = p.lastIndexOf(".");
      if (cut < 0) { break; }
      p = p.slice(0, cut);
    }
    return null;
  }
  function wasTouched(path) {
    for (const t of touched) { if (t === path || t.indexOf(path + ".") === 0) { return true; } }
    return false;
  }

  function showErrors(errors, all) {
    form.querySelectorAll(".field").forEach(function (f) {
      f.classList.remove("invalid");
      const e = f.querySelector(":scope > .error");
      if (e) { e.textContent = ""; }
      f.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
    });
    const unplaced = [];
    errors.forEach(function (err) {
      const paths = err.fields && err.fields.length ? err.fields : [err.field];
      if (!all && !paths.some(wasTouched)) { return; }
      let placed = false;
      paths.forEach(function (p) {
        const f = findField(p);
        if (!f) { return; }
        f.classList.add("invalid");
        f.querySelectorAll("input, select, textarea").forEach(function (x) { x.setAttribute("aria-invalid", "true"); });
        const e = f.querySelector(":scope > .error");
        if (e && e.textContent.indexOf(err.message) < 0) { e.textContent = (e.textContent ? e.textContent + "；" : "") + err.message; }
        placed = true;
      });
      if (!placed) { unplaced.push(err.message); }
    });
    return unplaced;
  }

  async function check() {
    const r = await window.kaiban.postJson(form.dataset.check, collect());
    if (r.status === 200 && r.data) { showErrors(r.data.errors || [], submitted); }
  }
  function scheduleCheck() { window.clearTimeout(checkTimer); checkTimer = window.setTimeout(check, 250); }

  function draft() {
    try { return JSON.parse(window.localStorage.getItem(draftKey) || "null"); } catch (e) { return null; }
  }
  function writeDraft() {
    if (!draftKey) { return null; }
    window.clearTimeout(saveTimer);
    saveTimer = 0;
    const kept = draft();
    const id = kept && kept.id ? kept.id : (window.crypto.randomUUID ? window.crypto.randomUUID() : String(Date.now()));
    const now = { id: id, data: collect(), saved: Date.now() };
    window.localStorage.setItem(draftKey, JSON.stringify(now));
    state.textContent = "草稿已保存";
    return now;
  }
  function saveDraft() {
    if (!draftKey) { return; }
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(writeDraft, 300);
  }

  async function submit(event) {
    event.preventDefault();
    submitted = true;
    const button = document.getElementById("submit-form");
    button.disabled = true;
    state.textContent = "正在提交…";
    summary.textContent = "";
    const kept = writeDraft();  // the draft as submitted: its id is the submission's idempotency key
    const headers = {};
    const body = collect();
    try {
      const r = await fetch(form.dataset.action, {
        method: "POST",
        credentials: "same-origin",
        headers: Object.assign({ "content-type": "application/json", accept: "application/json",
          "x-csrf-token": window.kaiban.csrf() }, kept && kept.id ? { "idempotency-key": kept.id } : headers),
        body: JSON.stringify(body),
      });
      const data = await r.json().catch(function () { return {}; });
      if (r.status === 202 || r.status === 200) {
        if (draftKey) { window.localStorage.removeItem(draftKey); }
        state.textContent = data.message || "已提交";
        window.location.assign(data.location);
        return;
      }
      const unplaced = r.status === 422 ? showErrors(data.errors || [], true) : [];
      summary.textContent = [data.detail || "提交未成功"].concat(unplaced).join("；");
      state.textContent = "";
      const first = form.querySelector(".field.invalid input, .field.invalid select, .field.invalid textarea");
      (first || summary).focus();
    } catch (e) {
      summary.textContent = "网络异常，未能提交，请稍后重试（草稿已保存）";
    } finally {
      button.disabled = false;
    }
  }

  // a material row's file: uploaded at once (POST /applications/materials), its SHA-256 and name filled in,
  // what was read shown beside it (text only: textContent, never markup)
  async function upload(input) {
    const prefix = input.dataset.upload.replace(/\.file$/, "");
    const out = document.getElementById(input.id + "-read");
    const error = document.getElementById(input.id + "-error");
    const file = input.files && input.files[0];
    if (!file) { return; }
    const kind = form.querySelector('[name="' + prefix + '.kind"]');
    const body = new FormData();
    body.append("file", file);
    body.append("kind", kind && kind.value ? kind.value : "other");
    out.textContent = "正在上传并识别…";
    error.textContent = "";
    try {
      const r = await fetch(form.dataset.upload, {
        method: "POST", credentials: "same-origin", body: body,
        headers: { accept: "application/json", "x-csrf-token": window.kaiban.csrf() },
      });
      const data = await r.json().catch(function () { return {}; });
      if (r.status !== 201) {
        out.textContent = "";
        error.textContent = data.detail || "上传未成功，请重试";
        return;
      }
      form.querySelector('[name="' + prefix + '.sha256"]').value = data.sha256;
      const name = form.querySelector('[name="' + prefix + '.filename"]');
      if (!name.value) { name.value = data.filename || file.name; }
      const read = (data.fields || []).map(function (f) {
        return f.label + "：" + f.value + "（把握 " + Math.round(f.confidence * 100) + "%" + (f.problem ? "，" + f.problem : "") + "）";
      });
      out.textContent = "已上传，文件摘要已填写。" + (read.length ? "识别结果：" + read.join("；")
        : (data.status === "unreadable" ? "未能识别，请人工核对。" : (data.status === "stored" ? "识别尚未完成。" : "")));
      touched.add(prefix + ".sha256");
      saveDraft();
      scheduleCheck();
    } catch (e) {
      out.textContent = "";
      error.textContent = "网络异常，未能上传，请稍后重试";
    }
  }

  form.addEventListener("focusout", function (e) {
    if (e.target.name && e.target.dataset.kind) { touched.add(e.target.name); scheduleCheck(); }
  });
  form.addEventListener("input", saveDraft);
  form.addEventListener("change", function (e) {
    if (e.target.dataset.upload) { upload(e.target); return; }
    if (e.target.name && /\.kind$/.test(e.target.name)) { showKinds(); }
    saveDraft();
  });
  form.addEventListener("click", function (e) {
    const add = e.target.closest(".add-row");
    const remove = e.target.closest(".remove-row");
    if (add) {
      const row = addRow(add.dataset.rows);
      row.querySelectorAll("select:not([data-optional])").forEach(function (s) { if (!s.value && s.options.length > 1) { s.selectedIndex = 1; } });
      showKinds();
      saveDraft();
      const first = row.querySelector("input, select");
      if (first) { first.focus(); }
    } else if (remove) {
      const row = remove.closest(".row");
      const path = row.dataset.row;
      const index = Array.prototype.indexOf.call(row.parentNode.children, row);
      const data = collect();
      getPath(data, path).splice(index, 1);
      fill(data);
      saveDraft();
      if (submitted) { scheduleCheck(); }
    }
  });
  form.addEventListener("submit", submit);
  window.addEventListener("pagehide", function () { if (saveTimer) { writeDraft(); } });
  const clear = document.getElementById("clear-draft");
  if (clear) {
    clear.addEventListener("click", function () {
      window.localStorage.removeItem(draftKey);
      touched.clear();
      submitted = false;
      fill(initial);
      showErrors([], false);
      summary.textContent = "";
      state.textContent = "草稿已清空";
    });
  }

  const kept = draftKey ? draft() : null;
  fill(kept && kept.data ? kept.data : initial);
  if (kept && kept.data) { state.textContent = "已恢复上次未提交的草稿"; }
})();
