"""HTML escaped by construction: a page is built from :func:`el` calls, and any ``str`` in it, text or attribute,
is escaped on the way in. The only unescaped markup is an :class:`Html`, and only this module makes one (from tag
and attribute names that are constants of custody's own code, checked here).

So a reason, a comment or a name that holds ``<script>`` is shown as text wherever a page puts it, and no page can
forget to escape: there is no template string to forget it in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Union

_NAME = re.compile(r"[a-z][a-z0-9-]*")
_VOID = frozenset({"br", "hr", "img", "input", "link", "meta"})
# Attributes that name an address: only custody's own paths, fragments, or http(s) addresses (never javascript:).
_URL_ATTRS = frozenset({"href", "src", "action", "formaction"})
_SAFE_URL = re.compile(r"(?:/(?!/)|#|https?://)[^\s]*|")


class Html:
    """Markup that is safe to send as it is. Made by this module only."""

    __slots__ = ("_text",)

    def __init__(self, text: str, _key: object = None) -> None:
        if _key is not _MINT:
            raise TypeError("Html is made by custody.console.html's functions, never from a string")
        self._text = text

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Html({self._text[:60]!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Html) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


_MINT = object()
Child = Union[Html, str, int, None, Iterable["Child"]]  # noqa: UP007  (a recursive alias: a string annotation)
Attr = str | int | bool | None


def _mint(text: str) -> Html:
    return Html(text, _MINT)


def render(child: Child) -> str:
    """``child`` as markup: text escaped, ``Html`` as it is, None and False left out, iterables in order."""
    if child is None or child is False:
        return ""
    if isinstance(child, Html):
        return str(child)
    if isinstance(child, str):
        return html.escape(child, quote=False)
    if isinstance(child, int):
        return str(child)
    return "".join(render(c) for c in child)


def _attr_name(key: str) -> str:
    name = key.rstrip("_").replace("_", "-")  # class_ -> class, aria_label -> aria-label
    if _NAME.fullmatch(name) is None:
        raise ValueError(f"not an attribute name: {key!r}")
    return name


def _attrs(attrs: dict[str, Attr]) -> str:
    out = []
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        name = _attr_name(key)
        if value is True:
            out.append(f" {name}")
            continue
        text = str(value)
        if name in _URL_ATTRS and _SAFE_URL.fullmatch(text) is None:
            raise ValueError(f"not an address a page may link to: {text[:40]!r}")
        out.append(f' {name}="{html.escape(text, quote=True)}"')
    return "".join(out)


def el(tag: str, *children: Child, **attrs: Attr) -> Html:
    """``<tag attrs>children</tag>``; attribute values and text children escaped. ``class_="x"`` is ``class``,
    ``aria_label`` is ``aria-label``; True is a bare attribute, None or False leaves it out."""
    if _NAME.fullmatch(tag) is None:
        raise ValueError(f"not a tag name: {tag!r}")
    opening = f"<{tag}{_attrs(attrs)}>"
    if tag in _VOID:
        if children:
            raise ValueError(f"<{tag}> has no content")
        return _mint(opening)
    return _mint(f"{opening}{render(children)}</{tag}>")


def join(*children: Child) -> Html:
    """Several children as one piece of markup."""
    return _mint(render(children))


def document(*children: Child, lang: str = "en") -> Html:
    """A whole page: the doctype, then ``<html lang>`` around ``children``."""
    return _mint("<!DOCTYPE html>\n" + str(el("html", *children, lang=lang)))
