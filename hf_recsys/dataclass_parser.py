"""Command-line options generated from dataclasses: a field's name, type, default, help and
limits are written once, on the field, and the parser, ``--help`` and the checks follow.

A field becomes ``--field-name`` (``--no-field-name`` for a bool that defaults to True). A field
whose type is itself a dataclass contributes its own fields under their own names (the command
line stays flat: ``RunConfig.data.max_history`` is ``--max-history``). Keys of a field's
``metadata``:

* ``help``: the text of ``--help`` (every field on the command line has one);
* ``gt`` / ``ge`` / ``lt`` / ``le``: numeric bounds, and ``allow``: values accepted besides them
  (``{"gt": 0, "allow": (-1,)}``: positive, or -1); checked when the command line is parsed and
  by :func:`check_fields` when a dataclass is built in Python;
* ``choices``: the accepted values, or a callable returning them (a dict maps each to a
  description shown in ``--help``); ``Literal[...]`` types give choices too;
* ``flag``: the option string when it is not ``--field-name``;
* ``parse``: a callable turning the command-line string into the value (``type=`` of argparse);
  with ``"action": "append"`` a dict field collects ``KEY=VALUE`` pairs given repeatedly;
* ``nargs`` / ``const`` / ``metavar``: handed to argparse;
* ``group``: the ``--help`` section (default: the dataclass's ``argument_group`` attribute or name);
* ``cli``: False keeps the field off the command line.

A field of a held dataclass named like a field of a dataclass holding it is not an option of its
own: the outer one sets it (``RunConfig.seed`` seeds ``DataConfig.seed``). Two fields of the same
name elsewhere are an error when the parser is built.

Floats must be finite. Nothing here knows about recommenders.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import difflib
import math
import operator
import re
import types
import typing
from typing import Any, Callable, Iterator, Literal, Optional, Sequence, Union

__all__ = ["DataclassArgumentParser", "OneLineErrorParser", "check_fields", "check_value", "flag_of", "field_constraint"]

_MISSING = dataclasses.MISSING


def flag_of(field: dataclasses.Field) -> str:
    """The option string of ``field``: ``metadata["flag"]``, else ``--name-with-dashes`` (a bool
    defaulting to True: ``--no-name``)."""
    if "flag" in field.metadata:
        return field.metadata["flag"]
    name = field.name.replace("_", "-")
    if field.default is True:  # a switch that is on by default
        return f"--no-{name}"
    return f"--{name}"


def field_constraint(field: dataclasses.Field) -> Optional[str]:
    """The bounds of ``field`` in words (``"> 0"``, ``">= 1, or -1"``), or None."""
    parts = [f"{symbol} {field.metadata[key]}" for key, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
             if key in field.metadata]
    if not parts:
        return None
    text = " and ".join(parts)
    allow = field.metadata.get("allow")
    if allow:
        text += ", or " + " or ".join(str(a) for a in allow)
    return text


def check_value(field: dataclasses.Field, value: Any) -> Optional[str]:
    """Why ``value`` breaks the bounds or choices of ``field`` (None when it does not)."""
    if value is None or isinstance(value, bool):
        return None
    meta = field.metadata
    if isinstance(value, float) and not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if isinstance(value, (int, float)) and value not in meta.get("allow", ()):
        for key in ("gt", "ge", "lt", "le"):
            if key in meta and not getattr(operator, key)(value, meta[key]):
                return f"must be {field_constraint(field)}, got {value:g}" if isinstance(value, float) \
                    else f"must be {field_constraint(field)}, got {value}"
    choices = _choices(field)
    if choices is not None and isinstance(value, str) and value not in choices:
        return f"invalid choice {value!r} (choose from {', '.join(map(str, choices))})"
    return None


def check_fields(obj: Any) -> None:
    """Raise ``ValueError`` naming the field and its flag when a value of dataclass ``obj`` (or of
    a dataclass it holds) breaks its metadata's bounds or choices."""
    hints = _type_hints(type(obj))
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            check_fields(value)
            continue
        kind, _ = _strip_optional(hints.get(field.name))
        not_a_number = isinstance(value, bool) or not isinstance(value, (int, float))
        if value is not None and kind in (int, float) and (not_a_number or (kind is int and isinstance(value, float))):
            problem = f"expects {'an integer' if kind is int else 'a number'}, got {value!r}"
        else:
            problem = check_value(field, value)
        if problem:
            error = ValueError(f"{field.name} ({flag_of(field)}) {problem}")
            error.field = field.name  # for callers that name the field in their own error type
            raise error


class OneLineErrorParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr, ``PROG: error: MESSAGE
    (see `PROG --help`)``, exit status 2: the usage block argparse prints first would bury the
    line that names the flag."""

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        self._given = list(args) if args is not None else None  # for the messages of error()
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> typing.NoReturn:  # type: ignore[override]
        if message.startswith("unrecognized arguments: "):
            message += self._suggestions(message[len("unrecognized arguments: "):].split())
        elif message.startswith("the following arguments are required: "):  # a mistyped one, maybe
            unknown = [token for token in getattr(self, "_given", None) or []
                       if token.startswith("--") and token.split("=", 1)[0] not in self._option_string_actions]
            message += f"; {', '.join(unknown)} is not an option{self._suggestions(unknown)}" if unknown else ""
        # options a recipe set, not the command line: say where they come from
        origin = getattr(self, "option_origins", None) or {}
        named = [flag for flag in dict.fromkeys(re.findall(r"--[a-z][a-z0-9-]*", message)) if flag in origin]
        if named:
            message += "; " + ", ".join(f"{flag} comes from {origin[flag]}" for flag in named)
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def _suggestions(self, unknown: Sequence[str]) -> str:
        """"; did you mean --epochs?" for mistyped options (the closest of this parser's)."""
        known = [option for option in self._option_string_actions if option.startswith("--")]
        guesses = {}
        for token in unknown:
            option = token.split("=", 1)[0]
            if option.startswith("--"):
                guesses.update({option: close[0] for close in [difflib.get_close_matches(option, known, n=1, cutoff=0.75)]
                                if close})
        if len(guesses) == 1:
            return f"; did you mean {next(iter(guesses.values()))}?"
        return f"; did you mean {', '.join(f'{g} for {o}' for o, g in guesses.items())}?" if guesses else ""


class DataclassArgumentParser(OneLineErrorParser):
    """An ``ArgumentParser`` whose options are the fields of ``dataclass_type`` (and of the
    dataclasses it holds), and which parses straight into an instance of it.

    Defaults live on the dataclass only: an option not given is left out of the namespace, so
    the dataclass's default applies, and :meth:`given` tells which options the user typed.
    ``ValueError`` raised while the dataclass is built (its own cross-field checks) becomes a
    usage error (exit status 2).
    """

    def __init__(self, dataclass_type: type, **kwargs: Any):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)
        self.dataclass_type = dataclass_type
        self._paths: dict[str, tuple[str, ...]] = {}  # dest -> path of field names from the root
        self._groups: dict[str, argparse._ArgumentGroup] = {}
        self._add_dataclass(dataclass_type, ())

    # ---- building
    def _group(self, title: str) -> argparse._ArgumentGroup:
        if title not in self._groups:
            # argparse's own section of optional arguments (where --help is) when the titles agree
            same = next((g for g in self._action_groups if g.title == title), None)
            self._groups[title] = same or self.add_argument_group(title)
        return self._groups[title]

    def _add_dataclass(self, cls: type, prefix: tuple[str, ...], outer: frozenset = frozenset()) -> None:
        hints = _type_hints(cls)
        default_group = getattr(cls, "argument_group", cls.__name__)
        own = frozenset(f.name for f in dataclasses.fields(cls))
        for field in dataclasses.fields(cls):
            if not field.init or field.metadata.get("cli", True) is False or field.name in outer:
                continue  # off the command line, or set by the dataclass holding this one
            field_type = hints[field.name]
            if dataclasses.is_dataclass(field_type):
                self._add_dataclass(field_type, prefix + (field.name,), outer | own)
                continue
            if field.name in self._paths:
                raise TypeError(f"{cls.__name__}.{field.name}: the option name is already taken by "
                                f"{'.'.join(self._paths[field.name])}; give one of them metadata flag= or cli=False")
            if "help" not in field.metadata:
                raise TypeError(f"{cls.__name__}.{field.name} has no metadata help")
            self._paths[field.name] = prefix + (field.name,)
            group = self._group(field.metadata.get("group", default_group))
            kwargs = _argparse_kwargs(field, field_type)
            if field.default is _MISSING and field.default_factory is _MISSING:  # type: ignore[misc]
                kwargs["required"] = True
            group.add_argument(flag_of(field), dest=field.name, default=argparse.SUPPRESS,
                               help=_help_text(field), **kwargs)

    # ---- parsing
    def parse_args(self, args: Optional[Sequence[str]] = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        namespace = super().parse_args(args, namespace)
        for field, _ in self._fields():
            if field.metadata.get("action") == "append" and hasattr(namespace, field.name):
                setattr(namespace, field.name, dict(getattr(namespace, field.name)))
        return namespace

    def given(self, namespace: argparse.Namespace) -> dict[str, Any]:
        """The options typed on the command line, by field name."""
        return {name: getattr(namespace, name) for name in self._paths if hasattr(namespace, name)}

    def build(self, values: dict[str, Any], **extra: Any) -> Any:
        """An instance of the dataclass from ``values`` (field name -> value, as :meth:`given`
        returns) plus ``extra`` keyword arguments of the top-level class; a ``ValueError`` of its
        checks is a usage error."""
        nested: dict[tuple[str, ...], dict[str, Any]] = {}
        for name, value in values.items():
            path = self._paths[name]
            nested.setdefault(path[:-1], {})[path[-1]] = value
        try:
            return _construct(self.dataclass_type, (), nested, extra)
        except ValueError as error:
            self.error(self.naming_the_flag(error))

    def naming_the_flag(self, error: Exception) -> str:
        """The message of ``error``; where it starts with the Python name of the option at fault
        (``error.option``, e.g. ``columns: unknown key ...`` from the data readers) and this parser
        has that option, with its flag instead (``argument --columns: unknown key ...``)."""
        message, option = str(error), getattr(error, "option", None)
        if option and message.startswith(f"{option}: "):
            flag = "--" + option.replace("_", "-")
            if flag in self._option_string_actions:
                return f"argument {flag}: {message[len(option) + 2:]}"
        return message

    def parse_dataclass(self, args: Optional[Sequence[str]] = None) -> Any:
        return self.build(self.given(self.parse_args(args)))

    def command_line(self, obj: Any, leave_out: Sequence[str] = ()) -> list[str]:
        """The options that give ``obj`` (an instance of the dataclass) when parsed: one per
        field whose value is not its default, in the order of ``--help``; fields named in
        ``leave_out`` are skipped. ``KEY=VALUE`` dict fields repeat their flag per key."""
        tokens: list[str] = []
        for field, path in self._fields():
            if field.name in leave_out:
                continue
            value = obj
            for part in path:
                value = getattr(value, part)
            if value == _default_of(field):
                continue
            flag = flag_of(field)
            if isinstance(value, bool):
                tokens.append(flag)  # a switch given flips its default
            elif isinstance(value, dict):
                tokens += [token for key, item in value.items() for token in (flag, f"{key}={_literal(item)}")]
            elif isinstance(value, (list, tuple)):
                tokens += [flag, *map(str, value)]
            else:
                tokens += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
        return tokens

    def flag(self, name: str) -> str:
        """The command-line flag of field ``name`` (``"disable_tqdm"`` -> ``"--no-progress"``)."""
        return next(flag_of(field) for field, _ in self._fields() if field.name == name)

    def _fields(self) -> Iterator[tuple[dataclasses.Field, tuple[str, ...]]]:
        for name, path in self._paths.items():
            cls = self.dataclass_type
            for part in path[:-1]:
                cls = _type_hints(cls)[part]
            yield next(f for f in dataclasses.fields(cls) if f.name == name), path


def _construct(cls: type, prefix: tuple[str, ...], nested: dict, extra: dict) -> Any:
    kwargs = dict(nested.get(prefix, {}))
    hints = _type_hints(cls)
    for field in dataclasses.fields(cls):
        sub = prefix + (field.name,)
        if dataclasses.is_dataclass(hints.get(field.name)) and any(p[: len(sub)] == sub for p in nested):
            kwargs[field.name] = _construct(hints[field.name], sub, nested, {})
    return cls(**kwargs, **extra)


def _literal(value: Any) -> str:
    """``value`` as ``KEY=VALUE`` text read back as a Python literal where it is one: a string
    only quoted when it would otherwise read as something else (``'2'``, ``'True'``)."""
    if not isinstance(value, str):
        return str(value)
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value
    return repr(value)


# ---- per-field argparse settings


def _type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if typing.get_origin(tp) in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _choices(field: dataclasses.Field) -> Optional[Sequence[Any]]:
    choices = field.metadata.get("choices")
    if callable(choices):
        choices = choices()
    if choices is None:
        return None
    return list(choices)


def _help_text(field: dataclasses.Field) -> str:
    text = field.metadata["help"]
    choices = field.metadata.get("choices")
    if callable(choices):
        choices = choices()
    if isinstance(choices, dict):
        text += ": " + ", ".join(f"{name} ({about})" if about else name for name, about in choices.items())
    elif choices is not None and "metavar" in field.metadata:  # the usage line does not list them
        text += f" (one of: {', '.join(map(str, choices))})"
    default = _default_of(field)
    if not isinstance(default, bool) and default not in (None, {}, [], ()) and "(default" not in text:
        text += f" (default: {default})"
    constraint = field_constraint(field)
    if constraint and "must be" not in text:
        text += f"; must be {constraint}"
    return text.replace("%", "%%")


def _default_of(field: dataclasses.Field) -> Any:
    if field.default is not _MISSING:
        return field.default
    if field.default_factory is not _MISSING:  # type: ignore[misc]
        return field.default_factory()  # type: ignore[misc]
    return None


def _argparse_kwargs(field: dataclasses.Field, field_type: Any) -> dict[str, Any]:
    meta = field.metadata
    base, _ = _strip_optional(field_type)
    kwargs: dict[str, Any] = {k: meta[k] for k in ("nargs", "const", "metavar") if k in meta}
    if base is bool:
        kwargs["action"] = "store_false" if field.default is True else "store_true"
        return kwargs
    if meta.get("action") == "append":
        kwargs["action"] = "append"
        kwargs["type"] = meta["parse"]
        return kwargs
    choices = _choices(field)
    if typing.get_origin(base) is Literal:
        choices = list(typing.get_args(base))
    if choices is not None:
        kwargs["choices"] = choices
        if "metavar" not in kwargs and len(choices) > 8:
            kwargs["metavar"] = field.name.upper()
    if "parse" in meta:
        kwargs["type"] = meta["parse"]
    elif base in (int, float):
        kwargs["type"] = _number_parser(field, base)
        kwargs.setdefault("metavar", "N" if base is int else "X")
    elif typing.get_origin(base) in (list, tuple):
        item_type = typing.get_args(base)[0] if typing.get_args(base) else str
        kwargs.setdefault("nargs", "+")
        kwargs["type"] = _number_parser(field, item_type) if item_type in (int, float) else item_type
    return kwargs


def _number_parser(field: dataclasses.Field, kind: type) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expects {expected}, got {text!r}") from None
        problem = check_value(field, value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    parse.__name__ = kind.__name__
    return parse
