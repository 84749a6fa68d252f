"""The README's two set-up commands stay true, and CI runs the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_readme_starts_with_two_setup_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = _bash_blocks(readme)
    main_job, test_cmd = blocks[0], blocks[1]
    assert main_job.startswith("pip install torch==2.13.0 && pip install -e . ")
    assert test_cmd.startswith("pip install torch==2.13.0 && pip install -e '.[dev]' ")
    assert test_cmd.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_cmd in ci, "'.ci/run' must run the README's test command verbatim"
    assert "set -euo pipefail" in ci  # pytest's exit code 5 (no tests) fails CI
