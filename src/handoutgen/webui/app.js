// handoutgen's only script (the Content-Security-Policy allows no inline code).
"use strict";

// Designer preview: reload the pages when a workspace file changes.
function designer(el) {
  const doc = el.dataset.document;
  const token = el.dataset.token;
  let version = el.dataset.version;
  const pages = document.getElementById("pages");
  async function load() {
    const r = await fetch("/design/" + encodeURIComponent(doc) + "/pages", {
      cache: "no-store", credentials: "same-origin", headers: {"X-Handoutgen-Token": token},
    });
    if (r.status === 429) return; // refreshed too often: the next change loads it
    const html = await r.text();
    if (r.headers.get("X-Handoutgen-Preview") === "error" && pages.querySelector("img")) {
      // A broken edit: keep the last good pages, dimmed, with the error over them.
      let overlay = document.getElementById("preview-error");
      if (!overlay) {
        overlay = document.createElement("div");
        overlay.id = "preview-error";
        overlay.className = "preview-error";
        pages.prepend(overlay);
      }
      overlay.innerHTML = html;
      const note = document.createElement("p");
      note.className = "hint";
      note.textContent = "Showing the last pages that rendered; they update when the error is fixed.";
      overlay.append(note);
      pages.classList.add("stale");
      return;
    }
    pages.classList.remove("stale");
    pages.innerHTML = html;
  }
  async function poll() {
    try {
      const r = await fetch("/api/version", {cache: "no-store", credentials: "same-origin"});
      if (r.ok) {
        const v = (await r.json()).version;
        if (v !== version) { version = v; await load(); }
      }
    } catch (e) { /* the server restarts: keep polling */ }
    setTimeout(poll, 1000);
  }
  load().then(poll);
}

// Print: fetch the PDF, open it in a hidden frame and call the browser's print.
// Without script the button still works: it opens the PDF in a new tab.
function printer(form, button) {
  const status = document.getElementById("status");
  let frame = null;
  button.addEventListener("click", async (event) => {
    event.preventDefault();
    const data = new URLSearchParams(new FormData(form));
    data.set("inline", "1");
    status.textContent = "Making the PDF…";
    button.disabled = true;
    try {
      const r = await fetch("/render", {method: "POST", body: data, credentials: "same-origin"});
      const type = r.headers.get("content-type") || "";
      if (!r.ok || !type.startsWith("application/pdf")) {
        // An error page (a mistake in the form, busy, signed out): show it.
        status.textContent = "";
        const html = await r.text();
        const doc = new DOMParser().parseFromString(html, "text/html");
        const alert = doc.querySelector("[role=alert]");
        status.textContent = alert ? alert.textContent.replace(/\s+/g, " ").trim() : "Nothing was printed.";
        return;
      }
      const url = URL.createObjectURL(await r.blob());
      if (frame) { URL.revokeObjectURL(frame.src); frame.remove(); }
      frame = document.createElement("iframe");
      frame.className = "print-frame";
      frame.title = "PDF to print";
      frame.dataset.filename = (/filename="([^"]+)"/.exec(r.headers.get("content-disposition") || "") || [])[1] || "";
      frame.addEventListener("load", () => {
        try {
          // A page may supply its own printer (the end-to-end test does: a
          // headless browser has no print dialog).
          if (typeof window.handoutgenPrint === "function") { window.handoutgenPrint(frame); return; }
          frame.contentWindow.focus();
          frame.contentWindow.print();
        } catch (e) {
          window.open(url, "_blank"); // no PDF viewer in a frame: open it to print from there
        }
      });
      frame.src = url;
      document.body.appendChild(frame);
      status.textContent = "Sent to print.";
    } catch (e) {
      status.textContent = "The server did not answer; try again.";
    } finally {
      button.disabled = false;
    }
  });
}

// A tri-fold or booklet holds only so many options: once that many are ticked,
// the others are disabled (the server refuses more in any case).
function optionLimit(fieldset) {
  const max = Number(fieldset.dataset.max);
  const boxes = Array.from(fieldset.querySelectorAll("input[type=checkbox]"));
  function update() {
    const full = boxes.filter((b) => b.checked).length >= max;
    for (const b of boxes) b.disabled = full && !b.checked;
  }
  for (const b of boxes) b.addEventListener("change", update);
  update();
}

document.addEventListener("DOMContentLoaded", () => {
  const limited = document.querySelector("fieldset.option-limit");
  if (limited) optionLimit(limited);
  const design = document.getElementById("design");
  if (design) designer(design);
  const form = document.querySelector("form.handout");
  const button = document.getElementById("print");
  if (form && button) printer(form, button);
  // After Preview on a narrow screen the pages are below the form: show them.
  const first = document.querySelector("section.pages img");
  if (first && window.matchMedia("(max-width: 900px)").matches) first.scrollIntoView();
});
