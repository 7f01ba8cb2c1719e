"""``aura-lab report RUN``: execute the report notebook on a run and write one HTML file.

The HTML is self-contained: charts are embedded PNGs with their alt text, and nothing
is fetched from the network when it is opened (the ``aura_report`` template drops the
require.js, MathJax, Mermaid and widget scripts of JupyterLab's). It names the run in
its title and first heading, and shows no code cells unless ``--show-code`` is given.
The kernel runs over IPC (local socket files), not TCP, so it has no unencrypted port
to warn about, and its own stdout and stderr go to a log file, never to the user's
terminal: jupyter_client interrupts a kernel before shutting it down, and under load the
kernel logged "KeyboardInterrupt caught in kernel." beside the command's own lines.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Any

from jupyter_client.manager import AsyncKernelManager
from traitlets import CaselessStrEnum

from .. import paths
from ..analysis.run import load_run
from ..errors import InputError
from ..traces.folder import RunFolder

TEMPLATE = "aura_report"


class LocalKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel talks over IPC (the kernel is on this machine, and
    TCP would open unencrypted ports, which ipykernel warns about on every report) and
    writes its own output to ``kernel_log``, not to the terminal of the command that
    started it."""

    transport = CaselessStrEnum(["tcp", "ipc"], default_value="ipc", config=True)
    kernel_log: Path | None = None  # set on a subclass per execution (papermill makes the instance)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
        if self.kernel_log is None:
            return await super()._async_launch_kernel(kernel_cmd, **kw)
        with open(self.kernel_log, "ab") as log:  # the child keeps its own copy of the descriptor
            kw.update(stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            return await super()._async_launch_kernel(kernel_cmd, **kw)


def _kernel_log_tail(log: Path, lines: int = 20) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def execute_notebook(
    notebook: str | Path, output: str | Path, parameters: dict, cwd: str | Path | None = None, timeout: int = 600
) -> Path:
    """Run a notebook with papermill (parameters injected after its ``parameters`` cell).
    A cell that stops on bad input (``InputError`` in the kernel: a run folder without
    its traces, say) raises it here, one line; any other failure raises papermill's
    error with the cell's traceback."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook)
    if not notebook.exists():
        raise InputError(
            "notebook not found",
            where=str(notebook),
            fix="the analysis notebooks are in the repository's notebooks/ folder",
        )
    with tempfile.TemporaryDirectory(prefix="aura-lab-kernel-") as scratch:
        kernel_log = Path(scratch) / "kernel.log"
        manager = type("KernelManager", (LocalKernelManager,), {"kernel_log": kernel_log})
        try:
            papermill.execute_notebook(
                str(notebook),
                str(output),
                parameters=parameters,
                cwd=str(cwd or notebook.parent),
                progress_bar=False,
                execution_timeout=timeout,
                kernel_name="python3",
                log_output=False,
                kernel_manager_class=manager,
            )
        except PapermillExecutionError as exc:
            if exc.ename == "InputError":
                raise InputError(exc.evalue) from None
            raise
        except Exception as exc:  # the kernel died or never started: what it said is the clue
            tail = _kernel_log_tail(kernel_log)
            if tail:
                exc.add_note(f"the kernel's own output (last lines):\n{tail}")
            raise
    return Path(output)


def notebook_to_html(notebook: str | Path, output: str | Path, title: str, show_code: bool = False) -> Path:
    import nbformat
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(
        template_name=TEMPLATE,
        extra_template_basedirs=[str(paths.REPORT_TEMPLATES)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(
        nbformat.read(str(notebook), as_version=4), resources={"metadata": {"name": title}}
    )
    return paths.write_atomic(output, body)


def render_report(run_path: str | Path, output: str | Path | None = None, show_code: bool = False) -> Path:
    """Execute the report notebook on the run (a run folder, the peer's trace folder, or
    an export: ``analysis.run.load_run``); the HTML goes into the run's folder by default
    (beside an export file)."""
    run_path = Path(run_path).resolve()
    run = load_run(run_path)  # a clear error now rather than inside the kernel
    folder = RunFolder(run_path)
    counted = sum(int(c.get("messages") or 0) for c in (run.summary.get("codecs") or {}).values())
    if folder.is_run() and folder.traces_dir.is_dir() and not folder.parts() and counted:
        raise InputError(
            f"traces/ holds no trace part, while the summary counts {counted:,} records: the records are gone",
            where=str(run_path),
            fix="put the run's part-*.parquet files back in traces/, or read its summary with aura_lab.load_run",
        )
    beside = run_path if run_path.is_dir() else run_path.parent
    output = Path(output) if output else beside / f"report-{paths.file_name_part(run.run_id)}.html"
    with tempfile.TemporaryDirectory(prefix="aura-lab-report-") as tmp:
        executed = execute_notebook(
            paths.REPORT_NOTEBOOK, Path(tmp) / "report.ipynb", {"run_path": str(run_path)}, cwd=tmp
        )
        return notebook_to_html(executed, output, f"aura-lab report: run {run.run_id}", show_code)
