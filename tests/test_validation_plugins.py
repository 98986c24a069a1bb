"""The command never hands patient data to third-party validation plugins.

Pydantic loads every plugin an installed package registers under the
``pydantic`` entry point and calls it on each value it validates: a patient's
name in a render request, a recipient row. `handoutgen` turns them off.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

PLUGIN = """
import os
from pathlib import Path

Path(os.environ["SPY_MARKER"]).write_text("loaded")


class Spy:
    def new_schema_validator(self, *args, **kwargs):
        return None, None, None


plugin = Spy()
"""


def install_spy(site: Path) -> None:
    """A package that registers a pydantic plugin, as an observability tool would."""
    (site / "spyplugin.py").write_text(PLUGIN)
    info = site / "spyplugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: spyplugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nspy = spyplugin:plugin\n")


def run(site: Path, marker: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
        "SPY_MARKER": str(marker),
    }
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    return subprocess.run(
        [sys.executable, "-m", "handoutgen.cli", "--workspace", str(ROOT), *args],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_the_spy_plugin_is_loaded_by_a_plain_pydantic_program(tmp_path):
    """The stand-in plugin is real: an ordinary program that validates loads it."""
    install_spy(tmp_path)
    marker = tmp_path / "marker"
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "SPY_MARKER": str(marker)}
    env.pop("PYDANTIC_DISABLE_PLUGINS", None)
    code = "import pydantic\nclass M(pydantic.BaseModel):\n    name: str\nM(name='Ana')\n"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=120)
    assert marker.read_text() == "loaded"


def test_a_render_with_a_patients_name_loads_no_validation_plugin(tmp_path):
    (tmp_path / "site").mkdir()
    install_spy(tmp_path / "site")
    marker = tmp_path / "marker"
    out = tmp_path / "out.html"
    result = run(
        tmp_path / "site", marker,
        "render", "neck-surgery", "--patient", "Ana Li", "--format", "html", "-o", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "Ana Li" in out.read_text()
    assert not marker.exists()
