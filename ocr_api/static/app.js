// The upload form: many files at once, each uploaded with progress, followed through /events (SSE), its text
// read from /text as pages finish, then download links; the files chosen together become one batch
// (POST /v1/batches/from-jobs once their uploads are done) with a "Download all" link to its results.zip. Recent jobs are kept in localStorage, and so is the
// API key when the service asks for one (401): every request sends it as X-API-Key, which is why the event
// stream is read with fetch rather than EventSource (that cannot send headers).
// Plain browser JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

(function () {
  const api = document.body.dataset.api; // "<root path>/v1"
  const form = document.getElementById("upload-form");
  const input = document.getElementById("files");
  const zone = document.getElementById("drop-zone");
  const chosenList = document.getElementById("chosen");
  const uploads = document.getElementById("uploads");
  const groups = document.getElementById("groups");
  const recentList = document.getElementById("recent");
  const message = document.getElementById("form-message");
  const keyBox = document.getElementById("key-box");
  const keyForm = document.getElementById("key-form");
  const keyInput = document.getElementById("api-key");
  const keyMessage = document.getElementById("key-message");
  const keyStatus = document.getElementById("key-status");
  const RECENT_KEY = "ocr.recentJobs";
  const API_KEY = "ocr.apiKey";
  const RECONNECT_MS = 2000;
  const RECENT_MAX = 25;
  // A browser opens about six connections to one server; each file being followed holds two (events, text).
  const ACTIVE_MAX = 2;
  let chosen = [];
  let active = 0;
  const waiting = [];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // -- the API key ----------------------------------------------------------------------------------------
  function apiKey() {
    return localStorage.getItem(API_KEY) || "";
  }

  function withKey(headers) {
    const all = { ...(headers || {}) };
    const key = apiKey();
    if (key) all["X-API-Key"] = key;
    return all;
  }

  function askForKey(text) {
    keyMessage.textContent = text;
    keyBox.hidden = false;
    keyStatus.hidden = true;
  }

  function showKeyState() {
    keyStatus.hidden = !apiKey();
  }

  // fetch with the key; a 401 opens the key box (the response still goes to the caller)
  async function apiFetch(url, init) {
    const response = await fetch(url, { ...(init || {}), headers: withKey(init && init.headers) });
    if (response.status === 401) {
      askForKey(apiKey() ? "The stored API key was not accepted (unknown or revoked): enter another."
        : "This service needs an API key: enter yours.");
    }
    return response;
  }

  keyForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    localStorage.setItem(API_KEY, key);
    keyInput.value = "";
    keyBox.hidden = true;
    showKeyState();
    refreshRecent();
  });
  document.getElementById("forget-key").addEventListener("click", () => {
    localStorage.removeItem(API_KEY);
    showKeyState();
    probeAccess();
  });

  function probeAccess() {
    apiFetch(`${api}/jobs?limit=1`).catch(() => {});
  }

  // -- choosing files -------------------------------------------------------------------------------------
  function addFiles(files) {
    for (const file of files) chosen.push(file);
    renderChosen();
  }

  function renderChosen() {
    chosenList.replaceChildren(...chosen.map((f) => el("li", {}, `${f.name} (${formatSize(f.size)})`)));
    message.textContent = "";
  }

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  }

  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = "";
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragover");
    });
  }
  zone.addEventListener("dragleave", () => zone.classList.remove("dragover"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragover");
    if (event.dataTransfer && event.dataTransfer.files) addFiles(event.dataTransfer.files);
  });

  function readOptions() {
    const checked = (name) => [...form.querySelectorAll(`input[name=${name}]:checked`)].map((i) => i.value);
    // One checkbox per switch of JobOptions (rendered by ocr_api/routes/ui.py): each is sent, on or off.
    const switches = {};
    for (const box of form.querySelectorAll("input[name=switch]")) switches[box.value] = box.checked;
    const pages = form.querySelector("input[name=pages]").value.trim();
    return { lang: checked("lang").join("+"), formats: checked("formats"), switches, pages };
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const options = readOptions();
    if (!chosen.length) {
      message.textContent = "Choose or drop at least one file first.";
      return;
    }
    if (!options.formats.length) {
      message.textContent = "Pick at least one output format.";
      return;
    }
    const group = newGroup(chosen.length);
    for (const file of chosen) enqueue(file, options, group);
    chosen = [];
    renderChosen();
  });

  // -- files chosen together: one batch, one "Download all" ----------------------------------------------
  function newGroup(count) {
    return { count, settled: 0, jobs: [], ended: 0, batch: null, view: null };
  }

  // An upload answered (accepted or refused): once all have, the accepted jobs (two or more) become a batch.
  function uploadSettled(group, jobId) {
    group.settled += 1;
    if (jobId) group.jobs.push(jobId);
    if (group.settled === group.count && group.jobs.length >= 2) makeBatch(group);
  }

  async function makeBatch(group) {
    const view = el("p", { class: "group", "data-state": "waiting" });
    view.append(el("span", {}, `${group.jobs.length} files uploaded together. `));
    const status = el("span", { class: "state", role: "status" }, "Download all: when every file has finished.");
    view.append(status);
    groups.prepend(view);
    group.view = { item: view, status };
    try {
      const response = await apiFetch(`${api}/batches/from-jobs`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ jobs: group.jobs }),
      });
      const body = await response.text();
      if (response.status !== 201) {
        view.dataset.state = "failed";
        status.textContent = `No "Download all": ${errorText(response.status, body)}`;
        return;
      }
      group.batch = JSON.parse(body);
      view.dataset.batchId = group.batch.id;
      showDownloadAll(group);
    } catch (e) {
      view.dataset.state = "failed";
      status.textContent = "No \"Download all\": the service could not be reached.";
    }
  }

  function jobEnded(group) {
    if (!group) return;
    group.ended += 1;
    showDownloadAll(group);
  }

  function showDownloadAll(group) {
    if (!group.batch || group.ended < group.jobs.length) return;
    const name = `ocr-results-${group.batch.id.slice(0, 8)}.zip`;
    const link = el("a", { href: group.batch.links.results, class: "download-all", download: name },
      "Download all (ZIP)");
    link.addEventListener("click", (event) => {
      if (!apiKey()) return; // no key: the browser saves the streamed archive itself
      event.preventDefault();
      download(link.href, name, link);
    });
    group.view.item.dataset.state = "ready";
    group.view.status.replaceChildren(link);
  }

  // -- one file ---------------------------------------------------------------------------------------------
  function enqueue(file, options, group) {
    const view = fileView(file.name);
    uploads.prepend(view.item);
    view.setState("waiting", "Waiting for its turn");
    waiting.push(() => upload(file, options, view, group));
    next();
  }

  function next() {
    while (active < ACTIVE_MAX && waiting.length) {
      active += 1;
      waiting.shift()();
    }
  }

  function finished() {
    active -= 1;
    next();
  }

  function fileView(name) {
    const item = el("li", { class: "job", "data-state": "waiting" });
    const head = el("div", { class: "job-head" });
    head.append(el("span", { class: "job-name" }, name));
    const state = el("span", { class: "state", role: "status" });
    head.append(state);
    const uploadBar = el("progress", { max: "100", value: "0", "aria-label": `Upload of ${name}` });
    const pagesBar = el("progress", { max: "1", value: "0", "aria-label": `Pages of ${name} done` });
    const pagesText = el("span", { class: "pages" }, "");
    const uploadRow = el("div", { class: "bar" });
    uploadRow.append(el("span", {}, "Upload"), uploadBar, el("span", {}, ""));
    const pagesRow = el("div", { class: "bar" });
    pagesRow.append(el("span", {}, "Pages"), pagesBar, pagesText);
    const text = el("pre", { class: "text", tabindex: "0", "aria-label": `Text of ${name}` });
    const links = el("p", { class: "links" });
    const error = el("p", { class: "error", role: "alert" });
    item.append(head, uploadRow, pagesRow, text, links, error);
    return {
      item, uploadBar, pagesBar, pagesText, text, links,
      setState(code, label) {
        item.dataset.state = code;
        state.textContent = label;
      },
      fail(text) {
        item.dataset.state = "failed";
        state.textContent = "Failed";
        error.textContent = text;
      },
    };
  }

  function errorText(status, body) {
    try {
      const parsed = JSON.parse(body);
      if (parsed && parsed.error) return `${status}: ${parsed.error.message}`;
    } catch (e) {
      // not JSON: fall through
    }
    return `${status}: ${body || "the server gave no reason"}`;
  }

  function upload(file, options, view, group) {
    view.setState("uploading", "Uploading");
    const data = new FormData();
    data.append("file", file, file.name);
    if (options.lang) data.append("lang", options.lang);
    data.append("formats", options.formats.join(","));
    for (const [name, on] of Object.entries(options.switches)) data.append(name, on ? "true" : "false");
    if (options.pages) data.append("pages", options.pages);
    // XMLHttpRequest rather than fetch: only it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${api}/jobs`);
    for (const [name, value] of Object.entries(withKey())) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) view.uploadBar.value = Math.round((100 * event.loaded) / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status !== 202) {
        if (xhr.status === 401) askForKey("This service needs an API key: enter yours, then upload again.");
        view.fail(errorText(xhr.status, xhr.responseText));
        finished();
        uploadSettled(group, null);
        return;
      }
      view.uploadBar.value = 100;
      const job = JSON.parse(xhr.responseText);
      view.item.dataset.jobId = job.id;
      remember({ id: job.id, filename: file.name, formats: job.formats, created: job.created_at });
      follow(job, view, group);
      uploadSettled(group, job.id);
    });
    xhr.addEventListener("error", () => {
      view.fail("The upload did not reach the service (network error, or a file over the upload limit).");
      finished();
      uploadSettled(group, null);
    });
    xhr.send(data);
  }

  function follow(job, view, group) {
    view.setState("queued", "Queued");
    let pendingEnds = 2; // the event stream and the text stream
    const ended = () => {
      pendingEnds -= 1;
      if (pendingEnds === 0) finished();
    };
    const pages = new Set();
    const onEvent = (type, raw) => {
      const data = JSON.parse(raw);
      if (type === "page") {
        pages.add(data.page);
        view.pagesBar.value = pages.size;
        view.pagesText.textContent = `${pages.size} / ${view.pagesBar.max}`;
        return false;
      }
      if (type !== "status") return false;
      if (data.status === "running") {
        view.setState("running", "Reading pages");
        if (data.pages_total) {
          view.pagesBar.max = data.pages_total;
          view.pagesText.textContent = `${pages.size} / ${data.pages_total}`;
        }
        return false;
      }
      if (data.status === "succeeded") {
        view.pagesBar.value = view.pagesBar.max;
        view.setState("succeeded", "Done");
        showLinks(view.links, job.id, job.formats, job.filename || "document");
      } else if (data.status === "failed") {
        const error = data.error || {};
        view.fail(`The job failed: ${error.message || error.code || "no reason given"}`);
      } else if (data.status === "cancelled") {
        view.fail("The job was cancelled.");
      } else {
        return false;
      }
      jobEnded(group);
      refreshRecent();
      return true;
    };
    followEvents(job.id, onEvent).finally(ended);
    streamText(job.id, view).finally(ended);
  }

  // Server-Sent Events read with fetch (so the key goes along), resuming after the last event id when the
  // connection drops, as EventSource would. Ends once `onEvent` says the job has ended.
  async function followEvents(jobId, onEvent) {
    let lastId = null;
    for (;;) {
      try {
        const headers = lastId === null ? {} : { "Last-Event-ID": lastId };
        const response = await apiFetch(`${api}/jobs/${jobId}/events`, { headers });
        if (!response.ok || !response.body) return;
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        let received = 0;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) {
            if (!received) return; // ended with nothing new: the job ended before this connection
            break;
          }
          buffer += decoder.decode(value, { stream: true });
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const message = parseEvent(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            if (message.id !== null) {
              lastId = message.id;
              received += 1;
            }
            if (message.data !== null && onEvent(message.type, message.data)) {
              reader.cancel().catch(() => {});
              return;
            }
          }
        }
      } catch (e) {
        // dropped: resume below
      }
      await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
    }
  }

  function parseEvent(block) {
    const message = { type: "message", data: null, id: null };
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") message.type = value;
      else if (field === "id") message.id = value;
      else if (field === "data") message.data = message.data === null ? value : `${message.data}\n${value}`;
    }
    return message;
  }

  async function streamText(jobId, view) {
    try {
      const response = await apiFetch(`${api}/jobs/${jobId}/text`);
      if (!response.ok || !response.body) return;
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        view.text.textContent += decoder.decode(value, { stream: true }).replaceAll("\f", "\n\u2014 next page \u2014\n");
      }
      view.text.textContent += decoder.decode();
    } catch (e) {
      // The preview is a convenience: the result files are the real output.
    } finally {
      view.item.dataset.text = "complete";
    }
  }

  function showLinks(container, jobId, formats, filename) {
    const stem = filename.replace(/\.[^.]*$/, "");
    container.replaceChildren(el("span", {}, "Download: "));
    for (const fmt of formats) {
      const link = el("a", { href: `${api}/jobs/${jobId}/result.${fmt}`, "aria-label": `Download ${stem}.${fmt}` },
        fmt.toUpperCase());
      link.dataset.format = fmt;
      link.addEventListener("click", (event) => {
        if (!apiKey()) return; // no key: a plain link does
        event.preventDefault();
        download(link.href, `${stem}.${fmt}`, link);
      });
      container.append(link);
    }
  }

  // A link cannot send the key: fetch the file with it, then hand the browser the bytes to save.
  async function download(url, name, link) {
    try {
      const response = await apiFetch(url);
      if (!response.ok) {
        link.dataset.download = `failed ${response.status}`;
        return;
      }
      const blob = await response.blob();
      const saver = el("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(saver);
      saver.click();
      saver.remove();
      setTimeout(() => URL.revokeObjectURL(saver.href), 60000);
      link.dataset.download = `saved ${blob.size}`;
    } catch (e) {
      link.dataset.download = "failed";
    }
  }

  // -- recent jobs (this browser only) ------------------------------------------------------------------
  function loadRecent() {
    try {
      const list = JSON.parse(localStorage.getItem(RECENT_KEY) || "[]");
      return Array.isArray(list) ? list : [];
    } catch (e) {
      return [];
    }
  }

  function remember(entry) {
    const list = [entry, ...loadRecent().filter((j) => j.id !== entry.id)].slice(0, RECENT_MAX);
    localStorage.setItem(RECENT_KEY, JSON.stringify(list));
    refreshRecent();
  }

  function refreshRecent() {
    const list = loadRecent();
    recentList.replaceChildren(...list.map(recentItem));
    if (!list.length) recentList.append(el("li", {}, "None yet."));
  }

  function recentItem(entry) {
    const item = el("li", { "data-job-id": entry.id });
    item.append(el("span", { class: "job-name" }, entry.filename));
    const when = entry.created ? new Date(entry.created).toLocaleString() : "";
    item.append(el("span", { class: "when" }, when));
    const state = el("span", { class: "state" }, "checking");
    const links = el("span", { class: "links" });
    item.append(state, links);
    apiFetch(`${api}/jobs/${entry.id}`)
      .then(async (response) => {
        if (response.status === 404) {
          state.textContent = "deleted on the server";
          return;
        }
        const job = await response.json();
        state.textContent = job.status === "failed" && job.error ? `failed: ${job.error.message}` : job.status;
        if (job.status === "succeeded") showLinks(links, job.id, job.formats, entry.filename);
      })
      .catch(() => {
        state.textContent = "service unreachable";
      });
    return item;
  }

  document.getElementById("clear-recent").addEventListener("click", () => {
    localStorage.removeItem(RECENT_KEY);
    refreshRecent();
  });

  showKeyState();
  probeAccess();
  refreshRecent();
})();
