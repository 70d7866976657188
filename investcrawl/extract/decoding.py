"""Decoding: a page's bytes to text, in the encoding it is in (never garbage)."""

from __future__ import annotations

import codecs
import re

from investcrawl.extract.rejected import Undecodable

_HEADER_CHARSET_RE = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_META_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.I)
_ENCODING_ALIASES = {  # GB2312 and GBK are subsets of GB18030: decode with the superset
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "euc-cn": "gb18030",
    "utf8": "utf-8",
}
_MAX_BAD_CHAR_RATIO = 0.01
# How Python's codecs say bytes end in the middle of a character (UTF-8, GB18030).
_CUT_REASONS = ("unexpected end of data", "incomplete multibyte sequence")
# Control characters, private-use code points and replacement characters: what a wrong
# decoding or binary data leaves behind; an article has at most a stray one.
_BAD_CHAR_RE = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")


def _normalise_encoding(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip().lower()
    try:
        return codecs.lookup(_ENCODING_ALIASES.get(name, name)).name
    except LookupError:
        return None


def decode_html(
    body: bytes, content_type: str | None = None, declared: list[str] | None = None
) -> tuple[str, str]:
    """Decode a page, returning (text, encoding); raise Undecodable for garbage.

    Valid UTF-8 wins (a wrong GBK label on a UTF-8 page is common, the reverse is
    practically impossible); then the header charset, the <meta> charset, and GB18030,
    the superset of every Chinese encoding these sites use. Latin-1 style codecs that
    accept any bytes are never guessed: they would turn a Chinese page into mojibake.
    declared: declared_encodings(body, content_type), when the caller has it already.
    """
    if declared is None:
        declared = declared_encodings(body, content_type)
    candidates = ["utf-8"]
    for encoding in declared:
        if encoding not in candidates:
            candidates.append(encoding)
    if "gb18030" not in candidates:
        candidates.append("gb18030")
    for encoding in candidates:
        whole = True
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as error:
            # A page cut off in the middle of a character (a truncated response) is still
            # in this encoding: its last, incomplete character is dropped.
            if error.reason not in _CUT_REASONS or error.start < len(body) - 4:
                continue
            text = body[: error.start].decode(encoding, errors="replace")
            whole = False
        except LookupError:
            continue
        # Valid UTF-8 with no NUL, declared as nothing else, is the page as written:
        # random or binary bytes are practically never that, so it is not counted for
        # garbage (control or private-use characters are its own); the count is for the
        # encodings that had to be guessed.
        sure = whole and encoding == "utf-8" and b"\x00" not in body
        _reject_garbage(text, count=not (sure and all(e == "utf-8" for e in declared)))
        return text, encoding
    raise Undecodable(f"bytes are not valid in any of {', '.join(candidates)}")


def declared_encodings(body: bytes, content_type: str | None) -> list[str]:
    """The known encodings the Content-Type header and the <meta> charset name."""
    header = _HEADER_CHARSET_RE.search(content_type or "")
    meta = _META_CHARSET_RE.search(body[:4096])
    declared = (header and header[1], meta and meta[1].decode("ascii", "ignore"))
    return [encoding for name in declared if (encoding := _normalise_encoding(name))]


def _reject_garbage(text: str, count: bool = True) -> None:
    if not text.strip():
        raise Undecodable("empty page")
    if not count:
        return
    bad = len(_BAD_CHAR_RE.findall(text))
    if bad > _MAX_BAD_CHAR_RATIO * len(text):
        raise Undecodable(f"{bad} control or unassigned characters in {len(text)}")
