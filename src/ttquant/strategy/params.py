"""Typed, documented strategy parameters.

A strategy declares its parameters as class attributes::

    class SmaCross(Strategy):
        fast: int = Param(10, min=2, max=200, doc="fast moving-average window")

The declaration gives the default, the range the optimizer may search, the documentation shown by
``ttq strategies list`` and whether a running node may change it without a restart. At
construction the values are validated (unknown names, wrong types, out of range: one clear
message each) and stored as plain instance attributes, so reading ``self.fast`` in ``on_bar``
costs what any attribute read costs.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ttquant.core.errors import ConfigError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}
_NONE = {"none", "null", ""}


@dataclass(frozen=True, slots=True)
class ParamDecl:
    """Declaration of one strategy parameter (the type comes from the annotation)."""

    default: Any
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: Sequence[Any] | None = None
    doc: str = ""
    reloadable: bool = True


def Param(  # noqa: N802 - reads as a declaration, like dataclasses.field
    default: Any,
    *,
    min: float | None = None,
    max: float | None = None,
    step: float | None = None,
    choices: Sequence[Any] | None = None,
    doc: str = "",
    reloadable: bool = True,
) -> Any:
    """Declare a strategy parameter: ``fast: int = Param(10, min=2, max=200, doc="...")``.

    Typed as ``Any`` so that the annotation (``int`` here) is what type checkers see on the
    instance, which is what the strategy reads at run time.
    """
    return ParamDecl(default, min, max, step, choices, doc, reloadable)


@dataclass(frozen=True, slots=True)
class ParamSpec:
    name: str
    type: type
    param: ParamDecl
    optional: bool = False  # declared ``X | None``

    def coerce(self, owner: str, value: Any) -> Any:
        """``value`` converted to the declared type and checked against the declared range."""
        t = self.type
        where = f"strategy {owner!r}: parameter {self.name!r}"
        if self.optional and (
            value is None or (isinstance(value, str) and value.strip().lower() in _NONE)
        ):
            return None
        try:
            if t is bool:
                if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
                    out: Any = value.strip().lower() in _TRUE
                elif isinstance(value, bool):
                    out = value
                else:
                    raise ValueError
            elif t is int:
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                out = int(value)
            elif t is float:
                if isinstance(value, bool):
                    raise ValueError
                out = float(value)
            elif t is str:
                if not isinstance(value, str):
                    raise ValueError
                out = value
            else:
                out = value
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be {t.__name__}, got {value!r}") from None
        p = self.param
        if t not in (int, float):
            return self._check_choice(where, out)
        if p.min is not None and out < p.min:
            raise ConfigError(f"{where} must be >= {p.min}, got {out!r}")
        if p.max is not None and out > p.max:
            raise ConfigError(f"{where} must be <= {p.max}, got {out!r}")
        return self._check_choice(where, out)

    def _check_choice(self, where: str, out: Any) -> Any:
        choices = self.param.choices
        if choices is not None and out not in choices:
            raise ConfigError(f"{where} must be one of {list(choices)}, got {out!r}")
        return out


def collect_params(cls: type) -> dict[str, ParamSpec]:
    """The parameters a class (and its bases) declare, in declaration order."""
    hints = typing.get_type_hints(cls)
    specs: dict[str, ParamSpec] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, ParamDecl):
                declared = hints.get(name, type(value.default))
                args = [a for a in typing.get_args(declared) if a is not type(None)]
                optional = len(args) == 1 and type(None) in typing.get_args(declared)
                if optional:
                    declared = args[0]
                specs[name] = ParamSpec(
                    name, declared if isinstance(declared, type) else object, value, optional
                )
    return specs


def resolve_params(
    owner: str, specs: Mapping[str, ParamSpec], given: Mapping[str, Any]
) -> dict[str, Any]:
    unknown = sorted(set(given) - set(specs))
    if unknown:
        known = ", ".join(specs) or "none"
        raise ConfigError(f"strategy {owner!r}: unknown parameter {unknown[0]!r} (known: {known})")
    return {
        name: spec.coerce(owner, given.get(name, spec.param.default))
        for name, spec in specs.items()
    }
