"""Sub-commands of the ``pathreason`` CLI beyond ``plugins`` (each imports what it needs when run).

``train``, ``train-allocator``, ``eval``, ``ablate-budget`` and ``predict`` mirror the
:class:`pathreason.Engine` API; every setting of
the run config is reachable as ``--section.field VALUE`` (e.g. ``--grpo.num_generations 4``).
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def _task_option(value: str) -> str | list[str]:
    """``--task``: a name, comma-separated names or a YAML list (``[vqa, det]``); never empty."""
    from pathreason.api import ConfigError
    from pathreason.config import load_yaml

    text = value.strip()
    parsed = load_yaml(text, "--task") if text.startswith("[") else text.split(",")
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        raise ConfigError(f"--task {value!r}: give task names, e.g. --task vqa or --task vqa,subtyping")
    names = [t.strip() for t in parsed if t.strip()]
    if not names:
        raise ConfigError(f"--task {value!r} names no task; give one or more, e.g. --task vqa or --task vqa,subtyping")
    return names[0] if len(names) == 1 else names


def _open_engine(args: argparse.Namespace, for_training: bool) -> Any:
    """The engine a command works on: the run of ``--run`` (which must exist), the run being resumed
    (``train --resume``: its saved config, changed only by the options given), or a new one."""
    from pathreason.config import parse_overrides, read_config_file
    from pathreason.engine import Engine
    from pathreason.runs import RunDir

    overrides = parse_overrides(args.overrides)
    if getattr(args, "task", None) is not None:
        overrides["task"] = _task_option(args.task)
    for key in ("model", "dataset", "output_dir"):
        value = getattr(args, key, None)
        if value is not None:
            overrides["dataset.name" if key == "dataset" else key] = value
    trust = bool(getattr(args, "trust_remote_code", False))
    from_file = read_config_file(args.config) if args.config else {}
    run_dir = getattr(args, "run", None)
    if run_dir is None and (args.resume if for_training else True):
        found = overrides.get("output_dir") or from_file.get("output_dir")
        run_dir = found if found and RunDir(found).is_run() else None
    if run_dir:  # Engine.load refuses a folder that holds no run
        overrides.pop("output_dir", None)
        from_file.pop("output_dir", None)
        return Engine.load(run_dir, trust_remote_code=trust, **{**from_file, **overrides})  # the options win
    if args.config:
        return Engine.from_config(args.config, trust_remote_code=trust, **overrides)
    return Engine(trust_remote_code=trust, **overrides)


def _engine(args: argparse.Namespace, for_training: bool) -> Any:
    """:func:`_open_engine`, with library output from here on going to the run folder's ``log.txt``."""
    from pathreason.console import log_to

    engine = _open_engine(args, for_training)
    log_to(engine.run.path / "log.txt")
    return engine


def _cmd_train(args: argparse.Namespace) -> int:
    from pathreason.distributed import is_main_process

    engine = _engine(args, for_training=True)
    engine.train(resume=args.resume)
    if is_main_process():
        print(f"run folder: {engine.run.path}")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from pathreason.distributed import is_main_process

    engine = _engine(args, for_training=False)
    report = engine.evaluate(split=args.split, budgeter=args.budgeter, n=args.n, phase=args.phase)
    if is_main_process():  # under accelerate/torchrun every process holds the gathered report
        print(report.table())
        if args.json:
            print(json.dumps(report.as_dict(), indent=2))
    return 0


def _cmd_train_allocator(args: argparse.Namespace) -> int:
    from pathreason.distributed import is_main_process

    engine = _engine(args, for_training=False)
    engine.train_allocator(resume=args.resume)
    if is_main_process():
        print(f"allocator: {engine.run.final_dir('allocator')}")
    return 0


def _cmd_ablate(args: argparse.Namespace) -> int:
    from pathreason.distributed import is_main_process

    engine = _engine(args, for_training=False)
    try:
        budgets = [int(b) for b in args.budgets.split(",") if b.strip()] if args.budgets else None
    except ValueError:
        raise SystemExit(f"pathreason ablate-budget: --budgets takes comma-separated integers, got {args.budgets!r}") from None
    allocator = {"auto": None, "yes": True, "no": False}[args.allocator]
    report = engine.ablate_budget(budgets, allocator=allocator, split=args.split, n=args.n, phase=args.phase,
                                  output=args.output)
    if is_main_process():
        print(report.table())
        from pathreason.ablation import oracle_text

        print(oracle_text(report.oracle))
        print(f"wrote {report.files['markdown']}, {report.files['json']} and {report.files['plot']}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from pathreason.demo import run_demo

    tasks = [t.strip() for t in args.task.split(",")] if args.task else None
    try:
        run_demo(tasks, quick=args.quick, output=args.output, progress=not args.quick)
    except FileExistsError as exc:
        raise SystemExit(f"pathreason demo: {exc}") from None
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    engine = _engine(args, for_training=False)
    image = args.image or engine.samples(engine.config.dataset.eval_split, 1)[0].image  # the run's own data
    options = [o.strip() for o in args.options.split(",")] if args.options else []
    meta = {"category": args.category, "organ": args.organ} if args.category or args.organ else {}
    record = engine.predict(image, question=args.question or "", options=options, task=args.predict_task,
                            budgeter=args.budgeter, meta={k: v for k, v in meta.items() if v})
    print(f"image: {image if isinstance(image, str) else getattr(image, 'where', 'the first test image')}")
    print(f"phase: {engine.latest_phase()}  visual tokens: {record.tokens}")
    print(f"completion: {record.completion}")
    print(f"answer: {record.parsed}")
    return 0


def _cmd_new_plugin(args: argparse.Namespace) -> int:
    from pathreason.template import write_plugin

    folder = write_plugin(args.name, args.directory)
    print(f"wrote {folder}")
    print(f"next: cd {folder} && pip install -e '.[test]' && pathreason plugins && python -m pytest")
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from pathreason.manager import get_plugin_manager

    specs = get_plugin_manager().specs("dataset")
    if args.action == "check":
        from pathreason.api import DatasetSummary, PluginError
        from pathreason.manager import describe_value
        from pathreason.registry import dataset_spec, where

        if not args.name:
            raise SystemExit("pathreason datasets check: give a dataset name, e.g. `datasets check crag --root DIR`")
        spec = dataset_spec(args.name)
        if spec.check is None:
            print(f"dataset {spec.name!r} has no folder check")
            return 1
        if spec.needs_root and not args.root:
            raise SystemExit(f"pathreason datasets check {spec.name}: --root PATH (the local copy) is required")
        summary = spec.check(root=args.root)  # what the plugin's check raises arrives as a PluginError naming it
        if not isinstance(summary, DatasetSummary):
            raise PluginError(f"{where(spec)}: check(root=...) returned {describe_value(summary)}; a dataset's "
                              "check returns a pathreason.api.DatasetSummary")
        print(json.dumps(summary.as_dict(), indent=2) if args.json else summary.to_text())
        return 0 if summary.ok else 1
    from pathreason.api.specs import DatasetSpec

    rows: list[dict[str, Any]] = [
        {"name": s.name, "tasks": list(s.tasks), "needs_root": s.needs_root, "description": s.description,
         "conflict": None}
        for s in specs.values() if isinstance(s, DatasetSpec)]
    rows += [{"name": name, "tasks": [], "needs_root": None, "description": "", "conflict": message}
             for name, message in get_plugin_manager().conflicts("dataset").items()]  # shown, not hidden
    rows.sort(key=lambda r: r["name"])
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        width = max(len(r["name"]) for r in rows) if rows else 4
        for r in rows:
            if r["conflict"]:
                print(f"{r['name']:<{width}}  conflict: {r['conflict']}")
                continue
            source = "local folder (--root)" if r["needs_root"] else "built in"
            print(f"{r['name']:<{width}}  {', '.join(r['tasks']):<28}  {source:<22}  {r['description']}")
    return 0


def _slide_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    options = [o.strip() for o in args.options.split(",") if o.strip()] if args.options else []
    meta = {k: v for k, v in (("category", args.category), ("organ", args.organ)) if v}
    return {"task": args.slide_task, "slide_budget": args.slide_budget, "budgeter": args.budgeter,
            "region": args.region, "options": options, "question": args.question or "", "meta": meta,
            "phase": args.phase, "max_new_tokens": args.max_new_tokens}


def _slide_engine(args: argparse.Namespace) -> Any:
    """The engine of ``--run`` (whose task ``--task`` picks among its tasks) or an untrained one."""
    args.slide_task = args.task
    if args.run:
        args.task = None
    for flag, key in (("mpp", "slide.mpp"), ("mpp_level0", "slide.mpp_level0")):
        value = getattr(args, flag)
        if value is not None:
            args.overrides = [*args.overrides, f"--{key}", str(value)]
    return _engine(args, for_training=False)


def _cmd_slide(args: argparse.Namespace) -> int:
    engine = _slide_engine(args)
    report = engine.predict_slide(args.slide, truth=args.truth, output=args.output, **_slide_kwargs(args))
    print(report.summary())
    for warning in report.warnings[:5]:
        print(f"  warning: {warning}")
    if args.output:
        print(f"report: {args.output}")
    return 0


def _cmd_slides(args: argparse.Namespace) -> int:
    from pathlib import Path

    from pathreason.api import Sample
    from pathreason.distributed import is_main_process
    from pathreason.slides.cohort import list_slides, run_cohort

    engine = _slide_engine(args)
    slides = list_slides(args.folder)
    kwargs = _slide_kwargs(args)
    task = engine.tasks.get(kwargs["task"] or next(iter(engine.tasks)))

    def predict(path: Path) -> Any:
        return engine.predict_slide(path, progress=is_main_process(), **kwargs)

    def score_boxes(predicted: list[Any], truths: list[Any]) -> dict[str, float]:
        samples = [Sample(id=f"slide-{i}", image="slide", task=task.name, boxes=t) for i, t in enumerate(truths)]
        return {k: float(v) for k, v in task.metrics(samples, predicted).items()}

    result = run_cohort(slides, args.output, predict, score_boxes if task is not None else None)
    if is_main_process():
        print(result.table())
        print(f"{len(result.done)} reported, {len(result.skipped)} already done, {len(result.failed)} failed; "
              f"cohort table: {result.files['csv']}")
    return 1 if result.failed else 0


def _slide_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--slide-budget", type=int, default=None,
                   help="visual tokens for the whole slide, the budgeter's looks included (default: no cap)")
    p.add_argument("--budgeter", default=None, help="per-tile budgeter (default: evaluation.budgeter, static:256)")
    p.add_argument("--mpp", type=float, default=None, help="target micrometres per pixel (default: slide.mpp, 0.5)")
    p.add_argument("--mpp-level0", dest="mpp_level0", type=float, default=None,
                   help="micrometres per level-0 pixel, for slides that do not record it")
    p.add_argument("--region", default=None, help="x,y,w,h in level-0 pixels: the region a question is about "
                   "(VQA), or the part of the slide to tile")
    p.add_argument("--options", default="", help="comma-separated classes (default: those of the run's data)")
    p.add_argument("--question", default="", help="the question about --region (VQA)")
    p.add_argument("--category", default=None, help="detection: what to detect (default: from the run's data)")
    p.add_argument("--organ", default=None, help="detection: the organ (default: from the run's data)")
    p.add_argument("--phase", default=None, help="performer phase (default: the latest finished)")
    p.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=None,
                   help="longest answer per tile (default: grpo.max_completion_length)")


def _run_options(p: argparse.ArgumentParser, training: bool) -> None:
    p.add_argument("--config", help="a run config YAML file")
    if training:
        p.add_argument("--task", help="task name(s): vqa, subtyping (sub), detection (det) or a plugin's")
        p.add_argument("--model", help="model preset, local folder or hub id (default: tiny)")
        p.add_argument("--dataset", help="dataset plugin (default: synthpath)")
        p.add_argument("--output-dir", "--output_dir", dest="output_dir", help="run folder")
        p.add_argument("--resume", action="store_true", help="continue the run in --output-dir")
    else:
        p.add_argument("--run", help="a run folder written by `pathreason train` (default: untrained model)")
        p.add_argument("--task", help="task for an engine without a run folder")
        p.add_argument("--model", help="model for an engine without a run folder")
    p.add_argument("--trust-remote-code", "--trust_remote_code", dest="trust_remote_code", action="store_true",
                   help="let the model run Python code it ships (transformers' trust_remote_code), for this "
                        "command only; never read from a config file; only for model sources you trust")
    p.set_defaults(accepts_overrides=True)


def add_commands(sub: Any) -> None:
    p = sub.add_parser("train", help="SFT then GRPO (the task performer); --section.field VALUE overrides")
    _run_options(p, training=True)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("eval", help="evaluate a run: the paper's metrics and TPI")
    _run_options(p, training=False)
    p.add_argument("--split", default=None, help="split to evaluate (default: the config's eval split)")
    p.add_argument("--budgeter", default=None,
                   help="static:N, native, allocator or a plugin's (default: evaluation.budgeter, static:256)")
    p.add_argument("--n", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--phase", default=None, help="base, sft or grpo (default: the latest finished)")
    p.add_argument("--json", action="store_true", help="also print the report as JSON")
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser("demo", help="the whole method on the embedded defaults: SFT, GRPO, allocator, report")
    p.add_argument("--task", default=None, help="comma-separated tasks (default: vqa,subtyping,detection)")
    p.add_argument("--quick", action="store_true", help="a sub-minute smoke run (a few steps of everything)")
    p.add_argument("--output", default="pathreason-demo", help="report folder (default: ./pathreason-demo)")
    p.set_defaults(func=_cmd_demo)

    p = sub.add_parser("train-allocator", help="train the token allocator of a run (GRPO, a second LoRA)")
    _run_options(p, training=False)
    p.add_argument("--resume", action="store_true", help="continue an interrupted allocator phase")
    p.set_defaults(func=_cmd_train_allocator)

    p = sub.add_parser("ablate-budget", help="the paper's Table 6: static budgets vs the allocator, with the oracle")
    _run_options(p, training=False)
    p.add_argument("--budgets", default=None,
                   help="comma-separated static budgets (default: allocator.candidates, 16,32,64,128,256)")
    p.add_argument("--allocator", choices=["auto", "yes", "no"], default="auto",
                   help="include the trained allocator (auto: when the run has one)")
    p.add_argument("--split", default=None, help="split to evaluate (default: the config's eval split)")
    p.add_argument("--n", type=int, default=None, help="evaluate only the first N samples")
    p.add_argument("--phase", default=None, help="performer phase (default: the latest finished)")
    p.add_argument("--output", default=None, help="folder for the table and plot (default: RUN/eval/ablation)")
    p.set_defaults(func=_cmd_ablate)

    p = sub.add_parser("datasets", help="list dataset plugins, or check a local copy: datasets check NAME --root PATH")
    p.add_argument("action", nargs="?", choices=["list", "check"], default="list")
    p.add_argument("name", nargs="?", help="dataset to check")
    p.add_argument("--root", help="the dataset's local folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_datasets)

    p = sub.add_parser("predict", help="answer one question about one image")
    _run_options(p, training=False)
    p.add_argument("--image", help="path of an image file (default: the first test image of the run's dataset)")
    p.add_argument("--question", default="", help="the question (VQA)")
    p.add_argument("--options", default="", help="comma-separated options (multiple choice, subtyping)")
    p.add_argument("--predict-task", "--as", dest="predict_task", default=None,
                   help="task to answer with (default: the run's first task)")
    p.add_argument("--category", default=None, help="detection: what to detect (e.g. glands)")
    p.add_argument("--organ", default=None, help="detection: the organ (e.g. colon)")
    p.add_argument("--budgeter", default=None, help="default: evaluation.budgeter (static:256)")
    p.set_defaults(func=_cmd_predict)

    p = sub.add_parser("slide", help="read a whole-slide image, budget its tissue tiles and report the slide")
    _run_options(p, training=False)
    p.add_argument("slide", help="the slide file (SVS, NDPI, MRXS, SCN, tiled TIFF, ...)")
    _slide_options(p)
    p.add_argument("--truth", default=None, help="ground truth (default: SLIDE.truth.json beside the slide)")
    p.add_argument("--output", default=None, help="report folder (slide.json, tiles.csv, detections.geojson, pictures)")
    p.set_defaults(func=_cmd_slide)

    p = sub.add_parser("slides", help="a cohort: every slide of a folder, resumable, sharded under accelerate launch")
    _run_options(p, training=False)
    p.add_argument("folder", help="folder of slide files")
    _slide_options(p)
    p.add_argument("--output", required=True, help="folder of the slides' reports and the cohort table")
    p.set_defaults(func=_cmd_slides)

    p = sub.add_parser("new-plugin", help="write a ready-to-install plugin package pathreason-plugin-NAME/")
    p.add_argument("name", help="the plugin's name: lower-case letters and digits, parts joined by '-' or '_'")
    p.add_argument("--directory", "-d", default=".", help="where to write the package folder (default: here)")
    p.set_defaults(func=_cmd_new_plugin)


__all__ = ["add_commands"]


