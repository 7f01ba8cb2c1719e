"""A run folder travels between people: its report must be safe to open whoever made it.
Every text a folder holds (codec labels, the manifest's URL, warnings, notes, profile
name and run id, the summary's verdict lines) reaches the HTML as text, never as a tag,
and a run id naming another folder writes nothing there."""

from __future__ import annotations

import json
import subprocess
import sys
from html.parser import HTMLParser

import aura_lab

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)

    def handle_endtag(self, tag):
        self._in_script = False


def test_a_hostile_run_folder_renders_as_text_and_writes_nowhere_else(tmp_path):
    training = tmp_path / "data" / f"{IMG}.jsonl"  # a codec label from a file name, as a plug-in option
    training.parent.mkdir()
    training.write_text("\n".join(json.dumps({"text": f"training message number {i} " * 4}) for i in range(60)))
    run = aura_lab.run(
        codecs=f"deflate,zstd-dict:training={training},dict_size=2048",
        users=3,
        think_time="0",
        offline=True,
        quiet=True,
        progress=False,
        trace_dir=str(tmp_path / "shared" / "traces"),
    )
    folder = run.path
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["run_id"] = "x/../../../../PWNED"
    manifest["servers"][0]["url"] = f"ws://{SCRIPT}"
    manifest["warnings"] = [IMG, f"[click](javascript:alert(3)) {SCRIPT}"]
    manifest["notes"] = [SCRIPT]
    manifest["profile"]["name"] = IMG
    manifest["traffic"] = SCRIPT
    (folder / "manifest.json").write_text(json.dumps(manifest))
    summary = json.loads((folder / "summary.json").read_text())
    summary["verdict"]["lines"] = [*summary["verdict"]["lines"], IMG, SCRIPT]
    (folder / "summary.json").write_text(json.dumps(summary))

    done = subprocess.run(
        [sys.executable, "-m", "aura_lab", "report", str(folder)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    written = sorted(p for p in tmp_path.rglob("*.html"))
    assert [p.parent for p in written] == [folder], written  # nothing beside or above the folder
    assert not list(tmp_path.parent.glob("PWNED*")) and not list(tmp_path.glob("**/PWNED.html"))

    html = written[0].read_text(encoding="utf-8")
    parser = Tags()
    parser.feed(html)
    images = [attrs for tag, attrs in parser.tags if tag == "img"]
    assert images and all(a.get("src", "").startswith("data:image/png;base64,") for a in images)
    assert not any("onerror" in a for a in images)
    assert not any("alert" in script for script in parser.scripts)
    assert not any(attrs.get("href", "").startswith("javascript:") for _, attrs in parser.tags)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html  # shown as text: the reader sees what was there
