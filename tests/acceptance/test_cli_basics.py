"""The installed `noetl` console script, run as a subprocess."""

import subprocess
import sys
from pathlib import Path

NOETL = str(Path(sys.executable).with_name("noetl"))


def test_version_prints_package_version():
    out = subprocess.run([NOETL, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip().startswith("noetl 0.")


def test_help_lists_commands():
    out = subprocess.run([NOETL, "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    assert "Usage" in out.stdout
