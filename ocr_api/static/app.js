// The upload form: many files at once, each uploaded with progress, followed through /events (SSE), its text
// read from /text as pages finish, then download links. Recent jobs are kept in localStorage.
// Plain browser JavaScript, no build step, nothing fetched from elsewhere.
"use strict";

(function () {
  const api = document.body.dataset.api; // "<root path>/v1"
  const form = document.getElementById("upload-form");
  const input = document.getElementById("files");
  const zone = document.getElementById("drop-zone");
  const chosenList = document.getElementById("chosen");
  const uploads = document.getElementById("uploads");
  const recentList = document.getElementById("recent");
  const message = document.getElementById("form-message");
  const RECENT_KEY = "ocr.recentJobs";
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
    const switches = {};
    for (const box of form.querySelectorAll("input[name=switch]")) switches[box.value] = box.checked;
    return { lang: checked("lang").join("+"), formats: checked("formats"), switches };
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
    for (const file of chosen) enqueue(file, options);
    chosen = [];
    renderChosen();
  });

  // -- one file ---------------------------------------------------------------------------------------------
  function enqueue(file, options) {
    const view = fileView(file.name);
    uploads.prepend(view.item);
    view.setState("waiting", "Waiting for its turn");
    waiting.push(() => upload(file, options, view));
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

  function upload(file, options, view) {
    view.setState("uploading", "Uploading");
    const data = new FormData();
    data.append("file", file, file.name);
    if (options.lang) data.append("lang", options.lang);
    data.append("formats", options.formats.join(","));
    for (const [name, on] of Object.entries(options.switches)) data.append(name, on ? "true" : "false");
    // XMLHttpRequest rather than fetch: only it reports upload progress.
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `${api}/jobs`);
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) view.uploadBar.value = Math.round((100 * event.loaded) / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status !== 202) {
        view.fail(errorText(xhr.status, xhr.responseText));
        finished();
        return;
      }
      view.uploadBar.value = 100;
      const job = JSON.parse(xhr.responseText);
      view.item.dataset.jobId = job.id;
      remember({ id: job.id, filename: file.name, formats: job.formats, created: job.created_at });
      follow(job, view);
    });
    xhr.addEventListener("error", () => {
      view.fail("The upload did not reach the service (network error, or a file over the upload limit).");
      finished();
    });
    xhr.send(data);
  }

  function follow(job, view) {
    view.setState("queued", "Queued");
    let pendingEnds = 2; // the event stream and the text stream
    const ended = () => {
      pendingEnds -= 1;
      if (pendingEnds === 0) finished();
    };
    const pages = new Set();
    const events = new EventSource(`${api}/jobs/${job.id}/events`);
    events.addEventListener("status", (event) => {
      const data = JSON.parse(event.data);
      if (data.status === "running") {
        view.setState("running", "Reading pages");
        if (data.pages_total) {
          view.pagesBar.max = data.pages_total;
          view.pagesText.textContent = `${pages.size} / ${data.pages_total}`;
        }
      } else if (data.status === "succeeded") {
        events.close();
        view.pagesBar.value = view.pagesBar.max;
        view.setState("succeeded", "Done");
        showLinks(view.links, job.id, job.formats, job.filename || "document");
        refreshRecent();
        ended();
      } else if (data.status === "failed") {
        events.close();
        const error = data.error || {};
        view.fail(`The job failed: ${error.message || error.code || "no reason given"}`);
        refreshRecent();
        ended();
      }
    });
    events.addEventListener("page", (event) => {
      pages.add(JSON.parse(event.data).page);
      view.pagesBar.value = pages.size;
      view.pagesText.textContent = `${pages.size} / ${view.pagesBar.max}`;
    });
    // EventSource reconnects by itself (sending Last-Event-ID) after a dropped connection.
    streamText(job.id, view).finally(ended);
  }

  async function streamText(jobId, view) {
    try {
      const response = await fetch(`${api}/jobs/${jobId}/text`);
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
      container.append(link);
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
    fetch(`${api}/jobs/${entry.id}`)
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

  refreshRecent();
})();
