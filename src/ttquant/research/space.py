"""The search space of a strategy: which parameters an optimizer may change, and over what.

The space starts from what the strategy declares (``Param(10, min=2, max=200)``): a parameter
with both bounds is a range (its declared ``step``, else 1 for integers and continuous for
floats), a parameter with ``choices`` or of type ``bool`` is categorical, anything else keeps its
default. The command line replaces that default space: ``--param fast=5:50`` (a range),
``fast=5:50:5`` (a range on a step), ``lr=0.001:0.1:log`` (log scale), ``ma=sma,ema`` (choices),
``size=2`` (fixed). When any ``--param`` names a range or choices, only the parameters named
are searched; the others keep their defaults. Every bound and choice is checked against the
declaration, so a space can never propose a value the strategy would refuse.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ttquant.core.errors import ConfigError
from ttquant.strategy.params import ParamSpec

if TYPE_CHECKING:
    import optuna

__all__ = ["Dimension", "SearchSpace", "build_space", "parse_assignments"]

Kind = Literal["int", "float", "categorical"]


@dataclass(frozen=True, slots=True)
class Dimension:
    """One searched parameter: a numeric range (optionally stepped or log-scaled) or choices."""

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 0.0
    step: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def values(self) -> list[Any]:
        """Every value of a discrete dimension, in order (what a grid search visits)."""
        if self.kind == "categorical":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1, int(self.step or 1)))
        if self.step is None:
            raise ConfigError(
                f"parameter {self.name!r}: a float range needs a step for a grid "
                f"(e.g. {self.name}={self.low:g}:{self.high:g}:STEP)"
            )
        count = math.floor((self.high - self.low) / self.step + 1e-9) + 1
        return [round(self.low + i * self.step, 12) for i in range(count)]

    def distribution(self) -> optuna.distributions.BaseDistribution:
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "categorical":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            step = 1 if self.log else int(self.step or 1)
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=step)
        high = self.high
        if self.step is not None:  # optuna wants high on the grid; keep the last grid point
            high = self.values()[-1]
        return FloatDistribution(self.low, high, log=self.log, step=self.step)


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """The searched dimensions of one strategy and the values fixed for the others."""

    dimensions: tuple[Dimension, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [d.name for d in self.dimensions]

    def grid_size(self) -> int:
        return math.prod(len(d.values()) for d in self.dimensions)

    def grid(self) -> list[dict[str, Any]]:
        """Every combination (cartesian product), the last dimension varying fastest."""
        values = [d.values() for d in self.dimensions]
        return [
            {**self.fixed, **dict(zip(self.names, combo, strict=True))}
            for combo in itertools.product(*values)
        ]

    def distributions(self) -> dict[str, optuna.distributions.BaseDistribution]:
        return {d.name: d.distribution() for d in self.dimensions}

    def params(self, searched: Mapping[str, Any]) -> dict[str, Any]:
        """The full parameter set of a run: the fixed values plus the searched ones."""
        return {**self.fixed, **searched}


def parse_assignments(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """``["fast=5:50", ...]`` as ``{"fast": "5:50"}``; each name at most once."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name or not value.strip():
            raise ConfigError(f"{flag} {pair!r} is not of the form name=value")
        if name in parsed:
            raise ConfigError(f"{flag} names parameter {name!r} twice")
        parsed[name] = value.strip()
    return parsed


def build_space(
    strategy: str,
    specs: Mapping[str, ParamSpec],
    overrides: Mapping[str, str] | None = None,
    fixed: Mapping[str, Any] | None = None,
) -> SearchSpace:
    """The space of ``strategy`` (its declared ``specs``), changed by ``--param`` overrides.

    ``fixed`` values (``--set``) are never searched. Raises :class:`ConfigError` naming the
    parameter for an unknown name, a malformed range, a bound outside the declared range, or an
    empty space.
    """
    overrides = dict(overrides or {})
    fixed_values: dict[str, Any] = {}
    for name, value in (fixed or {}).items():
        fixed_values[name] = _spec(strategy, specs, name).coerce(strategy, value)
    both = sorted(set(overrides) & set(fixed_values))
    if both:
        raise ConfigError(f"parameter {both[0]!r} is given both as --param and as --set")
    dimensions: list[Dimension] = []
    if overrides:
        for name, text in overrides.items():
            parsed = _parse_dimension(strategy, _spec(strategy, specs, name), text)
            if isinstance(parsed, Dimension):
                dimensions.append(parsed)
            else:
                fixed_values[name] = parsed[0]
    else:
        for name, spec in specs.items():
            if name not in fixed_values and (dim := _declared_dimension(spec)) is not None:
                dimensions.append(dim)
    if not dimensions:
        raise ConfigError(
            f"strategy {strategy!r}: nothing to search; declare parameter ranges or give "
            "--param NAME=LOW:HIGH (or NAME=A,B,C)"
        )
    return SearchSpace(tuple(dimensions), fixed_values)


def _spec(strategy: str, specs: Mapping[str, ParamSpec], name: str) -> ParamSpec:
    if name not in specs:
        known = ", ".join(specs) or "none"
        raise ConfigError(f"strategy {strategy!r} has no parameter {name!r} (known: {known})")
    return specs[name]


def _declared_dimension(spec: ParamSpec) -> Dimension | None:
    p = spec.param
    if p.choices is not None:
        return Dimension(spec.name, "categorical", choices=tuple(p.choices))
    if spec.type is bool:
        return Dimension(spec.name, "categorical", choices=(False, True))
    if spec.type in (int, float) and p.min is not None and p.max is not None and p.min < p.max:
        kind: Kind = "int" if spec.type is int else "float"
        step = p.step if p.step is not None else (1 if kind == "int" else None)
        return Dimension(spec.name, kind, float(p.min), float(p.max), step)
    return None


def _parse_dimension(strategy: str, spec: ParamSpec, text: str) -> Dimension | tuple[Any]:
    """A range ``LOW:HIGH[:STEP|:log]``, choices ``A,B,C``, or a single fixed value (1-tuple)."""
    where = f"--param {spec.name}={text}"
    if "," in text:
        choices = tuple(spec.coerce(strategy, part.strip()) for part in text.split(","))
        if len(set(map(repr, choices))) != len(choices):
            raise ConfigError(f"{where}: a choice is repeated")
        return Dimension(spec.name, "categorical", choices=choices)
    if ":" not in text:
        return (spec.coerce(strategy, text),)
    if spec.type not in (int, float):
        raise ConfigError(f"{where}: a range needs a numeric parameter; give choices A,B,C")
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (2, 3):
        raise ConfigError(f"{where}: expected LOW:HIGH, LOW:HIGH:STEP or LOW:HIGH:log")
    low, high = (spec.coerce(strategy, part) for part in parts[:2])
    if not low < high:
        raise ConfigError(f"{where}: LOW must be below HIGH")
    kind: Kind = "int" if spec.type is int else "float"
    log = len(parts) == 3 and parts[2].lower() == "log"
    step: float | None = 1 if kind == "int" else None
    if len(parts) == 3 and not log:
        step = _positive_step(where, parts[2], kind)
    if log and low <= 0:
        raise ConfigError(f"{where}: a log range needs LOW > 0")
    return Dimension(spec.name, kind, float(low), float(high), step, log)


def _positive_step(where: str, text: str, kind: Kind) -> float:
    try:
        step = int(text) if kind == "int" else float(text)
    except ValueError:
        raise ConfigError(f"{where}: step {text!r} is not a {kind} (or 'log')") from None
    if not (math.isfinite(step) and step > 0):
        raise ConfigError(f"{where}: step must be positive")
    return step
