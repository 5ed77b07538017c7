"""A wheel of the project carries everything a user's ``pip install`` needs: the presets and the data
files."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from tests.conftest import ROOT


def test_a_wheel_installed_into_a_fresh_venv_lists_every_preset(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                    str(wheels), str(ROOT)], check=True, capture_output=True)
    (wheel,) = wheels.glob("kgcli-*.whl")
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # kgc's own dependencies come from the test environment (a path entry: its .pth files, the editable
    # checkout among them, are not read), kgc itself only from the wheel.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                    str(wheel)],
                   check=True, capture_output=True)
    result = subprocess.run([str(fresh / "bin" / "kgc"), "presets", "list"], capture_output=True, text=True,
                            cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    where = subprocess.run([str(python), "-c", "import kgcli; print(kgcli.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(site))
    shipped = sorted(p.stem for p in (ROOT / "presets").glob("*.yaml"))
    assert len(shipped) >= 20
    listed = [name for name in shipped if name in result.stdout]
    assert listed == shipped
