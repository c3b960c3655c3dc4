"""The pages a link shows: the progress page (or, for a link from another site, what it would
pull and a "Pull" button) and the page of a refused link. Every value from the link is escaped;
the page's data travels as JSON that cannot close its script element."""

from __future__ import annotations

import html
import json
from string import Template

from jupyter_server.utils import url_path_join

_STYLE = """
:root { color-scheme: light dark; --accent: #f37726; --muted: #6b6b6b; --line: #ddd; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0;
       background: Canvas; color: CanvasText; }
main { max-width: 46rem; margin: 8vh auto; padding: 1.5rem 2rem; border: 1px solid var(--line);
       border-radius: 10px; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; } h1 span { color: var(--accent); }
p.lead { color: var(--muted); margin: 0 0 1.25rem; }
ol { list-style: none; padding: 0; margin: 0; }
li { padding: .6rem 0; border-top: 1px solid var(--line); }
li .where { font-family: ui-monospace, monospace; font-size: .85rem; word-break: break-all; }
li .state { font-size: .9rem; color: var(--muted); }
li.failed .state { color: #c62828; } li.done .state { color: #2e7d32; }
progress { width: 100%; height: .5rem; accent-color: var(--accent); }
.notice { border-left: 4px solid var(--accent); padding: .5rem .9rem; margin: 0 0 1rem;
          background: color-mix(in srgb, var(--accent) 8%, transparent); }
button, a.button { font: inherit; padding: .4rem 1.1rem; border-radius: 6px; cursor: pointer;
         border: 1px solid var(--accent); background: var(--accent); color: white; text-decoration: none; }
a.button.plain, button.plain { background: transparent; color: CanvasText; border-color: var(--line); }
#status { margin-top: 1rem; min-height: 1.5em; }
"""

_SCRIPT = """
const data = JSON.parse(document.getElementById("ipy-storage-data").textContent);
const rows = [...document.querySelectorAll("li")];
const say = (text) => { document.getElementById("status").textContent = text; };
const row = (i) => ({ state: rows[i].querySelector(".state"), bar: rows[i].querySelector("progress") });
function mark(i, cls, text) { rows[i].className = cls; row(i).state.textContent = text; }
function start() {
  document.getElementById("ask")?.remove();
  say("Starting…");
  fetch(location.href, { method: "POST", credentials: "same-origin",
                         headers: { "X-XSRFToken": data.xsrf } })
    .then((r) => r.ok ? r.json() : r.text().then((t) => { throw new Error(r.status + " " + t); }))
    .then((job) => listen(job.events))
    .catch((e) => say("Could not start: " + e.message));
}
function listen(url) {
  const events = new EventSource(url);
  const on = (type, f) => events.addEventListener(type, (e) => f(JSON.parse(e.data)));
  on("start", (e) => { mark(e.index, "running", "Pulling…"); say("Pulling…"); });
  on("progress", (e) => {
    const r = row(e.index);
    if (e.total) { r.bar.max = e.total; r.bar.value = e.done; } else r.bar.removeAttribute("value");
    const count = e.total ? ` ${e.done} of ${e.total}` : "";
    const told = e.message && e.message.toLowerCase().startsWith(e.stage.toLowerCase());
    r.state.textContent = told ? e.message + count : e.stage + count + (e.message ? ` · ${e.message}` : "");
  });
  on("result", (e) => {
    let text = "Done: " + e.summary;
    if (e.kept.length) text += ` · your version kept: ${e.kept.join(", ")}`;
    if (e.merged.length) text += ` · merged with your edits: ${e.merged.join(", ")}`;
    const r = row(e.index); r.bar.max = 1; r.bar.value = 1;
    mark(e.index, "done", text);
  });
  on("failed", (e) => mark(e.index, "failed", e.message));
  on("done", (e) => {
    events.close();
    if (e.ok) { say("Opening…"); setTimeout(() => location.replace(e.redirect), 700); }
    else { document.getElementById("status").innerHTML = ""; say("Some sources could not be pulled (see above). ");
           const a = document.createElement("a"); a.href = e.redirect; a.textContent = "Open JupyterLab";
           a.className = "button plain"; document.getElementById("status").append(a); }
  });
}
if (data.startAtOnce) start();
else document.getElementById("pull").addEventListener("click", start);
"""

_PAGE = Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>$title</title><style>$style</style></head>
<body><main>$body</main>$script</body></html>""")


def _item(item: dict) -> str:
    return (
        f"<li><div class='where'>{html.escape(item['source'])} → "
        f"<b>{html.escape(item['folder'])}/</b></div>"
        f"<progress value='0' max='1'></progress><div class='state'>Waiting</div></li>"
    )


def progress_page(
    items: list[dict], opens: str | None, start_at_once: bool, xsrf: str, base_url: str
) -> str:
    count = f"{len(items)} sources" if len(items) > 1 else "1 source"
    ask = ""
    if not start_at_once:
        lab = html.escape(url_path_join(base_url, "lab"))
        ask = (
            "<div id='ask' class='notice'><p>This link was opened from another site. It pulls "
            f"the {count} below into your folders (your own edits there are kept).</p>"
            "<p><button id='pull'>Pull</button> "
            f"<a class='button plain' href='{lab}'>Cancel</a></p></div>"
        )
    opening = f" then opens <b>{html.escape(opens)}</b>" if opens else ""
    data = json.dumps({"startAtOnce": start_at_once, "xsrf": xsrf}).replace("<", "\\u003c")
    body = (
        f"<h1><span>ipy_storage</span> · pulling into your workspace</h1>"
        f"<p class='lead'>{count}{opening}.</p>{ask}"
        f"<ol>{''.join(_item(item) for item in items)}</ol><div id='status'></div>"
    )
    script = (
        f"<script id='ipy-storage-data' type='application/json'>{data}</script>"
        f"<script>{_SCRIPT}</script>"
    )
    return _PAGE.substitute(title="Pulling…", style=_STYLE, body=body, script=script)


def error_page(message: str, base_url: str) -> str:
    lab = html.escape(url_path_join(base_url, "lab"))
    body = (
        "<h1><span>ipy_storage</span> · this link cannot be followed</h1>"
        f"<div class='notice'><p id='reason'>{html.escape(message)}</p></div>"
        "<p>Nothing was pulled. Ask whoever sent the link to fix it.</p>"
        f"<p><a class='button plain' href='{lab}'>Open JupyterLab</a></p>"
    )
    return _PAGE.substitute(title="Link refused", style=_STYLE, body=body, script="")
