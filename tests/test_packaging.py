"""A wheel install, not the editable checkout: ``pip install`` of the built wheel into a
fresh environment, run from a folder far from the repository, completes a small run and
renders its report (the corpora, metadata and report notebook ship inside the wheel).
The corpora live once, in the repository's top-level ``corpora/``; the wheel carries them
as the data package ``aura_lab.corpora`` (pyproject.toml maps it to ``corpora/``).

The fresh environment takes the third-party packages from this one (a ``.pth`` line to
its site-packages, whose own ``.pth`` files, the editable install among them, are not
read), so the test checks only what the wheel itself carries (building it fetches the
build backend from the package registry, as any ``pip install .`` does)."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# nbconvert's templates are data files under the lending environment's share/jupyter; a
# PYTHONPATH pointing at a checkout would put the checkout ahead of the wheel's copy
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
ENV["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def test_every_folder_of_python_is_a_listed_package():
    # the packages are listed, not found (aura_lab.corpora is mapped from outside aura_lab/):
    # a new folder of modules left off the list would be missing from the wheel
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    folders = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "aura_lab").rglob("*.py")}
    assert set(setuptools["packages"]) == folders | {"aura_lab.corpora"}
    assert setuptools["package-dir"] == {"aura_lab.corpora": "corpora"}


def test_wheel_install_runs_and_reports_from_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
        str(REPO), cwd=tmp_path)  # fmt: skip
    wheel = next(wheels.glob("aura_lab-*.whl"))
    # the repository's corpora/, once, and inside the wheel as the package's corpora/
    assert not (REPO / "aura_lab" / "corpora").exists()
    bundled = {p.name for p in (REPO / "corpora").iterdir() if p.suffix in (".jsonl", ".json")}
    carried = {n.removeprefix("aura_lab/corpora/") for n in zipfile.ZipFile(wheel).namelist()
               if n.startswith("aura_lab/corpora/")}  # fmt: skip
    assert carried == bundled and "metadata.json" in bundled
    env = tmp_path / "env"
    run(sys.executable, "-m", "venv", "--without-pip", str(env), cwd=tmp_path)
    python = env / "bin" / "python"
    run(sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index", str(wheel),
        cwd=tmp_path)  # fmt: skip
    env_site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                        cwd=tmp_path).stdout.strip())  # fmt: skip
    (env_site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    assert site.getsitepackages()  # this environment has site-packages to lend

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run(str(python), "-c", "import aura_lab; print(aura_lab.__file__)", cwd=elsewhere).stdout.strip()
    assert str(env) in where and str(REPO) not in where  # the wheel's copy, not the checkout
    run(str(env / "bin" / "aura-lab"), "run", "--users", "2", "--turns", "2-3", "--think-time", "0",
        "--codec", "identity,deflate", "--run-id", "wheel", "--quiet", cwd=elsewhere)  # fmt: skip
    folder = elsewhere / "data" / "traces" / "wheel"
    assert (folder / "manifest.json").is_file() and (folder / "summary.json").is_file()
    # the default (assistant) profile composed its traffic from the corpora inside the wheel
    texts = [t["path"] for t in json.loads((folder / "manifest.json").read_text())["files"]["texts"]]
    assert [Path(t).name for t in texts] == ["answers.jsonl", "human.jsonl"] and all(str(env) in t for t in texts)
    run(str(env / "bin" / "aura-lab"), "report", str(folder), cwd=elsewhere)
    html = (folder / "report-wheel.html").read_text(encoding="utf-8")
    assert "aura-lab report: run wheel" in html and "<img" in html
