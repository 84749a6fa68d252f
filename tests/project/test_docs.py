"""The docs stay true: every hook, config field, CLI option and public name is documented; the
``runnable`` code blocks of README.md and docs/ run (or, for those that install or train, parse and
resolve their names); the plugin quick start works as written; ``mkdocs build --strict`` passes."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.rglob("*.md"))
FENCE = re.compile(r"^(?P<fence>```+)(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=fence)[ \t]*$", re.S | re.M)

# Commands that install, train or load a model: checked without running them.
HEAVY = {"pip", "python", "python3", "pytest", "accelerate", "cd", "mkdocs"}
HEAVY_PATHREASON = {"train", "eval", "predict", "demo", "train-allocator", "ablate-budget"}


@dataclass(frozen=True)
class Block:
    path: Path
    line: int
    lang: str
    flags: tuple[str, ...]
    body: str

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def blocks(path: Path) -> Iterator[Block]:
    text = path.read_text()
    for m in FENCE.finditer(text):
        words = m.group("info").split()
        if words:
            yield Block(path, text.count("\n", 0, m.start()) + 1, words[0], tuple(words[1:]), m.group("body"))


def runnable(lang: str) -> list[Block]:
    return [b for p in [ROOT / "README.md", *PAGES] for b in blocks(p) if b.lang == lang and "runnable" in b.flags]


def section(text: str, heading: str) -> str:
    """The text from ``heading`` (a whole line) to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    lines = text.splitlines()
    assert heading in lines, f"heading {heading!r} not found"
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if re.match(rf"#{{1,{len(level)}}} ", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def signature(name: str, fn: Any) -> str:
    """``name(a, b=1, *args, **kwargs)``: the call signature without annotations."""
    parts, star = [], False
    for p in inspect.signature(fn).parameters.values():
        if p.kind == p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
            star = True
        elif p.kind == p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        else:
            if p.kind == p.KEYWORD_ONLY and not star:
                parts.append("*")
                star = True
            parts.append(p.name if p.default is p.empty else f"{p.name}={p.default!r}")
    return f"{name}({', '.join(parts)})"


# ------------------------------------------------------------------------------ completeness
def test_fences_are_closed_and_pages_are_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    for page in PAGES:
        fences = [line for line in page.read_text().splitlines() if line.startswith("```")]
        assert len(fences) % 2 == 0, f"{page}: a code fence is not closed"
        assert str(page.relative_to(DOCS)) in nav, f"{page} is not in mkdocs.yml's nav"


def test_getting_started_has_the_readme_commands_verbatim() -> None:
    readme = re.findall(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    index = (DOCS / "index.md").read_text()
    for command in readme[:2]:
        assert f"```bash runnable\n{command}```" in index, f"docs/index.md lacks the README command {command!r}"


def test_every_hook_is_documented_with_its_signature() -> None:
    from pathreason import hookspecs

    specs = {name: fn for name, fn in vars(hookspecs).items()
             if inspect.isfunction(fn) and getattr(fn, "pathreason_spec", None) is not None}
    assert set(specs) == set(hookspecs.HOOKS.values())
    nav = (ROOT / "mkdocs.yml").read_text()
    for name, fn in specs.items():
        page = DOCS / "plugins" / "hooks" / f"{name}.md"
        assert page.is_file(), f"hook {name} has no page {page.relative_to(ROOT)}"
        text = page.read_text()
        sig = inspect.signature(fn)
        returns = str(sig.return_annotation).strip("'\"")
        expected = f"def {signature(name, fn)} -> {returns}:"
        assert expected in text, f"{page.relative_to(ROOT)} must show the hook's signature {expected!r}"
        assert any(b.lang == "python" and "runnable" in b.flags for b in blocks(page)), f"{page} has no runnable example"
        assert f"plugins/hooks/{name}.md" in nav


def _documented_fields(text: str) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    current: str | None = None
    for line in text.splitlines():
        heading = re.match(r"^## (?:`(\w+)`|Top level)$", line)
        if heading:
            current = heading.group(1) or ""
            continue
        row = re.match(r"^\| `(\w+)` \| `([^`]*)` \|", line)
        if row and current is not None:
            found[(current, row.group(1))] = row.group(2)
    return found


def _same_default(documented: str, actual: Any) -> bool:
    value = yaml.safe_load(documented) if documented else documented
    if isinstance(actual, float):
        return isinstance(value, (int, float, str)) and float(value) == pytest.approx(actual)
    return value == actual or documented == actual


def test_every_config_field_is_documented_with_its_default() -> None:
    from pathreason.config import RunConfig

    expected: dict[tuple[str, str], Any] = {}
    for name, field in RunConfig.model_fields.items():
        default = field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            for sub, subfield in type(default).model_fields.items():
                value = subfield.get_default(call_default_factory=True)
                expected[(name, sub)] = value.model_dump() if isinstance(value, BaseModel) else value
        else:
            expected[("", name)] = default
    documented = _documented_fields((DOCS / "reference" / "configuration.md").read_text())
    missing = sorted(".".join(filter(None, k)) for k in expected.keys() - documented.keys())
    stale = sorted(".".join(filter(None, k)) for k in documented.keys() - expected.keys())
    assert not missing, f"undocumented settings in docs/reference/configuration.md: {missing}"
    assert not stale, f"docs/reference/configuration.md documents settings that do not exist: {stale}"
    wrong = {".".join(filter(None, k)): (documented[k], expected[k]) for k in expected
             if not _same_default(documented[k], expected[k])}
    assert not wrong, f"documented defaults differ from pathreason.config (documented, actual): {wrong}"


def _subcommands() -> dict[str, Any]:
    import argparse

    from pathreason.cli import build_parser

    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {"": parser, **dict(action.choices)}


def test_every_cli_command_and_option_is_documented() -> None:
    text = (DOCS / "reference" / "cli.md").read_text()
    documented = set(re.findall(r"^## `pathreason ([\w-]+)`$", text, flags=re.M))
    commands = _subcommands()
    assert documented == set(commands) - {""}, "docs/reference/cli.md must have one '## `pathreason CMD`' per command"
    for command, parser in commands.items():
        body = text.split("\n## ")[0] if not command else section(text, f"## `pathreason {command}`")
        for action in parser._actions:
            if action.__class__.__name__ == "_SubParsersAction" or (command and action.dest == "help"):
                continue  # every command has -h, documented once at the top
            names = action.option_strings or [action.dest]
            for name in names:
                assert re.search(rf"`{re.escape(name)}[` ]", body), (
                    f"`pathreason {command}`: option {name} is not documented in docs/reference/cli.md")


def _public_names() -> dict[str, Any]:
    import pathreason

    # Classes and constants (upper case) need only a heading; not touching them keeps lazy imports lazy.
    names: dict[str, Any] = {f"pathreason.{n}": None if n[0].isupper() else getattr(pathreason, n)
                             for n in pathreason.__all__}
    for module_name in ("pathreason.api.budget", "pathreason.metrics", "pathreason.rewards", "pathreason.testing"):
        module = importlib.import_module(module_name)
        public = set(getattr(module, "__all__", ()))
        public |= {n for n, obj in vars(module).items()
                   if inspect.isfunction(obj) and obj.__module__ == module_name and not n.startswith("_")}
        names.update({f"{module_name}.{n}": getattr(module, n) for n in sorted(public) if not n[0].isupper()})
        names.update({f"{module_name}.{n}": None for n in sorted(public) if n[0].isupper()})
    return names


def test_public_api_is_documented_with_signatures() -> None:
    text = (DOCS / "reference" / "api.md").read_text()
    for qualified, obj in _public_names().items():
        heading = f"### `{qualified}`"
        assert heading in text.splitlines(), f"{qualified} is not documented in docs/reference/api.md"
        if inspect.isfunction(obj):
            sig = signature(qualified.rsplit(".", 1)[1], obj)
            assert f"`{sig}`" in section(text, heading), f"docs/reference/api.md: {qualified} should show `{sig}`"


# ------------------------------------------------------------------------------ runnable blocks
def _printed_expectations(source: str) -> list[str | None]:
    """For each ``print(...)`` statement in source order, the comment at the end of its last line."""
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    prints = [node for node in ast.walk(ast.parse(source))
              if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
              and isinstance(node.value.func, ast.Name) and node.value.func.id == "print"]
    return [comments.get(node.end_lineno or node.lineno) for node in sorted(prints, key=lambda n: n.lineno)]


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PATHREASON_DISABLE_PLUGINS", None)
    env.pop("PATHREASON_STRICT_PLUGINS", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), env.get("PYTHONPATH")]))
    return env


@pytest.mark.parametrize("block", runnable("python"), ids=lambda b: b.id)
def test_runnable_python_block(block: Block, tmp_path: Path) -> None:
    script = tmp_path / "snippet.py"
    script.write_text(block.body)
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{block.id} failed:\n{proc.stdout}\n{proc.stderr[-3000:]}"
    printed = proc.stdout.splitlines()
    expected = _printed_expectations(block.body)
    assert len(printed) == len(expected), f"{block.id}: printed {printed}"
    for got, comment in zip(printed, expected):
        if comment is not None:
            assert comment == got or (comment.startswith(got) and comment[len(got)] in ":, "), (
                f"{block.id}: printed {got!r} but the comment says {comment!r}")


def _commands(line: str) -> list[list[str]]:
    """The simple commands of a shell line, split at ``&&``, ``||``, ``;`` and ``|``."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    out: list[list[str]] = [[]]
    for token in lexer:
        if token in ("&&", "||", ";", "|"):
            out.append([])
        else:
            out[-1].append(token)
    return [c for c in out if c]


def _program(command: list[str]) -> tuple[dict[str, str], list[str]]:
    env = {}
    while command and re.match(r"^[A-Z_][A-Z0-9_]*=", command[0]):
        key, value = command[0].split("=", 1)
        env[key] = value
        command = command[1:]
    return env, command


def _is_heavy(command: list[str]) -> bool:
    """Installs, trains, loads a model or reads a dataset folder that is not here."""
    _, argv = _program(command)
    if argv[0] in HEAVY:
        return True
    if argv[0] != "pathreason" or {"-h", "--help"} & set(argv):
        return False
    return bool(set(argv[1:2]) & HEAVY_PATHREASON) or argv[1:3] == ["datasets", "check"]


def _dry_check(argv: list[str], where: str) -> None:
    """Parse a ``pathreason`` command as the CLI does and resolve every name it uses, without running it."""
    from pathreason.cli import build_parser
    from pathreason.config import parse_overrides
    from pathreason.engine import Engine
    from pathreason.registry import dataset_spec, get_budgeter
    from pathreason.template import validate_name

    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:
        raise AssertionError(f"{where}: `pathreason {shlex.join(argv)}` does not parse") from exc
    assert not extra or getattr(args, "accepts_overrides", False), f"{where}: unrecognised arguments {extra}"
    overrides = parse_overrides(extra)
    if args.command == "demo":
        from pathreason.registry import task_spec

        for task in (args.task or "vqa,subtyping,detection").split(","):
            task_spec(task.strip())
    elif args.command in HEAVY_PATHREASON:
        for key in ("task", "model", "dataset", "output_dir"):
            value = getattr(args, key, None)
            if value is not None:
                overrides["dataset.name" if key == "dataset" else key] = value
        engine = Engine(**overrides)          # validates the config and resolves task, dataset, model
        assert engine.config is not None
        if getattr(args, "budgeter", None):
            get_budgeter(args.budgeter)
    elif args.command == "new-plugin":
        validate_name(args.name)
    elif args.command == "datasets" and args.name:
        dataset_spec(args.name)


@pytest.mark.parametrize("block", runnable("bash"), ids=lambda b: b.id)
def test_runnable_bash_block(block: Block, tmp_path: Path) -> None:
    lines = [line for line in block.body.splitlines() if line.strip()]
    commands = [c for line in lines for c in _commands(line)]
    assert commands, f"{block.id} is empty"
    if any(_is_heavy(c) for c in commands):
        proc = subprocess.run(["bash", "-n", "-c", block.body], capture_output=True, text=True)
        assert proc.returncode == 0, f"{block.id}: not valid shell: {proc.stderr}"
        for command in commands:
            _, argv = _program(command)
            if argv[0] == "pathreason":
                _dry_check(argv[1:], block.id)
        return
    proc = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", block.body], cwd=tmp_path, env=_env(tmp_path),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{block.id} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


def test_runnable_blocks_exist() -> None:
    assert len(runnable("bash")) >= 10 and len(runnable("python")) >= 8


# ------------------------------------------------------------------------------ plugin quick start
def test_plugin_quick_start_works_as_written(tmp_path: Path) -> None:
    """The one-file reward plugin, its six-line pyproject and its test, taken from the page."""
    package = tmp_path / "pathreason-plugin-brevity"
    files = {flag.split("=", 1)[1]: b.body for b in blocks(DOCS / "plugins" / "index.md")
             for flag in b.flags if flag.startswith("file=")}
    assert set(files) == {"pathreason_plugin_brevity.py", "pyproject.toml", "tests/test_brevity.py"}
    assert len(files["pyproject.toml"].splitlines()) == 6
    for name, body in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(body)
    site = tmp_path / "site"
    env = _env(site)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                           "--quiet", "--target", str(site), str(package)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    proc = subprocess.run([sys.executable, "-m", "pathreason", "plugins", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    info = {p["name"]: p for p in json.loads(proc.stdout)}["brevity"]
    assert info["status"] == "active" and info["provides"] == {"rewards": ["brevity"]}
    assert info["distribution"] == "pathreason-plugin-brevity"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=package,
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]


# ------------------------------------------------------------------------------ the site
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
                           "-d", str(tmp_path / "site")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-5000:]
    unrendered = [p for p in (tmp_path / "site").rglob("*.html") if "```" in p.read_text()]
    assert not unrendered, f"code fences left unrendered in {unrendered}"
