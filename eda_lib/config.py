"""Parameters: declared once, validated in one place.

Parameters flow one way: a YAML file (and ``-p KEY VALUE`` overrides, or the
``parameters`` cell of a notebook) -> :func:`load_config` / :func:`make_config` ->
a frozen :class:`Config` -> the functions of the package. An unknown key, a value
of the wrong type or a missing ``data_dir`` raises :class:`~eda_lib.errors.ConfigError`
naming the key and the fix.

Relative paths are resolved against the current working directory when the config
is made (so ``-p data_dir some/folder`` means what it says on the command line);
the runner hands notebooks absolute paths.
"""

from __future__ import annotations

import math
import numbers
import os
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError


@dataclass(frozen=True)
class Param:
    """Declaration of one parameter: its type, default and one-line help."""

    name: str
    type: type
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    #: The values a string parameter may take (None: any non-empty string).
    choices: tuple[str, ...] | None = None
    #: A regular expression a non-empty string value must match in full, and an example
    #: of such a value for the error message.
    pattern: str | None = None
    example: str = ""


#: Every parameter the suite knows, in the order the notebooks list them.
#: ``None`` as a default marks a required parameter.
PARAMS: tuple[Param, ...] = (
    Param("data_dir", str, None, "competition layout or flat folder of images (read only)"),
    Param("out_dir", str, "reports/demo", "where tables, figures, notebooks and HTML are written"),
    Param("seed", int, 42, "seed of the folds and of every random sample shown",
          minimum=0, maximum=2**32 - 1),
    Param("workers", int, 0, "processes for the data pass; 0 means all cores", minimum=0),
    Param("executor", str, "local", "where the data pass runs: local (processes here) or dask",
          choices=("local", "dask")),
    Param("dask_scheduler", str, "", "address of a running Dask scheduler; empty starts a local one",
          pattern=r"(tcp|tls|ucx|ws|wss|inproc)://\S+", example="tcp://host:8786"),
    # at most the side of the display views the pass keeps (eda_lib.measure.case.VIEW_SIDE):
    # figures draw from those views, and a larger size would only enlarge their pixels
    Param("display_size", int, 768, "longest side in pixels of single-image figures",
          minimum=64, maximum=768),
    Param("grid_size", int, 320, "longest side in pixels of each grid thumbnail",
          minimum=32, maximum=768),
    Param("max_grid_images", int, 12, "most images drawn in one grid", minimum=1),
    Param("folds", int, 5, "grouped folds written to tables/folds", minimum=2),
    Param("copy_move", bool, True, "run the copy-move analysis in the data pass"),
    Param("copy_move_max_side", int, 1024, "longest side at which copy-move search runs", minimum=128),
    Param("screening", bool, True, "run the blind copy-move screen on every image in the data pass"),
    Param("screening_max_side", int, 512, "longest side at which the blind screen looks for copies",
          minimum=128, maximum=4096),
    Param("max_image_pixels", int, 100_000_000, "images claiming more pixels are refused", minimum=1),
    Param("allow_pickle", bool, False, "allow unpickling object-array masks (runs code from the files)"),
    Param("cache_dir", str, "", "per-file results cache; empty means out_dir/cache"),
    Param("show_code", bool, False, "show code cells in the HTML reports"),
    Param("progress", bool, True, "show progress bars on long work"),
)

_BY_NAME = {p.name: p for p in PARAMS}

#: Parameters that change how a run works, never what it shows: a notebook whose other
#: inputs are unchanged is kept when only these differ.
HOW_PARAMS = ("workers", "executor", "dask_scheduler", "cache_dir", "progress")
_PATH_KEYS = ("data_dir", "out_dir", "cache_dir")


@dataclass(frozen=True)
class Config:
    """Validated parameters of one run. Build it with :func:`make_config`."""

    data_dir: Path
    out_dir: Path
    seed: int = 42
    workers: int = 0
    executor: str = "local"
    dask_scheduler: str = ""
    display_size: int = 768
    grid_size: int = 320
    max_grid_images: int = 12
    folds: int = 5
    copy_move: bool = True
    copy_move_max_side: int = 1024
    screening: bool = True
    screening_max_side: int = 512
    max_image_pixels: int = 100_000_000
    allow_pickle: bool = False
    cache_dir: Path | str = ""
    show_code: bool = False
    progress: bool = True

    @property
    def cache_path(self) -> Path:
        """Folder of the per-file results cache."""
        return Path(self.cache_dir) if self.cache_dir else self.out_dir / "cache"

    @property
    def n_workers(self) -> int:
        """Number of worker processes, with 0 resolved to the machine's cores."""
        return self.workers or (os.cpu_count() or 1)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (paths as strings) in declaration order, as a notebook takes them."""
        out = {}
        for p in PARAMS:
            value = getattr(self, p.name)
            out[p.name] = str(value) if isinstance(value, Path) else value
        return out

    def replace(self, **changes: Any) -> Config:
        """A new validated config with some values changed."""
        return make_config({**self.to_dict(), **changes})


def _coerce(p: Param, value: Any) -> Any:
    """Check ``value`` against the declaration of ``p``; return it in the declared type."""
    if p.type is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(
            f"parameter {p.name!r} must be true or false, got {value!r} "
            f"({type(value).__name__}); {p.name}: {p.help}",
            key=p.name,
        )
    if p.type is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(
                f"parameter {p.name!r} must be an integer, got {value!r} "
                f"({type(value).__name__}); {p.name}: {p.help}",
                key=p.name,
            )
        if p.minimum is not None and value < p.minimum:
            raise ConfigError(
                f"parameter {p.name!r} must be >= {p.minimum:g}, got {value}; {p.name}: {p.help}",
                key=p.name,
            )
        if p.maximum is not None and value > p.maximum:
            raise ConfigError(
                f"parameter {p.name!r} must be <= {p.maximum:.0f}, got {value}; {p.name}: {p.help}",
                key=p.name,
            )
        return value
    if p.type is str:
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or (not value.strip() and p.default != ""):
            raise ConfigError(
                f"parameter {p.name!r} must be a non-empty string, got {value!r}; "
                f"{p.name}: {p.help}",
                key=p.name,
            )
        if p.choices is not None and value not in p.choices:
            raise ConfigError(
                f"parameter {p.name!r} must be one of {', '.join(p.choices)}, got {value!r}; "
                f"{p.name}: {p.help}",
                key=p.name,
            )
        if p.pattern is not None and value and not re.fullmatch(p.pattern, value):
            raise ConfigError(
                f"parameter {p.name!r} must be empty or like {p.example}, got {value!r}; "
                f"{p.name}: {p.help}",
                key=p.name,
            )
        return value
    raise AssertionError(f"no coercion for {p.type}")  # pragma: no cover


def make_config(values: Mapping[str, Any]) -> Config:
    """Validate a mapping of parameter values and return a :class:`Config`.

    Raises
    ------
    ConfigError
        For an unknown key (with the closest known name), a wrong type, a value
        below its minimum, or a missing ``data_dir``.

    Examples
    --------
    >>> cfg = make_config({"data_dir": "/data", "seed": 1})
    >>> cfg.seed, cfg.data_dir.name
    (1, 'data')
    """
    unknown = sorted(set(values) - set(_BY_NAME))
    if unknown:
        key = unknown[0]
        hint = _closest(key)
        raise ConfigError(
            f"unknown parameter {key!r}"
            + (f"; did you mean {hint!r}?" if hint else "")
            + f" Known parameters: {', '.join(_BY_NAME)}.",
            key=key,
        )
    checked: dict[str, Any] = {}
    for p in PARAMS:
        value = values.get(p.name, p.default)
        if value is None:
            if p.default is None:
                raise ConfigError(
                    f"parameter {p.name!r} is required: set it in the YAML file or pass "
                    f"-p {p.name} PATH ({p.help})",
                    key=p.name,
                )
            value = p.default
        checked[p.name] = _coerce(p, value)
    if checked["dask_scheduler"] and checked["executor"] != "dask":
        raise ConfigError(
            f"parameter 'dask_scheduler' is set ({checked['dask_scheduler']!r}) but 'executor' "
            f"is {checked['executor']!r}: set executor: dask to use the scheduler, or leave "
            "dask_scheduler empty",
            key="dask_scheduler",
        )
    for key in _PATH_KEYS:
        if checked[key]:
            try:
                checked[key] = Path(checked[key]).expanduser().resolve()
            except (ValueError, OSError, RuntimeError) as exc:  # a NUL byte, a symlink loop
                raise ConfigError(f"parameter {key!r} is not a usable path "
                                  f"({checked[key]!r}): {exc}", key=key) from exc
    return Config(**checked)


def _closest(key: str) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, list(_BY_NAME), n=1, cutoff=0.6)
    return match[0] if match else None


def parse_override(key: str, text: str) -> Any:
    """Turn the text of a ``-p KEY VALUE`` override into a value of the key's type.

    The text is read as YAML (so ``-p seed 7`` gives 7 and ``-p progress false``
    gives False); for string parameters it is taken literally.
    """
    p = _BY_NAME.get(key)
    if p is not None and p.type is str:
        return text
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot read value {text!r} of -p {key}: {exc}", key=key) from exc


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a parameter file: a YAML mapping of parameter names to values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"cannot read parameter file {path}: {exc.strerror or exc}; "
            "check the path given to -f"
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"parameter file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"parameter file {path} must hold a mapping of KEY: VALUE lines, "
            f"found a {type(data).__name__}"
        )
    return data


def load_config(
    path: str | Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Config:
    """Read a YAML parameter file, apply overrides and validate the result.

    An error about a key the file set (and no override replaced) names the file.
    """
    in_file = read_yaml(path) if path is not None else {}
    overrides = dict(overrides or {})
    try:
        return make_config({**in_file, **overrides})
    except ConfigError as exc:
        if exc.key not in in_file or exc.key in overrides:
            raise
        raise ConfigError(f"{path}: {exc}", key=exc.key) from exc


def from_namespace(namespace: Mapping[str, Any]) -> Config:
    """Build a config from the variables of a notebook's ``parameters`` cell.

    Only names that are parameters are taken; a parameter missing from the
    namespace takes its default.
    """
    for p in PARAMS:
        if p.default is None and namespace.get(p.name) is None:
            raise ConfigError(
                f"parameter {p.name!r} is not set: set it in the notebook's parameters cell "
                f"(at its top: {p.help}) and run that cell before this one", key=p.name)
    return make_config({k: v for k, v in namespace.items() if k in _BY_NAME})


def merge_tuning(defaults: Mapping[str, Any], overrides: Mapping[str, Any], what: str,
                 positive: Collection[str] = ()) -> dict[str, Any]:
    """An algorithm's tuning: ``defaults`` with ``overrides`` over them (a new dict).

    An override takes the kind of its default: a whole number for an ``int`` (never a
    bool), a finite number for a ``float``, a string for a ``str``, a list or tuple of
    finite numbers for a tuple. Numbers are at least 0, and above 0 for the keys of
    ``positive`` (sizes, steps and counts that an algorithm divides by or loops over).

    Raises
    ------
    ConfigError
        For a key ``defaults`` does not have, or a value of the wrong kind or range;
        ``what`` names the algorithm.
    """
    unknown = sorted(set(overrides) - set(defaults))
    if unknown:
        raise ConfigError(
            f"unknown {what} tuning key(s) {unknown}: known keys are {', '.join(defaults)}",
            key=unknown[0],
        )
    for key, value in overrides.items():
        _check_tuning_value(key, value, defaults[key], what, key in positive)
    return {**defaults, **overrides}


def _check_tuning_value(key: str, value: Any, default: Any, what: str, positive: bool) -> None:
    def number(v: Any, whole: bool) -> bool:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            return False
        if whole and not isinstance(v, numbers.Integral):
            return False
        return math.isfinite(v) and (v > 0 if positive else v >= 0)

    least = "above 0" if positive else "at least 0"
    if isinstance(default, bool):
        ok, kind = isinstance(value, bool), "true or false"
    elif isinstance(default, int):
        ok, kind = number(value, True), f"a whole number {least}"
    elif isinstance(default, float):
        ok, kind = number(value, False), f"a number {least}"
    elif isinstance(default, str):
        ok, kind = isinstance(value, str), "a string"
    elif isinstance(default, tuple):
        ok = isinstance(value, list | tuple) and all(number(v, False) for v in value)
        kind = f"a list of numbers {least}"
    else:
        return
    if not ok:
        hint = (" (YAML reads unquoted off, on, no and yes as false or true: quote the word)"
                if isinstance(default, str) and isinstance(value, bool) else "")
        raise ConfigError(f"{what} tuning key {key} must be {kind}, got {value!r}{hint}",
                          key=key)


def describe() -> list[dict[str, Any]]:
    """The parameter table: name, type, default and help, for docs and reports."""
    return [
        {"name": p.name, "type": p.type.__name__, "default": p.default, "help": p.help}
        for p in PARAMS
    ]

