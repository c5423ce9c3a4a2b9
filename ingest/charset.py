"""Turning feed bytes into text when the charset declarations are missing or wrong.

Feeds lie about their encoding in both directions: UTF-8 bytes declared ISO-8859-1 (mojibake
"MÃ¼ller" if believed), and Windows-1252 bytes declared UTF-8 (undecodable). The rule here:
a byte order mark wins; bytes that are valid UTF-8 are UTF-8 (text in a legacy 8-bit charset
with non-ASCII letters is almost never valid UTF-8 by accident); otherwise the XML declaration,
then the HTTP header, then Windows-1252, the de-facto charset of mislabelled Western feeds.
The parser then gets UTF-8 with a matching declaration, so it never guesses again.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_XML_DECL = re.compile(rb"^\s*<\?xml\s[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._:-]+)[\"']", re.IGNORECASE)
_XML_DECL_TEXT = re.compile(r"^(\s*<\?xml\s[^>]*?encoding\s*=\s*[\"'])([A-Za-z0-9._:-]+)([\"'])", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# UTF-16 without a BOM still starts with "<?" (or "<" plus a letter) as 16-bit units.
_UTF16_SNIFF = ((b"<\x00?\x00", "utf-16-le"), (b"\x00<\x00?", "utf-16-be"))
FALLBACK = "windows-1252"


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the codec actually used
    declared: str | None  # what the document or header claimed
    note: str | None = None  # set when the declaration was missing or wrong

    def as_utf8_document(self) -> bytes:
        """The text as UTF-8 bytes whose XML declaration (if any) now says utf-8."""
        return _XML_DECL_TEXT.sub(r"\g<1>utf-8\g<3>", self.text, count=1).encode("utf-8")


def header_charset(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return _codec_name(match.group(1)) if match else None


def declared_charset(body: bytes) -> str | None:
    match = _XML_DECL.match(body[:1024])
    return _codec_name(match.group(1).decode("ascii")) if match else None


def _codec_name(label: str) -> str | None:
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def sniff_wide_encoding(body: bytes) -> tuple[str, int] | None:
    """(codec, BOM length) for documents with a BOM or in BOM-less UTF-16."""
    for bom, name in _BOMS:
        if body.startswith(bom):
            return name, len(bom)
    for prefix, name in _UTF16_SNIFF:
        if body.startswith(prefix):
            return name, 0
    return None


def decode_feed(body: bytes, content_type: str | None = None) -> Decoded:
    """Decode ``body`` following the rule in the module docstring; never raises on bad bytes."""
    wide = sniff_wide_encoding(body)
    if wide is not None:
        name, skip = wide
        return Decoded(body[skip:].decode(name, errors="replace"), name, name)
    from_doc, from_header = declared_charset(body), header_charset(content_type)
    declared = from_doc or from_header
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        lying = declared not in (None, "utf-8", "ascii") and not body.isascii()
        note = f"declared {declared}, but the bytes are UTF-8" if lying else None
        return Decoded(text, "utf-8", declared, note)
    for candidate in (from_doc, from_header):
        if candidate == "iso8859-1":
            candidate = "cp1252"  # as browsers do: "latin-1" feeds are really Windows-1252 (curly quotes)
        if candidate and candidate != "utf-8":
            try:
                return Decoded(body.decode(candidate), candidate, declared)
            except (UnicodeDecodeError, LookupError):
                continue
    note = f"declared {declared or 'nothing'}, bytes are not valid in it; decoded as {FALLBACK}"
    return Decoded(body.decode(FALLBACK, errors="replace"), FALLBACK, declared, note)
