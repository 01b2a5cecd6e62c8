"""Shared plumbing of the filter, tag, tree and explorer widgets (private).

Widgets never talk to the server in ``__init__``: they load on first display (the
``_repr_mimebundle_`` hook below) or on an explicit ``load()``. A widget shown inside a
container (a ``VBox``, the Explorer) is never asked for its mimebundle; widgets that call
``_load_when_viewed()`` load when the frontend renders their first view instead (ipywidgets
counts views when ``_view_count`` is a number, and the frontend reports the count back).

Example:
    >>> error_html("boom")
    '<div class="snb-error" style="color:#c62828">boom</div>'
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from synapse_nb.exceptions import InvalidInputError

__all__ = [
    "LoadOnDisplay",
    "check_callback",
    "check_widget_options",
    "error_html",
    "muted",
    "note_html",
]

#: Traits of every ipywidgets box that a caller must not set: the widget sets or owns them.
_OWNED_TRAITS = frozenset({"children", "comm", "keys", "log"})


def error_html(message: str) -> str:
    """An error line for an ``HTML`` widget (escaped).

    Example:
        >>> error_html("<b>")
        '<div class="snb-error" style="color:#c62828">&lt;b&gt;</div>'
    """
    return f'<div class="snb-error" style="color:#c62828">{html.escape(message)}</div>'


def note_html(message: str) -> str:
    """A neutral status line for an ``HTML`` widget (escaped).

    Example:
        >>> note_html("3 rows")
        '<div class="snb-note">3 rows</div>'
    """
    return f'<div class="snb-note">{html.escape(message)}</div>'


def muted(text: str) -> str:
    """Grey inline text (escaped).

    Example:
        >>> muted("none")
        '<span style="color:#9e9e9e">none</span>'
    """
    return f'<span style="color:#9e9e9e">{html.escape(text)}</span>'


def plural(count: int, word: str) -> str:
    """``count`` and ``word``, with an ``s`` unless there is exactly one.

    Example:
        >>> plural(1, "task"), plural(1200, "task")
        ('1 task', '1,200 tasks')
    """
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def check_widget_options(widget: type, options: Mapping[str, Any]) -> None:
    """Refuse a keyword ``widget`` does not take, naming it, before the widget is built.

    A widget passes its extra keywords on to ipywidgets, which takes any name and only
    warns (a warning a notebook hides): a misspelled option would be ignored silently.
    Allowed are the widget's public traits (``layout``, ``box_style``, its own traits).

    Example:
        >>> from synapse_nb.widgets import FilterPanel
        >>> check_widget_options(FilterPanel, {"layout": {"width": "50%"}})
        >>> try:
        ...     check_widget_options(FilterPanel, {"pagesize": 5})
        ... except InvalidInputError as err:
        ...     print(err.field, "|", "is not an option of FilterPanel (options: frame" in str(err))
        pagesize | True
    """
    traits = getattr(widget, "class_traits", None)
    known = {
        name
        for name, trait in (traits() if traits is not None else {}).items()
        if not name.startswith("_") and name not in _OWNED_TRAITS and not trait.read_only
    }
    for name, value in options.items():
        if name in known:
            continue
        arguments = [
            p.name
            for p in inspect.signature(widget.__init__).parameters.values()  # type: ignore[misc]
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
        ]
        raise InvalidInputError(
            name,
            value,
            f"is not an option of {widget.__name__} (options: {', '.join(arguments)}; "
            f"widget traits: {', '.join(sorted(known))})",
            method=widget.__name__,
        )


def check_callback(callback: Any, method: str) -> Any:
    """``callback`` when it can be called, else an error naming it (rather than a
    ``TypeError`` from inside ipywidgets when the event comes, in a thread or a frontend
    message where nobody sees it).

    Example:
        >>> check_callback(print, "on_filter") is print
        True
        >>> try:
        ...     check_callback(5, "FilterPanel.on_filter")
        ... except InvalidInputError as err:
        ...     print(err.message)
        FilterPanel.on_filter: invalid callback=5: must be callable (nothing was sent)
    """
    if not callable(callback):
        raise InvalidInputError("callback", callback, "must be callable", method=method)
    return callback


class LoadOnDisplay:
    """Mixin: call ``load()`` the first time the widget is displayed.

    A failure while displaying is shown in the widget (``_show_load_error``) rather than
    raised, so a notebook cell still renders the widget with its error message; an explicit
    ``load()`` raises.
    """

    _loaded: bool = False
    # given by the widget class this mixin is combined with (declared for the type checker)
    _view_count: int
    observe: Callable[..., None]

    def load(self) -> Any:  # pragma: no cover - every widget defines its own
        raise NotImplementedError

    def _show_load_error(self, exc: Exception) -> None:  # pragma: no cover - overridden
        raise exc

    def ensure_loaded(self) -> None:
        """Load unless loaded already; errors are shown in the widget, not raised.

        Example:
            >>> from synapse_nb.widgets import FilterPanel
            >>> panel = FilterPanel(client=client, params={"project": 1})
            >>> panel.ensure_loaded()
            >>> panel.count == client.raw.list_tasks({"project": 1})["count"]
            True
        """
        if self._loaded:
            return
        try:
            self.load()
        except Exception as exc:  # shown in the widget: a display must not raise
            self._show_load_error(exc)

    def _load_when_viewed(self) -> None:
        """Also load when the frontend renders the widget's first view (in any container)."""
        self._view_count = 0  # a number turns view counting on
        self.observe(self._on_view_count, "_view_count")

    def _on_view_count(self, change: Any) -> None:
        if change["new"]:
            self.ensure_loaded()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        self.ensure_loaded()
        return super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]  # the widget base class after this mixin has it
