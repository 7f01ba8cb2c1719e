"""A wheel install, not the editable checkout: ``pip install`` of the built wheel into a
fresh environment, run from a folder far from the repository, completes a small run and
renders its report (the corpora, metadata and report notebook ship inside the wheel).

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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


# nbconvert's templates are data files under the lending environment's share/jupyter
ENV = {**os.environ, "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter")}


def run(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    done = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, env=ENV)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


def test_wheel_install_runs_and_reports_from_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
        str(REPO), cwd=tmp_path)  # fmt: skip
    wheel = next(wheels.glob("aura_lab-*.whl"))
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
