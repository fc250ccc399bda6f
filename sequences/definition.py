"""Sequences as the engine uses them: validated, compiled, immutable.

:func:`compile_sequences` turns the raw ``[sequences.NAME]`` tables into
:class:`Sequence` objects once, at startup, and refuses anything that would fail
later: a template that does not parse, a message that could exceed WhatsApp's
limit, a delay or window that means nothing. Each error names the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Final
from urllib.parse import urlsplit

import spintax
from engine.company_keys import CompanyReply
from engine.errors import ConfigError
from engine.settings import SequenceSettings, Settings, StepSettings, WindowSettings
from sequences.errors import SequencesError
from sequences.syntax import (
    LEAD_TIMEZONE,
    is_timezone,
    parse_date,
    parse_days,
    parse_duration_s,
    parse_end_time,
    parse_time,
)

__all__ = [
    "ASSUMED_VARIABLE_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "SendWindow",
    "Sequence",
    "Step",
    "check_templates",
    "compile_message",
    "compile_sequences",
    "compiled_sequences",
    "find_sequence",
    "missing_variables",
]

MAX_MESSAGE_LENGTH: Final = 2000
"""The longest message text TimelinesAI accepts, in characters."""

ASSUMED_VARIABLE_LENGTH: Final = 64
"""Characters a variable is assumed to fill when a definition's length is checked.

No lead is known when the config loads, so every placeholder counts as this many
characters, or as its fallback if that can be longer. 64 is generous for names,
companies and cities; a lead with longer values is checked again, exactly, when
its message is rendered.
"""

_NAME_LIMIT: Final = 64  # enrollments.sequence and campaigns.sequence are 64 characters
_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


@dataclass(frozen=True)
class SendWindow:
    """The local days and hours a sequence may send, in the zone of each lead.

    ``days`` are weekdays (0 = Monday). The window is open from ``start`` until
    just before ``end`` on each of those days; ``end`` is ``None`` when the window
    runs to the end of the day (24:00). ``start`` is always before ``end``: windows
    that cross midnight are not supported.
    """

    days: frozenset[int]
    start: time
    end: time | None

    def __post_init__(self) -> None:
        # The window functions look for the next open day; an empty week would never end.
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("days must be a non-empty set of weekdays, 0 (Monday) to 6")
        if self.end is not None and self.end <= self.start:
            raise ValueError("start must be before end; windows across midnight are unsupported")


@dataclass(frozen=True)
class Step:
    """One message of a sequence and how long after the previous one it goes out.

    ``after_s`` counts from enrollment for the first step and from the moment the
    previous step was actually sent for the others. ``templates`` holds one template,
    or one per A/B variant, parsed from ``sources`` in the same order.
    """

    index: int
    after_s: float
    templates: tuple[spintax.Template, ...]
    sources: tuple[str, ...]
    media_url: str | None = None

    @property
    def required_variables(self) -> frozenset[str]:
        """Variables without a fallback in any variant: a lead must have each to get this step."""
        return frozenset().union(*(t.required_variables for t in self.templates))


@dataclass(frozen=True)
class Sequence:
    """A named series of steps, the zone its windows are read in and what stops it.

    Nothing is sent on the public holidays of a lead's country while ``skip_holidays``,
    nor on ``skip_dates`` (local dates of the lead's zone); see
    :mod:`sequences.closed_days`.
    """

    name: str
    timezone: str
    window: SendWindow | None
    stop_on_reply: bool
    steps: tuple[Step, ...]
    skip_holidays: bool = True
    skip_dates: frozenset[date] = frozenset()

    @property
    def required_variables(self) -> frozenset[str]:
        """Variables a lead must have for every step (and every variant) to render."""
        return frozenset().union(*(step.required_variables for step in self.steps))


def missing_variables(sequence: Sequence, lead_variables: Mapping[str, str]) -> frozenset[str]:
    """The variables ``sequence`` requires that the lead lacks; blank values count as missing.

    A launch refuses such leads so that no message goes out with a hole in it.
    """
    return frozenset(
        name
        for name in sequence.required_variables
        if not (value := lead_variables.get(name)) or value.isspace()
    )


def compile_sequences(raw: Mapping[str, SequenceSettings], *, path: str) -> dict[str, Sequence]:
    """Validate and compile every ``[sequences.NAME]`` table; ``path`` is the config file.

    Raises :class:`ConfigError` with the dotted key of the first problem, e.g.
    ``sequences.intro.steps[1].template``.
    """
    return {name: _compile_sequence(name, settings, path) for name, settings in raw.items()}


def compiled_sequences(settings: Settings) -> dict[str, Sequence]:
    """The config's sequences, validated and compiled (templates parsed once)."""
    return compile_sequences(settings.sequences, path=str(settings.path or "config"))


def find_sequence(settings: Settings, name: str) -> Sequence:
    """The compiled sequence ``name``; raises :class:`SequencesError` listing the defined ones."""
    defined = compiled_sequences(settings)
    if name not in defined:
        known = ", ".join(sorted(defined)) or "none"
        raise SequencesError(
            f"no sequence {name!r} in {settings.path}; defined: {known} "
            "(add a [sequences.NAME] table to the config)"
        )
    return defined[name]


def check_templates(settings: Settings) -> dict[str, Sequence]:
    """Compile every template of the config, the sequences' and the automatic answers',
    so a config whose text would fail later fails now, naming the key; the compiled
    sequences. Run where the config is loaded (the CLI) after the settings' own checks.
    """
    path = str(settings.path or "config")
    for key, template in settings.replies.auto_replies().items():
        compile_message(template, path=path, key=key)
    return compiled_sequences(settings)


def _compile_sequence(name: str, settings: SequenceSettings, path: str) -> Sequence:
    key = f"sequences.{name}"
    if not (0 < len(name) <= _NAME_LIMIT and set(name) <= _NAME_CHARS):
        raise ConfigError(
            f"sequence name {name!r} must be 1 to {_NAME_LIMIT} letters, digits, '_' or '-'",
            path=path,
            key=key,
        )
    if settings.timezone != LEAD_TIMEZONE and not is_timezone(settings.timezone):
        raise ConfigError(
            f"unknown timezone {settings.timezone!r}; use 'lead' (each lead's own zone) "
            "or an IANA name such as 'Europe/Bucharest'",
            path=path,
            key=f"{key}.timezone",
        )
    window = (
        None
        if settings.send_window is None
        else _compile_window(settings.send_window, path, f"{key}.send_window")
    )
    if not settings.steps:
        raise ConfigError(
            "a sequence needs at least one step: add a [[sequences."
            f"{name}.steps]] table with a template",
            path=path,
            key=f"{key}.steps",
        )
    steps = tuple(
        _compile_step(index, step, path, f"{key}.steps[{index}]")
        for index, step in enumerate(settings.steps)
    )
    skip_dates = _compile_skip_dates(settings.skip_dates, path, f"{key}.skip_dates")
    if settings.on_company_reply not in set(CompanyReply):
        raise ConfigError(
            f"on_company_reply {settings.on_company_reply!r} is not one of "
            f"{', '.join(repr(choice.value) for choice in CompanyReply)}",
            path=path,
            key=f"{key}.on_company_reply",
        )
    return Sequence(
        name, settings.timezone, window, settings.stop_on_reply, steps,
        settings.skip_holidays, skip_dates,
    )  # fmt: skip


def _compile_skip_dates(texts: tuple[str, ...], path: str, key: str) -> frozenset[date]:
    dates = set()
    for index, text in enumerate(texts):
        try:
            dates.add(parse_date(text))
        except ValueError as error:
            raise ConfigError(str(error), path=path, key=f"{key}[{index}]") from None
    return frozenset(dates)


def _compile_window(settings: WindowSettings, path: str, key: str) -> SendWindow:
    try:
        days = parse_days(settings.days)
    except ValueError as error:
        raise ConfigError(str(error), path=path, key=f"{key}.days") from None
    try:
        start = parse_time(settings.start)
    except ValueError as error:
        raise ConfigError(str(error), path=path, key=f"{key}.start") from None
    try:
        end = parse_end_time(settings.end)
    except ValueError as error:
        raise ConfigError(str(error), path=path, key=f"{key}.end") from None
    if end is not None and end <= start:
        raise ConfigError(
            f"end {settings.end} is not after start {settings.start}; windows that cross "
            "midnight are not supported, split them (e.g. end = '24:00' and a morning "
            "start on the next day)",
            path=path,
            key=f"{key}.end",
        )
    return SendWindow(days, start, end)


def _compile_step(index: int, settings: StepSettings, path: str, key: str) -> Step:
    try:
        after_s = parse_duration_s(settings.after)
    except ValueError as error:
        raise ConfigError(str(error), path=path, key=f"{key}.after") from None
    if index > 0 and after_s <= 0:
        raise ConfigError(
            "a follow-up needs a positive delay after the previous step, e.g. '2d'",
            path=path,
            key=f"{key}.after",
        )
    if settings.media_url is not None and not _is_http_url(settings.media_url):
        raise ConfigError(
            f"{settings.media_url!r} is not an http(s) URL", path=path, key=f"{key}.media_url"
        )
    sources, source_keys = _step_sources(settings, path, key)
    templates = tuple(
        _compile_template(source, settings.media_url is not None, path, source_key)
        for source, source_key in zip(sources, source_keys, strict=True)
    )
    return Step(index, after_s, templates, sources, settings.media_url)


def _step_sources(
    settings: StepSettings, path: str, key: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The step's template texts and the key of each, for messages."""
    if settings.template is not None and settings.variants is not None:
        raise ConfigError(
            "give either template or variants, not both", path=path, key=f"{key}.variants"
        )
    if settings.template is not None:
        return (settings.template,), (f"{key}.template",)
    if settings.variants is None:
        raise ConfigError(
            "a step needs a message: add template = '...' or variants = ['...', '...']",
            path=path,
            key=key,
        )
    if not settings.variants:
        raise ConfigError(
            "variants is empty; list at least one template", path=path, key=f"{key}.variants"
        )
    keys = tuple(f"{key}.variants[{index}]" for index in range(len(settings.variants)))
    return settings.variants, keys


def compile_message(source: str, *, path: str, key: str) -> spintax.Template:
    """A text message's template, checked as a step's is (it parses, fits 2,000
    characters, names variables in lowercase); :class:`ConfigError` at ``key`` if not."""
    return _compile_template(source, False, path, key)


def _compile_template(source: str, has_media: bool, path: str, key: str) -> spintax.Template:
    if not source.strip() and not has_media:
        raise ConfigError("the message is empty; write its text", path=path, key=key)
    try:
        template = spintax.parse(source)
    except spintax.SpintaxError as error:
        raise ConfigError(
            f"the template does not parse: {error.reason} at line {error.line}, "
            f"column {error.column}",
            path=path,
            key=key,
        ) from None
    uppercase = sorted(name for name in template.variables if name != name.lower())
    if uppercase:
        # Import lowercases column names, so such a placeholder could never be filled.
        raise ConfigError(
            f"variable {uppercase[0]!r} has capital letters; lead variables are the CSV "
            f"columns in lowercase: write {{{{{uppercase[0].lower()}}}}}",
            path=path,
            key=key,
        )
    longest = template.max_length(default_variable_length=ASSUMED_VARIABLE_LENGTH)
    if longest > MAX_MESSAGE_LENGTH:
        raise ConfigError(
            f"the message can be up to {longest} characters long (counting each variable "
            f"as {ASSUMED_VARIABLE_LENGTH}), over the {MAX_MESSAGE_LENGTH}-character "
            "limit; shorten its longest options",
            path=path,
            key=key,
        )
    return template


def _is_http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
