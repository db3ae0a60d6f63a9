"""Reading server-rendered HTML back as a tree, for the page tests (passport page, audit report)."""

from __future__ import annotations

import dataclasses
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclasses.dataclass
class El:
    tag: str
    attrs: dict[str, str | None]
    children: list[El | str] = dataclasses.field(default_factory=list)
    parent: El | None = None

    def walk(self):
        yield self
        for c in self.children:
            if isinstance(c, El):
                yield from c.walk()

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[El]:
        """Elements by tag, one of their classes, and attribute values (``aria_label=`` for ``aria-label``)."""
        return [e for e in self.walk() if (tag is None or e.tag == tag)
                and (cls is None or cls in (e.attrs.get("class") or "").split())
                and all(e.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]  # fmt: skip

    def one(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> El:
        [e] = self.find(tag, cls, **attrs)
        return e

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)


class TreeBuilder(HTMLParser):
    """The document as ``El``s; refuses end tags that do not close the open element."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = El("#document", {})
        self.open = [self.root]
        self.doctype = None

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        el = El(tag, dict(attrs), parent=self.open[-1])
        self.open[-1].children.append(el)
        if tag not in VOID:
            self.open.append(el)

    def handle_startendtag(self, tag, attrs):  # <path .../> in an inline SVG
        self.open[-1].children.append(El(tag, dict(attrs), parent=self.open[-1]))

    def handle_endtag(self, tag):
        assert self.open[-1].tag == tag, f"</{tag}> closes <{self.open[-1].tag}>"
        self.open.pop()

    def handle_data(self, data):
        self.open[-1].children.append(data)


def parse(html: str) -> El:
    """The ``<html>`` element of a whole document; every element closed, ``<!doctype html>`` first."""
    b = TreeBuilder()
    b.feed(html)
    b.close()
    assert b.open == [b.root], f"unclosed: {[e.tag for e in b.open[1:]]}"
    assert b.doctype is not None and b.doctype.lower() == "doctype html"
    [doc] = b.root.find("html")
    return doc
