"""The one configuration object that is passed down through the code.

``Config`` is a nested mapping with attribute access (``cfg.train.base_lr``). It is built from the
documented defaults in :mod:`hsg.config.defaults`, then updated from YAML files and from dotted
``key=value`` overrides. Every update is validated against the defaults: a misspelt key or a value of
the wrong type stops the program with a message that names the key and suggests the closest valid
ones, because a silently ignored typo in a 350k-iteration run costs days.
"""

from __future__ import annotations

import copy
import difflib
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from hsg.config.defaults import DEFAULTS, LEGACY_KEYS, RENAMED_KEYS, K
from hsg.config.presets import preset_names, resolve_config_path
from hsg.errors import ConfigError
from hsg.files import atomic_write


class Config(dict):
    """A dict with attribute access whose leaves were validated against :data:`DEFAULTS`."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"config has no key '{name}'") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value

    def __deepcopy__(self, memo: dict) -> "Config":
        return Config({k: copy.deepcopy(v, memo) for k, v in self.items()})

    # ------------------------------------------------------------------ access by dotted key
    def get_dotted(self, key: str) -> Any:
        node: Any = self
        for part in key.split("."):
            node = node[part]
        return node

    def set_dotted(self, key: str, value: Any) -> None:
        parts = key.split(".")
        node = self
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value

    # ------------------------------------------------------------------ merging
    def merge_from_dict(self, updates: Mapping[str, Any], source: str = "dict") -> "Config":
        """Validate and apply a nested mapping of overrides (as read from YAML)."""
        for key, value in _flatten(updates):
            self.set_value(key, value, source)
        return self

    def merge_from_file(self, path: str | Path) -> "Config":
        """Apply a YAML file, or a preset of ``configs/`` by name (:mod:`hsg.config.presets`)."""
        path = resolve_config_path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path} (presets: {', '.join(preset_names())})")
        with open(path) as f:
            try:
                data = yaml.safe_load(f)
            except yaml.YAMLError as e:
                raise ConfigError(f"{path}: not valid YAML: {e}") from e
        if data is None:
            return self
        if not isinstance(data, Mapping):
            raise ConfigError(f"{path}: the top level must be a mapping of keys, got {type(data).__name__}")
        return self.merge_from_dict(data, source=str(path))

    def merge_from_list(self, opts: Iterable[str]) -> "Config":
        """Apply ``key=value`` overrides; values are parsed as YAML (``0.01``, ``[6,6]``, ``true``)."""
        for opt in opts:
            if "=" not in opt:
                raise ConfigError(f"override '{opt}' is not of the form key=value "
                                  f"(for example train.base_lr=0.01)")
            key, text = opt.split("=", 1)
            try:
                value = yaml.safe_load(text) if text.strip() else ""
            except yaml.YAMLError:
                value = text
            self.set_value(key.strip(), value, source="command line")
        return self

    def set_value(self, key: str, value: Any, source: str = "code") -> None:
        """Validate one dotted key against the defaults and its rules, coerce its value and store it."""
        key = RENAMED_KEYS.get(key, key)
        if key in LEGACY_KEYS:
            warnings.warn(f"{source}: config key '{key}' is from the original HSG and is ignored here "
                          f"({LEGACY_KEYS[key]})", stacklevel=3)
            return
        spec = _SPECS.get(key)
        if spec is None:
            if key in _SECTIONS:
                raise ConfigError(f"{source}: '{key}' is a section, not a value; set its keys, e.g. "
                                  f"{', '.join(sorted(k for k in _SPECS if k.startswith(key + '.'))[:3])}")
            close = difflib.get_close_matches(key, list(_SPECS), n=3, cutoff=0.7)
            if not close:
                leaf = key.rsplit(".", 1)[-1]
                close = [k for k in _SPECS if k.rsplit(".", 1)[-1] == leaf][:5]
            hint = f"; did you mean: {', '.join(close)}?" if close else ""
            raise ConfigError(f"{source}: unknown config key '{key}'{hint}")
        self.set_dotted(key, _coerce(key, value, spec, source))

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        return _plain(self)

    def dump(self, path: str | Path) -> Path:
        """Write the fully resolved configuration as YAML (atomically) and return the path."""
        with atomic_write(path, "w") as f:
            yaml.safe_dump(self.to_dict(), f, sort_keys=False, default_flow_style=None)
        return Path(path)

    def __repr__(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=None)


# ---------------------------------------------------------------------------------------- helpers
def _flatten(tree: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Nested mapping -> (dotted key, value) pairs; unknown mappings stay whole so errors name them."""
    out: list[tuple[str, Any]] = []
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and key in _SECTIONS:
            out.extend(_flatten(v, key + "."))
        else:
            out.append((key, v))
    return out


def _collect_specs(tree: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, K], set[str]]:
    specs: dict[str, K] = {}
    sections: set[str] = set()
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, K):
            specs[key] = v
        else:
            sections.add(key)
            sub_specs, sub_sections = _collect_specs(v, key + ".")
            specs.update(sub_specs)
            sections |= sub_sections
    return specs, sections


_SPECS, _SECTIONS = _collect_specs(DEFAULTS)


def _type_name(t: type) -> str:
    return {type(None): "null"}.get(t, t.__name__)


def _coerce(key: str, value: Any, spec: K, source: str) -> Any:
    """Return ``value`` converted to the type of the default, or raise a ConfigError naming the key."""
    default = spec.default
    allowed = spec.types or (type(default),)

    def fail(expected: str) -> ConfigError:
        return ConfigError(f"{source}: config key '{key}' expects {expected}, got {value!r} "
                           f"({type(value).__name__})")

    if value is None and type(None) in allowed:
        return None
    if isinstance(default, bool) or bool in allowed:
        if isinstance(value, bool):
            out: Any = value
        else:
            raise fail("true or false")
    elif isinstance(default, int) and not isinstance(default, bool) and int in allowed:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise fail("an integer")
        out = int(value)
    elif isinstance(default, float):
        if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise fail("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail("a number")
        out = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise fail("a string" + (" or null" if type(None) in allowed else ""))
        out = value
    elif isinstance(default, list):
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise fail(f"a list like {default!r}")
        if default and len(value) != len(default) and key not in _VARIABLE_LENGTH:
            raise fail(f"a list of {len(default)} values like {default!r}")
        elem_t = type(default[0]) if default else None
        items = []
        for item in value:
            if elem_t is float and isinstance(item, (int, float)) and not isinstance(item, bool):
                items.append(float(item))
            elif elem_t is int and isinstance(item, (int, float)) and not isinstance(item, bool) \
                    and int(item) == item:
                items.append(int(item))
            elif elem_t is None or isinstance(item, elem_t):
                items.append(item)
            else:
                raise fail(f"a list of {elem_t.__name__} values like {default!r}")
        out = items
    else:  # pragma: no cover - every default above is one of the handled types
        raise fail(" or ".join(_type_name(t) for t in allowed))
    if spec.choices is not None and out not in spec.choices:
        raise ConfigError(f"{source}: config key '{key}' must be one of {list(spec.choices)}, got {value!r}")
    numbers = out if isinstance(out, list) else [out]
    if spec.low is not None and any(v < spec.low for v in numbers):
        raise ConfigError(f"{source}: config key '{key}' must be >= {spec.low:g}"
                          f"{' (every value)' if isinstance(out, list) else ''}, got {value!r}")
    if spec.high is not None and any(v > spec.high for v in numbers):
        raise ConfigError(f"{source}: config key '{key}' must be <= {spec.high:g}"
                          f"{' (every value)' if isinstance(out, list) else ''}, got {value!r}")
    problem = spec.check(out) if spec.check is not None else None
    if problem:
        raise ConfigError(f"{source}: config key '{key}' {problem}, got {value!r}")
    return out


# Lists whose length is free (every other list key has the length of its default).
_VARIABLE_LENGTH = {"test.scales", "train.decay_fractions"}


def _build(tree: Mapping[str, Any]) -> Config:
    return Config({k: (copy.deepcopy(v.default) if isinstance(v, K) else _build(v)) for k, v in tree.items()})


def _plain(node: Any) -> Any:
    if isinstance(node, Mapping):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    return node


def get_default_config() -> Config:
    """A fresh copy of the defaults (callers may mutate it freely)."""
    return _build(DEFAULTS)


def load_config(cfg_path: str | Path | None = None, opts: Iterable[str] = ()) -> Config:
    """Defaults, then the YAML file (if any), then the ``key=value`` overrides, in that order."""
    cfg = get_default_config()
    if cfg_path:
        cfg.merge_from_file(cfg_path)
    cfg.merge_from_list(opts)
    return cfg


def describe_keys() -> list[tuple[str, Any, str]]:
    """(dotted key, default, doc) for every key, for ``--help-config`` of the entry scripts."""
    return [(k, spec.default, spec.doc) for k, spec in _SPECS.items()]
