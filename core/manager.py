"""The plugin manager: one discovery path for first-party and third-party plugins.

Plugins are modules registered under the ``pathreason`` entry-point group. pathreason's own
tasks, rewards, budgeters, datasets and models are declared there too (see ``pyproject.toml``),
so nothing is special-cased. A plugin that fails to import (``sys.exit()`` at import included) is
reported and skipped; only a look-up that needs it fails, with a message naming its distribution.
Two plugins that provide one name are both marked ``conflict``, and a look-up of that name fails
naming both. The specs handed out call their plugin's code (``factory``, a dataset's ``check``)
behind a guard that turns what it raises into one :class:`~pathreason.api.PluginError` naming the
plugin, its distribution and the error, the traceback chained for ``pathreason -v``.
"""

from __future__ import annotations

import copy
import functools
import importlib.metadata as importlib_metadata
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from pathreason.api import (
    KINDS,
    PathreasonError,
    PluginError,
    Spec,
    UnknownNameError,
    did_you_mean,
    hookspecs,
    normalize_name,
)

logger = logging.getLogger(__name__)

STRICT_ENV = "PATHREASON_STRICT_PLUGINS"
DISABLE_ENV = "PATHREASON_DISABLE_PLUGINS"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def one_line(text: str) -> str:
    """``text`` with its non-blank lines joined by `` | ``, so that an error stays one line."""
    return " | ".join(line.strip() for line in str(text).splitlines() if line.strip())


def describe_exception(exc: BaseException) -> str:
    """``"TypeError: message"`` on one line; ``sys.exit(n)`` says so, since its message is only ``n``."""
    if isinstance(exc, SystemExit):
        return f"SystemExit: it called sys.exit({exc.code!r})"
    text = one_line(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def describe_value(value: Any, limit: int = 80) -> str:
    """A value as an error message shows it: its type and a shortened ``repr``."""
    text = repr(value)
    text = text if len(text) <= limit else text[:limit - 3] + "..."
    return "None" if value is None else f"{type(value).__name__} {text}"


@dataclass
class PluginInfo:
    """What ``pathreason plugins`` shows for one plugin.

    ``status`` is ``active``; ``conflict`` (active, but a name it provides is also provided by
    another plugin, so looking that name up fails: ``conflicts`` says which); ``disabled``
    (``PATHREASON_DISABLE_PLUGINS``); or ``failed`` (``error`` says why).
    """

    name: str
    distribution: str
    version: str
    module: str
    status: str
    error: str | None = None
    provides: dict[str, list[str]] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)

    def where(self) -> str:
        return f"plugin {self.name!r} (distribution {f'{self.distribution} {self.version}'.strip()})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "module": self.module,
            "status": self.status,
            "error": self.error,
            "provides": {k: list(v) for k, v in self.provides.items()},
            "conflicts": list(self.conflicts),
        }


@dataclass
class _Entry:
    spec: Spec
    plugin: PluginInfo


def _guarded(func: Callable[..., Any], what: str, info: PluginInfo) -> Callable[..., Any]:
    """``func`` (plugin code) raising a :class:`PluginError` that names ``what`` and its plugin for
    anything it raises except pathreason's own errors (raised on purpose, already clear) and
    ``KeyboardInterrupt``. The original exception is chained (``pathreason -v`` shows its traceback)."""

    @functools.wraps(func, updated=())  # a class factory's __dict__ must not be copied onto a function
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PathreasonError:
            raise
        except (Exception, SystemExit) as exc:
            raise PluginError(f"{what} of {info.where()} raised {describe_exception(exc)}. Fix or reinstall "
                              f"{info.distribution} (`pathreason -v` shows the traceback)") from exc

    return call


class PathreasonPluginManager(pluggy.PluginManager):
    """A ``pluggy.PluginManager`` that records where each plugin came from and what it provides."""

    def __init__(self) -> None:
        super().__init__(hookspecs.PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._entries: dict[str, dict[str, list[_Entry]]] | None = None

    # ----------------------------------------------------------------------------- loading
    @staticmethod
    def strict() -> bool:
        return _truthy(os.environ.get(STRICT_ENV))

    @staticmethod
    def disabled_names() -> set[str]:
        raw = os.environ.get(DISABLE_ENV, "")
        return {n.strip().lower() for n in raw.split(",") if n.strip()}

    def load_entrypoints(self, group: str = hookspecs.ENTRY_POINT_GROUP) -> None:
        """Import and register every plugin of the entry-point group (sorted, de-duplicated)."""
        disabled = self.disabled_names()
        seen: set[tuple[str, str]] = set()
        eps = sorted(importlib_metadata.entry_points(group=group), key=lambda ep: (ep.name, ep.value))
        for ep in eps:
            if (ep.name, ep.value) in seen:  # one distribution visible twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else "unknown"
            version = dist.version if dist is not None else "unknown"
            name = ep.name.strip().lower()
            info = PluginInfo(name=name, distribution=dist_name, version=version, module=ep.value, status="active")
            if name in self.infos:
                other = self.infos[name]
                info.status = "failed"
                info.error = (
                    f"plugin name {name!r} is claimed by two distributions: {other.distribution} "
                    f"({other.module}) and {dist_name} ({ep.value}); uninstall one of them"
                )
                self._fail(info, key=f"{name}@{dist_name}")
                continue
            if name in disabled:
                info.status = "disabled"
                self.infos[name] = info
                continue
            try:
                obj = ep.load()
            except (Exception, SystemExit) as exc:  # a broken plugin (even one calling sys.exit) must not take the others down
                info.status = "failed"
                info.error = describe_exception(exc) if isinstance(exc, SystemExit) else f"{type(exc).__name__}: {exc}"
                self._fail(info, exc=exc)
                continue
            self._register(obj, info)
        unknown = disabled - set(self.infos)
        for name in sorted(unknown):
            logger.warning(
                "%s names %r, which is not an installed plugin.%s Installed: %s",
                DISABLE_ENV, name, did_you_mean(name, self.infos), ", ".join(sorted(self.infos)) or "none",
            )

    def register_plugin(self, obj: Any, name: str | None = None, distribution: str = "(registered in code)",
                        version: str = "") -> PluginInfo:
        """Register a module or object that implements hooks, as an installed plugin would be."""
        pname = (name or getattr(obj, "__name__", None) or type(obj).__name__).strip().lower()
        if pname in self.infos:
            raise PluginError(f"a plugin named {pname!r} is already registered ({self.infos[pname].where()})")
        info = PluginInfo(name=pname, distribution=distribution, version=version,
                          module=getattr(obj, "__name__", repr(obj)), status="active")
        if pname in self.disabled_names():
            info.status = "disabled"
            self.infos[pname] = info
            return info
        self._register(obj, info)
        return info

    def _register(self, obj: Any, info: PluginInfo) -> None:
        try:
            # pluggy would accept a misspelt hook (pathreason_task), which then silently provides nothing
            unknown = [attr for attr in dir(obj) if attr.startswith("pathreason_")
                       and attr not in hookspecs.HOOKS.values() and self.parse_hookimpl_opts(obj, attr) is not None]
            if unknown:
                raise PluginError(f"it implements {unknown[0]!r}, which is not a pathreason hook."
                                  f"{did_you_mean(unknown[0], hookspecs.HOOKS.values())} "
                                  f"Hooks: {', '.join(hookspecs.HOOKS.values())}")
            self.register(obj, name=info.name)
        except Exception as exc:  # e.g. a hook with a misspelt name or wrong signature
            info.status = "failed"
            info.error = f"{type(exc).__name__}: {exc}"
            self._fail(info, exc=exc)
            return
        self.infos[info.name] = info
        self._entries = None

    def _fail(self, info: PluginInfo, key: str | None = None, exc: BaseException | None = None) -> None:
        """Record a failed plugin; warn in one line (the traceback at DEBUG level), or raise when strict."""
        self.infos[key or info.name] = info
        self._entries = None
        message = f"{info.where()} failed to load: {one_line(info.error or '')}"
        if self.strict():
            raise PluginError(message + f" ({STRICT_ENV} is set)") from exc
        logger.warning("%s; it is skipped (set %s=1 to make this fatal)", message, STRICT_ENV)
        if exc is not None:
            logger.debug("traceback of %s:", info.where(), exc_info=exc)

    # ----------------------------------------------------------------------------- collecting
    def _collect(self) -> dict[str, dict[str, list[_Entry]]]:
        if self._entries is not None:
            return self._entries
        for plugin in self.infos.values():  # recomputed from scratch: a collection may run again after a registration
            plugin.provides, plugin.conflicts = {}, []
            if plugin.status == "conflict":
                plugin.status = "active"
        entries: dict[str, dict[str, list[_Entry]]] = {kind: {} for kind in KINDS}
        for kind, hook_name in hookspecs.HOOKS.items():
            caller = getattr(self.hook, hook_name)
            for impl in caller.get_hookimpls():
                info = self.infos.get(impl.plugin_name)
                if info is None or info.status != "active":
                    continue
                try:
                    specs = list(impl.function() or ())
                    for spec in specs:
                        if not isinstance(spec, KINDS[kind].spec):
                            raise TypeError(f"{hook_name}() returned {spec!r}, expected {KINDS[kind].spec.__name__}")
                except (Exception, SystemExit) as exc:
                    info.error = f"{hook_name}() raised {describe_exception(exc)}"
                    info.status = "failed"
                    self._fail(info, exc=exc)
                    # drop what this plugin contributed to earlier kinds too
                    for bucket in entries.values():
                        for name in list(bucket):
                            bucket[name] = [e for e in bucket[name] if e.plugin is not info]
                            if not bucket[name]:
                                del bucket[name]
                    info.provides = {}
                    continue
                for spec in {id(s): s for s in specs}.values():  # one spec returned twice is one spec
                    entry = _Entry(self._guard(spec, info), info)
                    for key in dict.fromkeys((spec.name, *spec.aliases)):
                        entries[kind].setdefault(key, []).append(entry)
                    info.provides.setdefault(KINDS[kind].plural, []).append(spec.name)
        self._mark_conflicts(entries)
        self._entries = entries
        return entries

    @staticmethod
    def _guard(spec: Spec, info: PluginInfo) -> Spec:
        """A copy of ``spec`` whose ``factory`` (and a dataset's ``check``) raise a :class:`PluginError`
        naming ``info`` for what the plugin's code raises (see :func:`_guarded`)."""
        guarded = copy.copy(spec)  # frozen: the copy's fields are set the way dataclasses set them
        what = f"{spec.kind} {spec.name!r}"
        object.__setattr__(guarded, "factory", _guarded(spec.factory, what, info))
        check = getattr(spec, "check", None)
        if callable(check):
            object.__setattr__(guarded, "check", _guarded(check, f"the check of {what}", info))
        return guarded

    @staticmethod
    def _claimants(kind: str, key: str, entries: list[_Entry]) -> str | None:
        """The conflict message when ``key`` resolves to more than one spec, else ``None``."""
        distinct = list({id(e.spec): e for e in entries}.values())
        if len(distinct) < 2:
            return None
        who = " and ".join(sorted(e.plugin.where() for e in distinct))
        count = "two" if len(distinct) == 2 else str(len(distinct))
        return (f"{kind} name {key!r} is claimed by {count} plugins: {who}; "
                f"disable one with {DISABLE_ENV}=<plugin name>")

    def _mark_conflicts(self, entries: dict[str, dict[str, list[_Entry]]]) -> None:
        """Mark each plugin with a name another plugin also provides ``conflict``; fatal when strict."""
        messages = []
        for kind, bucket in entries.items():
            for key, claims in bucket.items():
                message = self._claimants(kind, key, claims)
                if message is None:
                    continue
                messages.append(message)
                for entry in claims:
                    entry.plugin.status = "conflict"
                    if message not in entry.plugin.conflicts:
                        entry.plugin.conflicts.append(message)
        if messages and self.strict():
            raise PluginError(f"{' | '.join(messages)} ({STRICT_ENV} is set)")
        for message in messages:
            logger.warning("%s (looking it up fails until then; set %s=1 to make this fatal)", message, STRICT_ENV)

    def specs(self, kind: str) -> dict[str, Spec]:
        """Every spec of one kind by canonical name (aliases not repeated); conflicts left out
        (:meth:`conflicts` has them)."""
        out: dict[str, Spec] = {}
        for key, entries in self._collect()[kind].items():
            if len(entries) == 1 and entries[0].spec.name == key:
                out[key] = entries[0].spec
        return dict(sorted(out.items()))

    def conflicts(self, kind: str) -> dict[str, str]:
        """Every name of one kind that several plugins provide, with the message naming them."""
        out = {key: self._claimants(kind, key, entries) for key, entries in self._collect()[kind].items()}
        return {key: message for key, message in sorted(out.items()) if message is not None}

    def provider(self, spec: Spec) -> PluginInfo | None:
        """The plugin that provided ``spec`` (a spec this manager handed out), or ``None``."""
        for bucket in self._collect().values():
            for entries in bucket.values():
                for entry in entries:
                    if entry.spec is spec:
                        return entry.plugin
        return None

    def lookup(self, kind: str, name: str) -> Spec:
        """The spec of ``kind`` called ``name`` (or an alias of it), or a helpful error."""
        key = normalize_name(name) if isinstance(name, str) and name.strip() else name
        entries = self._collect()[kind].get(key, []) if isinstance(key, str) else []
        conflict = self._claimants(kind, str(key), entries)
        if conflict is not None:
            raise PluginError(conflict)
        if entries:
            return entries[0].spec
        known = sorted(self._collect()[kind])
        msg = f"unknown {kind} {name!r}."
        failed = [i for i in self.infos.values() if i.status == "failed"]
        culprit = [i for i in failed if isinstance(key, str) and (i.name == key or key in i.module.lower())]
        disabled = [i for i in self.infos.values() if i.status == "disabled" and i.name == key]
        if culprit:
            i = culprit[0]
            msg = (f"{kind} {name!r} is unavailable: {i.where()} failed to load: {one_line(i.error or '')}. "
                   f"Reinstall or fix {i.distribution}.")
        elif disabled:
            msg += f" It belongs to {disabled[0].where()}, disabled by {DISABLE_ENV}."
        else:
            msg += did_you_mean(str(name), known)
            msg += f" Known {KINDS[kind].plural}: {', '.join(known) or 'none'}."
            if failed:
                msg += " Plugins that failed to load and may provide it: " + "; ".join(
                    f"{i.where()}: {one_line(i.error or '')}" for i in failed)
        raise UnknownNameError(msg)

    def plugin_infos(self) -> list[PluginInfo]:
        self._collect()
        return sorted(self.infos.values(), key=lambda i: (i.name, i.distribution))


_default: PathreasonPluginManager | None = None


def get_plugin_manager() -> PathreasonPluginManager:
    """The process-wide plugin manager, loading entry points on first use."""
    global _default
    if _default is None:
        pm = PathreasonPluginManager()
        pm.load_entrypoints()
        _default = pm
    return _default


def set_plugin_manager(pm: PathreasonPluginManager | None) -> PathreasonPluginManager | None:
    """Replace the process-wide manager (``None`` reloads entry points on next use); returns the old one."""
    global _default
    old, _default = _default, pm
    return old


def names(kind: str) -> Iterable[str]:
    return get_plugin_manager().specs(kind).keys()
