"""Documents: text/plain, text/html (markup kept: every tag, attribute, comment and doctype is written back as it
came, only text between tags is translated) and Word .docx (paragraph by paragraph, through python-docx)."""

from __future__ import annotations

import html
import io
import re
from html.parser import HTMLParser
from typing import Callable

from services.translate.errors import InvalidRequest

PLAIN = "text/plain"
HTML = "text/html"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
CONTENT_TYPES = (PLAIN, HTML, DOCX)
# Elements whose text is not prose.
_SKIP = {"script", "style", "code", "pre", "noscript", "template"}

Translator = Callable[[list[str]], list[str]]


class UnsupportedType(InvalidRequest):
    """A document content type other than CONTENT_TYPES."""

    def __init__(self, content_type: str):
        super().__init__(f"Content type {content_type} is not supported; use one of {', '.join(CONTENT_TYPES)}.")


def check_content_type(content_type: str) -> None:
    if content_type.split(";")[0].strip().lower() not in CONTENT_TYPES:
        raise UnsupportedType(content_type)


def decode_text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidRequest("The document is not valid UTF-8 text.") from None


class _Splitter(HTMLParser):
    """Splits HTML into ("raw", markup) and ("text", text) pieces, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[tuple[str, str]] = []
        self.skip_depth = 0

    def handle_starttag(self, tag, attrs):
        self.pieces.append(("raw", self.get_starttag_text() or f"<{tag}>"))
        if tag in _SKIP:
            self.skip_depth += 1

    def handle_startendtag(self, tag, attrs):
        self.pieces.append(("raw", self.get_starttag_text() or f"<{tag}/>"))

    def handle_endtag(self, tag):
        self.pieces.append(("raw", f"</{tag}>"))
        if tag in _SKIP and self.skip_depth:
            self.skip_depth -= 1

    def handle_data(self, data):
        kind = "raw-text" if self.skip_depth else "text"
        self.pieces.append((kind, data))

    def handle_comment(self, data):
        self.pieces.append(("raw", f"<!--{data}-->"))

    def handle_decl(self, decl):
        self.pieces.append(("raw", f"<!{decl}>"))

    def handle_pi(self, data):
        self.pieces.append(("raw", f"<?{data}>"))

    def unknown_decl(self, data):
        self.pieces.append(("raw", f"<![{data}]>"))


# Inline elements: a sentence runs through them, so their text is translated together with the text around them.
_INLINE = {"a", "abbr", "b", "bdi", "bdo", "cite", "del", "dfn", "em", "font", "i", "ins", "kbd", "mark", "q", "s",
           "samp", "small", "span", "strong", "sub", "sup", "time", "u", "var"}
_TAG_NAME = re.compile(r"</?\s*([A-Za-z][A-Za-z0-9-]*)")


def _tag_token(index: int) -> str:
    letters, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"ZXQT{letters}"


def _inline(piece: list[str]) -> bool:
    if piece[0] != "raw":
        return False
    match = _TAG_NAME.match(piece[1])
    return bool(match) and match.group(1).lower() in _INLINE


def translate_html(text: str, translate: Translator) -> str:
    """Translate the text of an HTML page; every piece of markup is written back as it came, in order.

    A run of text and inline tags (`<b>`, `<a href>`, `<em>`...) is translated as one sentence, the tags riding
    along as placeholder tokens; if the engine does not bring every token back exactly once and in order, the
    run's text nodes are translated one by one instead, so the markup is never altered."""
    splitter = _Splitter()
    splitter.feed(text)
    splitter.close()
    merged: list[list[str]] = []
    for kind, value in splitter.pieces:  # adjacent text pieces (entities split them) are one text
        if merged and merged[-1][0] == kind == "text":
            merged[-1][1] += value
        else:
            merged.append([kind, value])

    # Runs of text + inline tags.
    runs: list[list[int]] = []
    current: list[int] = []
    for index, piece in enumerate(merged):
        if piece[0] == "text" or _inline(piece):
            current.append(index)
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)

    sources: list[str] = []
    plans: list[tuple[str, list[int], dict[str, int]]] = []  # ("run", indexes, token->piece) or ("node", [i], {})
    for run in runs:
        texts = [i for i in run if merged[i][0] == "text" and merged[i][1].strip()]
        if not texts:
            continue
        tags = [i for i in run if merged[i][0] != "text"]
        if tags and len(texts) > 1:
            parts, tokens = [], {}
            for i in run:
                if merged[i][0] == "text":
                    parts.append(merged[i][1])
                else:
                    token = _tag_token(len(tokens))
                    tokens[token] = i
                    closing = merged[i][1].startswith("</")
                    parts.append(f" {token}" if closing else f"{token} ")
            sources.append("".join(parts))
            plans.append(("run", run, tokens))
        else:
            for i in texts:
                sources.append(merged[i][1])
                plans.append(("node", [i], {}))
    translated = translate(sources) if sources else []

    fallback: list[int] = []
    rendered: dict[int, str] = {}  # first index of a run -> its markup; other indexes of the run -> ""
    for (kind, indexes, tokens), out in zip(plans, translated):
        if kind == "node":
            merged[indexes[0]][1] = out
            continue
        found = re.findall(r"ZXQT[A-Z]+", out)
        if found != list(tokens):
            fallback.extend(i for i in indexes if merged[i][0] == "text" and merged[i][1].strip())
            continue
        pieces = re.split(r"( ?ZXQT[A-Z]+ ?)", out)
        html_out = []
        for part in pieces:
            token = part.strip()
            if token in tokens:
                raw = merged[tokens[token]][1]
                # Keep the space on the outer side of the tag, drop the one added on its inner side.
                if raw.startswith("</"):
                    html_out.append(raw + (" " if part.endswith(" ") else ""))
                else:
                    html_out.append((" " if part.startswith(" ") else "") + raw)
            else:
                html_out.append(html.escape(part, quote=False))
        rendered[indexes[0]] = "".join(html_out)
        for i in indexes[1:]:
            rendered[i] = ""
    if fallback:
        again = translate([merged[i][1] for i in fallback])
        for i, out in zip(fallback, again):
            merged[i][1] = out

    result = []
    for index, (kind, value) in enumerate(merged):
        if index in rendered:
            result.append(rendered[index])
        elif kind == "text":
            result.append(html.escape(value, quote=False))
        else:
            result.append(value)
    return "".join(result)


def _docx_paragraphs(document):
    def from_container(container):
        for paragraph in container.paragraphs:
            yield paragraph
        for table in getattr(container, "tables", []):
            for row in table.rows:
                for cell in row.cells:
                    yield from from_container(cell)

    yield from from_container(document)
    for section in document.sections:
        for part in (section.header, section.footer):
            if part is not None and not part.is_linked_to_previous:
                yield from from_container(part)


def translate_docx(data: bytes, translate: Translator) -> bytes:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError, OSError, Exception) as error:
        raise InvalidRequest(f"The document is not a valid .docx file ({type(error).__name__}).") from None
    paragraphs, seen = [], set()
    for paragraph in _docx_paragraphs(document):
        if id(paragraph._p) in seen or not paragraph.text.strip():
            continue
        seen.add(id(paragraph._p))
        paragraphs.append(paragraph)
    translated = translate([p.text for p in paragraphs]) if paragraphs else []
    for paragraph, text in zip(paragraphs, translated):
        runs = [run for run in paragraph.runs if run.text]
        if not runs:
            continue
        # The first run keeps its formatting and takes the whole translation; the others are emptied.
        runs[0].text = text
        for run in runs[1:]:
            run.text = ""
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def translate_document(content: bytes, content_type: str, translate: Translator) -> bytes:
    base_type = content_type.split(";")[0].strip().lower()
    if base_type == PLAIN:
        return translate([decode_text(content)])[0].encode("utf-8")
    if base_type == HTML:
        return translate_html(decode_text(content), translate).encode("utf-8")
    if base_type == DOCX:
        return translate_docx(content, translate)
    raise UnsupportedType(content_type)


def document_sample(content: bytes, content_type: str) -> str:
    """Text to detect the source language on."""
    base_type = content_type.split(";")[0].strip().lower()
    if base_type == DOCX:
        import docx

        try:
            document = docx.Document(io.BytesIO(content))
        except Exception as error:
            raise InvalidRequest(f"The document is not a valid .docx file ({type(error).__name__}).") from None
        return "\n".join(p.text for p in document.paragraphs)[:5000]
    text = decode_text(content)
    if base_type == HTML:
        splitter = _Splitter()
        splitter.feed(text)
        splitter.close()
        return " ".join(value for kind, value in splitter.pieces if kind == "text")[:5000]
    return text[:5000]
