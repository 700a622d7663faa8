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


def test_server_commands_without_the_distributed_extra_say_what_to_install():
    """aiohttp missing (an install without the `distributed` extra): one line, exit 1."""
    script = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from noetl.cli.app import main\n"
        "sys.argv = ['noetl', 'status', '1', '--server', 'http://127.0.0.1:9']\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert out.returncode == 1
    assert "pip install 'noetl[distributed]'" in out.stderr
    assert "aiohttp is missing" in out.stderr
    assert "Traceback" not in out.stderr
