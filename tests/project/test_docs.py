"""The docs stay true: every hook, config field, CLI option and public name is documented; the
``runnable`` code blocks of README.md and docs/ run (or, for those that install or train, parse and
resolve their names); the plugin quick start works as written; ``mkdocs build --strict`` passes."""

from __future__ import annotations

import ast
import importlib
import inspect
import io
import itertools
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


def signature(name: str, fn: Any, skip: int = 0) -> str:
    """``name(a, b=1, *args, **kwargs)``: the call signature without annotations (and without the
    first ``skip`` parameters: ``self`` of a method)."""
    parts, star = [], False
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
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
    from pathreason.api import hookspecs

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


#: Modules whose public names docs/reference/api.md documents, each under a heading of its own.
API_MODULES = ("pathreason.api", "pathreason.metrics", "pathreason.tasks.metrics", "pathreason.tasks.prompts",
               "pathreason.rewards", "pathreason.testing")


def _public_names() -> dict[str, Any]:
    import pathreason

    # Classes and constants (upper case) need only a heading; not touching them keeps lazy imports lazy.
    names: dict[str, Any] = {f"pathreason.{n}": None if n[0].isupper() else getattr(pathreason, n)
                             for n in pathreason.__all__}
    for module_name in API_MODULES:
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


def _members(cls: type) -> dict[str, str | None]:
    """What a class adds to its bases: ``name -> signature`` for methods, ``name -> None`` for fields,
    properties and protocol attributes (dataclass fields and annotations of the class itself)."""
    import dataclasses

    own = vars(cls)
    out: dict[str, str | None] = {n: None for n in own.get("__annotations__", {})
                                  if not n.startswith("_") and "ClassVar" not in str(own["__annotations__"][n])}
    if dataclasses.is_dataclass(cls):
        out = {f.name: None for f in dataclasses.fields(cls) if f.name in out}
    for name, value in own.items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            out[name] = None
        elif isinstance(value, (classmethod, staticmethod)) or inspect.isfunction(value):
            out[name] = signature(name, getattr(cls, name), skip=1 if inspect.isfunction(value) else 0)
    return out


def _documented_classes() -> dict[str, type]:
    """The classes whose members docs/reference/api.md must list: pathreason.api's, the Engine, and
    the records evaluation returns."""
    import pathreason.api as api
    from pathreason.engine import Engine
    from pathreason.evaluation import EvalReport, Record

    classes = {f"pathreason.api.{n}": getattr(api, n) for n in api.__all__
               if inspect.isclass(getattr(api, n)) and getattr(api, n).__module__.startswith("pathreason.")}
    return {**classes, "pathreason.Engine": Engine, "pathreason.evaluation.EvalReport": EvalReport,
            "pathreason.evaluation.Record": Record}


def test_classes_are_documented_with_their_members() -> None:
    """Every method (with its signature), field and property a public class adds is in its section."""
    text = (DOCS / "reference" / "api.md").read_text()
    missing = []
    for qualified, cls in _documented_classes().items():
        heading = f"### `{qualified}`"
        assert heading in text.splitlines(), f"{qualified} is not documented in docs/reference/api.md"
        body = section(text, heading)
        for name, sig in _members(cls).items():
            if sig is not None and f"`{sig}`" not in body and f"`.{sig}`" not in body:
                missing.append(f"{qualified}: `{sig}`")
            elif sig is None and not re.search(rf"`\.?{name}\b", body):
                missing.append(f"{qualified}: `{name}`")
    assert not missing, "docs/reference/api.md leaves out members:\n" + "\n".join(missing)


def test_engine_attributes_and_report_keys_are_documented() -> None:
    """The Engine's parts (``self.x = ...`` in ``__init__``) and every key of an evaluation report block."""
    from pathreason.api import Sample, Task
    from pathreason.engine import Engine
    from pathreason.evaluation import Record, summarize

    text = (DOCS / "reference" / "api.md").read_text()
    engine = section(text, "### `pathreason.Engine`")
    for name in re.findall(r"^\s+self\.(\w+)(?:: [^=]+)? = ", inspect.getsource(Engine.__init__), flags=re.M):
        assert f"`{name}`" in engine, f"docs/reference/api.md: Engine's `{name}` is not documented"

    class Stub(Task):
        name = "stub"
        metric_names = ("accuracy",)

        def metrics(self, samples: Any, parsed: Any) -> dict[str, float]:
            return {"accuracy": 1.0}

    samples = [Sample(id=str(i), image="x.png", task="stub", meta={"difficulty": "fine"}) for i in range(2)]
    records = [Record(id=s.id, task="stub", prompt="", completion="", parsed=None, score=1.0, tokens=64,
                      budget=64, difficulty="fine") for s in samples]
    block = summarize(records, samples, {"stub": Stub()})["stub"]
    report = section(text, "### `pathreason.evaluation.EvalReport`")
    for key in block:
        assert re.search(rf"^\| `{key}` \|", report, flags=re.M), (
            f"docs/reference/api.md: the report block key `{key}` has no row in EvalReport's table")


# ------------------------------------------------------------------------------ the architecture page
ARCHITECTURE = DOCS / "architecture.md"


def _first_text_block(text: str) -> list[str]:
    match = re.search(r"^```text\n(.*?)^```", text, flags=re.S | re.M)
    assert match, "no ```text block"
    return match.group(1).splitlines()


def _tree_paths(lines: list[str]) -> set[str]:
    """The files of a tree drawn with 4 spaces per level (``core/`` at column 0, ``api/`` at 4, its
    modules at 8): each line starts with one or more names (``x.py`` or ``pkg/``), then a description;
    a line that starts with anything else continues the one above."""
    stack: list[str] = []
    paths: set[str] = set()
    for line in lines:
        stripped = line.lstrip()
        words = stripped.split()
        if not words or not (words[0].endswith(".py") or words[0].endswith("/")):
            continue
        depth = (len(line) - len(stripped)) // 4
        del stack[depth:]
        names = [words[0]] + [w for w in itertools.takewhile(lambda w: w.endswith(".py"), words[1:])]
        for name in names:
            if name.endswith("/"):
                stack.append(name)
            else:
                paths.add("".join(stack) + name)
    return paths


def test_architecture_page_lists_every_runtime_module() -> None:
    """One line per module of core/: a module added or removed must be added to or removed from the
    tree in docs/architecture.md ("The modules of the runtime")."""
    tree = _tree_paths(_first_text_block(section(ARCHITECTURE.read_text(), "## The modules of the runtime")))
    core = ROOT / "core"
    files = {"core/" + str(f.relative_to(core)) for f in core.rglob("*.py")
             if "templates/plugin" not in str(f.relative_to(core))}
    assert not files - tree, f"docs/architecture.md: add a line for each of {sorted(files - tree)}"
    assert not tree - files, f"docs/architecture.md lists modules that do not exist: {sorted(tree - files)}"


def test_architecture_page_shows_the_layers_contract() -> None:
    import tomllib

    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c for c in contracts if c.get("id") == "layers")["layers"]
    shown = [" ".join(line.split()) for line in _first_text_block(section(ARCHITECTURE.read_text(),
                                                                          "### The runtime's layers")) if line.strip()]
    assert shown == [" ".join(layer.split()) for layer in layers], (
        "docs/architecture.md: the runtime's layers must be the `layers` contract of pyproject.toml, one per line")


def test_architecture_page_lists_the_defaults_that_name_plugins() -> None:
    """Every setting of core/defaults.yaml, with its value, in the table of "No plugin name in the runtime"."""
    defaults = yaml.safe_load((ROOT / "core" / "defaults.yaml").read_text())
    expected = {}
    for key, value in defaults.items():
        if isinstance(value, dict):
            expected.update({f"{key}.{sub}": v for sub, v in value.items()})
        else:
            expected[key] = value
    rows = dict(re.findall(r"^\| `([\w.]+)` \| `([^`]*)` \|", section(ARCHITECTURE.read_text(),
                                                                    "## No plugin name in the runtime"), flags=re.M))
    assert set(rows) == set(expected), f"docs/architecture.md: the defaults table should list {sorted(expected)}"
    wrong = {k: (rows[k], v) for k, v in expected.items() if yaml.safe_load(rows[k]) != v}
    assert not wrong, f"docs/architecture.md: defaults shown (documented, defaults.yaml): {wrong}"


# ------------------------------------------------------------------------------ import paths in the docs
VERSIONING = DOCS / "plugins" / "versioning.md"
DOTTED = re.compile(r"\bpathreason(?:\.[A-Za-z_]\w*)+")


def _deprecated_paths() -> list[tuple[str, list[str], str]]:
    """``(old module, names, new home)`` for each row of the versioning page's deprecation table."""
    rows = []
    for line in section(VERSIONING.read_text(), "## Deprecated import paths").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`pathreason"):
            rows.append((cells[0].strip("`"), re.findall(r"`(\w+)`", cells[1]), cells[2].strip("`")))
    return rows


def test_the_deprecated_paths_are_listed_and_work() -> None:
    """The versioning page lists every old path the architecture test keeps alive; each one warns and
    returns the object of its new home."""
    import importlib.util
    import warnings

    from pathreason.api import PathreasonDeprecationWarning

    rows = _deprecated_paths()
    assert len(rows) >= 10, "docs/plugins/versioning.md: the 'Deprecated import paths' table is missing"
    spec = importlib.util.spec_from_file_location("_architecture", ROOT / "tests" / "project" / "test_architecture.py")
    assert spec and spec.loader
    architecture = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(architecture)
    listed = {(old, name): home for old, names, home in rows for name in names}
    for old, name, _ in architecture.OLD_PATHS:
        assert (old, name) in listed, f"docs/plugins/versioning.md does not list {old}.{name}"
    for (old, name), home in listed.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = getattr(importlib.import_module(old), name)
        assert any(w.category is PathreasonDeprecationWarning for w in caught), f"{old}.{name} does not warn"
        assert value is getattr(importlib.import_module(home), name), f"{old}.{name} is not {home}.{name}"


def _resolve(dotted: str) -> str | None:
    """Why ``dotted`` (a module, or a name in one) is not a current path, or ``None`` when it is."""
    import warnings

    from pathreason.api import PathreasonDeprecationWarning

    parts = dotted.split(".")
    module, rest = None, parts
    for i in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        rest = parts[i:]
        break
    if module is None:
        return "no such module"
    if (module.__doc__ or "").startswith("Deprecated"):
        return f"{module.__name__} is deprecated"
    value: Any = module
    for name in rest:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                value = getattr(value, name)
            except AttributeError:
                return f"{name} does not exist"
        if any(issubclass(w.category, PathreasonDeprecationWarning) for w in caught):
            return "deprecated: " + str(caught[0].message).split(";")[0]
    return None


def _referenced_paths(page: Path) -> set[str]:
    """Dotted ``pathreason.…`` names anywhere on the page, and what its Python blocks import."""
    text = page.read_text()
    found = set(DOTTED.findall(text)) - {"pathreason.__all__"}
    for block in blocks(page):
        if block.lang != "python":
            continue
        try:
            tree = ast.parse(block.body)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "pathreason":
                found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_docs_show_only_current_import_paths() -> None:
    """No page but the versioning page's list names an old (deprecated) path or one that does not exist."""
    wrong = []
    for page in PAGES:
        if page == VERSIONING:
            continue
        for dotted in sorted(_referenced_paths(page)):
            why = _resolve(dotted)
            if why:
                wrong.append(f"{page.relative_to(ROOT)}: {dotted} ({why})")
    assert not wrong, "the docs name paths that are not current:\n" + "\n".join(wrong)


def test_no_reference_to_a_design_document_outside_the_repository() -> None:
    marker = "design " + "\u00a7"
    hits = []
    for folder in ("core", "tasks", "rewards", "plugins", "docs", "tests", "benchmarks", "scripts"):
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".md", ".yaml", ".toml") and marker in path.read_text():
                hits.append(str(path.relative_to(ROOT)))
    if marker in (ROOT / "README.md").read_text():
        hits.append("README.md")
    assert not hits, f"{marker}N cites a document that is not in the repository; link the docs instead: {hits}"


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
