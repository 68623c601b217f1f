"""The documentation site builds, with every page, link, anchor and screenshot in place."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_documentation_site_builds_with_no_broken_link_or_image(tmp_path):
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "getting-started" / "index.html").is_file()
    assert (tmp_path / "img" / "widget-during.png").is_file()
