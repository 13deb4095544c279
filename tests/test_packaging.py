"""The installed namespace: export/ installs as mobiface_tf.export and no top-level `export` exists."""

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _options():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    return config["options"]


def _listed(value):
    return {line.split("=")[0].strip() for line in value.strip().splitlines() if line.strip()}


def test_every_package_folder_is_listed_under_the_project_namespace():
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in ROOT.glob("mobiface_tf/**/__init__.py")}
    on_disk |= {"mobiface_tf." + ".".join(p.parent.relative_to(ROOT).parts)
                for p in ROOT.glob("export/**/__init__.py")}
    assert _listed(_options()["packages"]) == on_disk
    assert _listed(_options()["package_dir"]) == {"mobiface_tf.export"}


def test_installed_namespace_has_the_export_stage_and_no_top_level_export(tmp_path):
    # Outside the checkout, only what the install provides is importable.
    probe = ("import importlib.util as u; "
             "print(u.find_spec('mobiface_tf.export.litert').origin); print(u.find_spec('export'))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin"}).stdout.splitlines()
    assert Path(out[0]) == ROOT / "export" / "litert.py" or out[0].endswith("mobiface_tf/export/litert.py")
    assert out[1] == "None"
