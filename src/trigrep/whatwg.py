"""The WHATWG Encoding Standard's labels and decoders, as rg's encoding_rs decodes (`-E`).

Each decoder is built from the Python codec of the same encoding, with the bytes where
WHATWG differs fixed: single-byte encodings as a table of 256 characters; the multi-byte
ones as a table of WHATWG's byte sequences (a lead and what follows it), read by a regex,
so that malformed input gives encoding_rs's U+FFFD sequence (one for a bad lead and trail,
an ASCII trail then read again). ISO-2022-JP, whose escapes switch states, is decoded by
the standard's state machine. Tables are built on first use: only a search that names such
an encoding pays for them.
"""

from __future__ import annotations

import codecs
import re
from functools import cache

# Every label of the standard, as encoding_rs 0.8 knows it, and the encoding it names.
# (The `replacement` encoding's labels are not here: rg calls them unknown.)
_ENCODINGS_LABELS = {
    "utf-8": "unicode-1-1-utf-8 unicode11utf8 unicode20utf8 utf-8 utf8 x-unicode20utf8",
    "ibm866": "866 cp866 csibm866 ibm866",
    "iso-8859-2": "csisolatin2 iso-8859-2 iso-ir-101 iso8859-2 iso88592 iso_8859-2 "
                  "iso_8859-2:1987 l2 latin2",
    "iso-8859-3": "csisolatin3 iso-8859-3 iso-ir-109 iso8859-3 iso88593 iso_8859-3 "
                  "iso_8859-3:1988 l3 latin3",
    "iso-8859-4": "csisolatin4 iso-8859-4 iso-ir-110 iso8859-4 iso88594 iso_8859-4 "
                  "iso_8859-4:1988 l4 latin4",
    "iso-8859-5": "csisolatincyrillic cyrillic iso-8859-5 iso-ir-144 iso8859-5 iso88595 "
                  "iso_8859-5 iso_8859-5:1988",
    "iso-8859-6": "arabic asmo-708 csiso88596e csiso88596i csisolatinarabic ecma-114 "
                  "iso-8859-6 iso-8859-6-e iso-8859-6-i iso-ir-127 iso8859-6 iso88596 "
                  "iso_8859-6 iso_8859-6:1987",
    "iso-8859-7": "csisolatingreek ecma-118 elot_928 greek greek8 iso-8859-7 iso-ir-126 "
                  "iso8859-7 iso88597 iso_8859-7 iso_8859-7:1987 sun_eu_greek",
    "iso-8859-8": "csiso88598e csisolatinhebrew hebrew iso-8859-8 iso-8859-8-e iso-ir-138 "
                  "iso8859-8 iso88598 iso_8859-8 iso_8859-8:1988 visual",
    "iso-8859-8-i": "csiso88598i iso-8859-8-i logical",
    "iso-8859-10": "csisolatin6 iso-8859-10 iso-ir-157 iso8859-10 iso885910 l6 latin6",
    "iso-8859-13": "iso-8859-13 iso8859-13 iso885913",
    "iso-8859-14": "iso-8859-14 iso8859-14 iso885914",
    "iso-8859-15": "csisolatin9 iso-8859-15 iso8859-15 iso885915 iso_8859-15 l9",
    "iso-8859-16": "iso-8859-16",
    "koi8-r": "cskoi8r koi koi8 koi8-r koi8_r",
    "koi8-u": "koi8-ru koi8-u",
    "macintosh": "csmacintosh mac macintosh x-mac-roman",
    "windows-874": "dos-874 iso-8859-11 iso8859-11 iso885911 tis-620 windows-874",
    "windows-1250": "cp1250 windows-1250 x-cp1250",
    "windows-1251": "cp1251 windows-1251 x-cp1251",
    "windows-1252": "ansi_x3.4-1968 ascii cp1252 cp819 csisolatin1 ibm819 iso-8859-1 "
                    "iso-ir-100 iso8859-1 iso88591 iso_8859-1 iso_8859-1:1987 l1 latin1 "
                    "us-ascii windows-1252 x-cp1252",
    "windows-1253": "cp1253 windows-1253 x-cp1253",
    "windows-1254": "cp1254 csisolatin5 iso-8859-9 iso-ir-148 iso8859-9 iso88599 iso_8859-9 "
                    "iso_8859-9:1989 l5 latin5 windows-1254 x-cp1254",
    "windows-1255": "cp1255 windows-1255 x-cp1255",
    "windows-1256": "cp1256 windows-1256 x-cp1256",
    "windows-1257": "cp1257 windows-1257 x-cp1257",
    "windows-1258": "cp1258 windows-1258 x-cp1258",
    "x-mac-cyrillic": "x-mac-cyrillic x-mac-ukrainian",
    "gbk": "chinese csgb2312 csiso58gb231280 gb2312 gb_2312 gb_2312-80 gbk iso-ir-58 x-gbk",
    "gb18030": "gb18030",
    "big5": "big5 big5-hkscs cn-big5 csbig5 x-x-big5",
    "euc-jp": "cseucpkdfmtjapanese euc-jp x-euc-jp",
    "iso-2022-jp": "csiso2022jp iso-2022-jp",
    "shift_jis": "csshiftjis ms932 ms_kanji shift-jis shift_jis sjis windows-31j x-sjis",
    "euc-kr": "cseuckr csksc56011987 euc-kr iso-ir-149 korean ks_c_5601-1987 ks_c_5601-1989 "
              "ksc5601 ksc_5601 windows-949",
    "utf-16be": "unicodefffe utf-16be",
    "utf-16le": "csunicode iso-10646-ucs-2 ucs-2 unicode unicodefeff utf-16 utf-16le",
    "x-user-defined": "x-user-defined",
}
LABELS = {label: name for name, labels in _ENCODINGS_LABELS.items() for label in labels.split()}
_WHITESPACE = "\t\n\f\r "  # what the standard trims around a label (ASCII whitespace)


def encoding(label: str) -> str | None:
    """The encoding a label names (ASCII case ignored, ASCII whitespace around it trimmed, as
    the standard's "get an encoding"), None for a label it does not know."""
    folded = label.strip(_WHITESPACE).encode("utf-8", "surrogateescape").lower()
    return LABELS.get(folded.decode("utf-8", "surrogateescape"))


# The encodings whose decoders write an ASCII character only for that same byte, each right
# after the previous character when its byte comes right after that character's bytes: the
# ASCII runs of a file's text are runs of its bytes (a line's of that line's), so the index
# of its bytes narrows a search of its text by its ASCII trigrams (see
# `trigrep.query.plan.ascii_only`). An ASCII byte may still be lost in a character, as a
# Shift_JIS or Big5 trail byte is. Not UTF-16 (see `as_utf16` there), nor ISO-2022-JP,
# whose escapes are ASCII bytes that write nothing (`a\x1b(Bb` reads `ab`).
ASCII_FROM_ITSELF = frozenset(_ENCODINGS_LABELS) - {"iso-2022-jp", "utf-16le", "utf-16be"}


# The Python codec each decoder is built from.
_PYTHON_CODECS = {
    "ibm866": "cp866", "iso-8859-8-i": "iso8859-8", "koi8-u": "koi8-u", "macintosh": "mac-roman",
    "windows-874": "cp874", "x-mac-cyrillic": "mac-cyrillic", "x-user-defined": "ascii",
    "gb18030": "gb18030", "big5": "big5hkscs", "euc-jp": "euc-jp",
    "iso-2022-jp": "euc-jp", "shift_jis": "cp932", "euc-kr": "cp949",
}
_UNICODE = ("utf-8", "utf-16le", "utf-16be")  # Python's codecs decode these as the standard


def decoder(name: str, offset: int = 0) -> codecs.IncrementalDecoder:
    """A fresh decoder for an encoding of `encoding`'s, with U+FFFD for malformed input as
    encoding_rs writes it; `offset`: where in the file its input starts."""
    if name in _UNICODE:
        return codecs.getincrementaldecoder(name)("replace")
    if name == "gbk":
        name = "gb18030"  # (the standard's GBK decoder is gb18030's)
    if name == "iso-2022-jp":
        return _Iso2022JpDecoder()
    if name in _GRAMMARS:
        return _TokenDecoder(_GRAMMARS[name], _tokens(name), name in _LEAD_DROPPED_AT_END,
                             offset)
    return _SingleByteDecoder(_single_byte_table(name))


class _SingleByteDecoder(codecs.IncrementalDecoder):
    """A character for each byte, from a table of 256 (none undefined)."""

    def __init__(self, table: str) -> None:
        super().__init__()
        self.table = table

    def decode(self, input: bytes, final: bool = False) -> str:
        if input.isascii():
            return input.decode("ascii")  # (each ASCII byte is its character)
        return codecs.charmap_decode(input, "strict", self.table)[0]


@cache
def _single_byte_table(name: str) -> str:
    """The character of each byte: the Python codec's; where it has none, the C1 control of
    the same value in a windows-* encoding, U+F780 + (byte - 0x80) in x-user-defined
    (U+FFFD elsewhere); then the bytes of `_SINGLE_BYTE_FIXES`."""
    python = _PYTHON_CODECS.get(name, name)
    chars = []
    for byte in range(256):
        try:
            chars.append(bytes([byte]).decode(python))
        except UnicodeDecodeError:
            if name.startswith("windows-") and byte < 0xA0:
                chars.append(chr(byte))
            else:
                chars.append(chr(0xF700 + byte) if name == "x-user-defined" else "\ufffd")
    for byte, char in _SINGLE_BYTE_FIXES.get(name, {}).items():
        chars[byte] = char
    return "".join(chars)


# Where the standard's single-byte indexes differ from Python's codecs.
_SINGLE_BYTE_FIXES: dict[str, dict[int, str]] = {
    "koi8-u": {0xAE: "\u045e", 0xBE: "\u040e"},  # KOI8-RU's
    "windows-1255": {0xCA: "\u05ba"},
}


class _Grammar:
    """How a multi-byte encoding's decoder splits bytes (as Latin-1 text) into the non-ASCII
    sequences that decode as one: a byte of 0x80-0xFF alone, or one of `leads` (the bytes
    that start a sequence of more than one) and what `after_lead` matches after it; `partial`
    matches those that may go on in bytes not read yet."""

    def __init__(self, after_lead: str, partial: str, leads: str, trails: int) -> None:
        # (Every token starting with a class lets the regex engine skip ASCII fast.)
        self.token = re.compile(f"[\x80-\xff](?:(?<={leads})(?:{after_lead}))?")
        self.partial = re.compile(partial)
        self.leads = leads
        self.trails = trails  # how many bytes may follow a lead (in the tables)


_F = "[\x81-\xfe]"
_GB18030 = _Grammar(
    # After a first: a digit, a byte and a digit, four bytes; a digit (and a byte) the input
    # ends in: one U+FFFD; a digit not making four bytes: the first alone (one U+FFFD, the
    # rest read again); any other byte; none.
    f"[0-9]{_F}[0-9]|[0-9]{_F}?\\Z|(?=[0-9])|[\x00-\xff]?", f"{_F}(?:[0-9]{_F}?)?", _F, 1)
_GRAMMARS = {
    "gb18030": _GB18030,
    "big5": _Grammar("[\x00-\xff]?", _F, _F, 1),
    "euc-kr": _Grammar("[\x00-\xff]?", _F, _F, 1),
    "shift_jis": _Grammar("[\x00-\xff]?", "[\x81-\x9f\xe0-\xfc]", "[\x81-\x9f\xe0-\xfc]", 1),
    # JIS X 0212 in three bytes, after 0x8F.
    "euc-jp": _Grammar("(?<=\x8f)[\xa1-\xfe][\x00-\xff]|[\x00-\xff]?",
                       "\x8f[\xa1-\xfe]?|[\x8e\xa1-\xfe]", "[\x8e\x8f\xa1-\xfe]", 2),
}


@cache
def _tokens(name: str) -> dict[str, str]:
    """What each of the encoding's byte sequences (as Latin-1 text) decodes to: the Python
    codec's characters where it decodes the sequence, else U+FFFD (an ASCII trail read again
    after it; one U+FFFD for a sequence the file ends in); then the sequences of
    `_MULTI_BYTE_FIXES`. Four-byte gb18030 sequences are decoded as met (`_four_bytes`)."""
    grammar = _GRAMMARS[name]
    leads = [chr(byte) for byte in range(0x80, 0x100) if re.fullmatch(grammar.leads, chr(byte))]
    prefixes = [*leads, *(pair for lead in leads for byte in range(256)
                          if grammar.trails == 2
                          and grammar.partial.fullmatch(pair := lead + chr(byte)))]
    sequences = [chr(byte) for byte in range(0x80, 0x100)]
    sequences += [prefix + chr(byte) for prefix in prefixes for byte in range(256)]
    tokens: dict[str, str] = {}
    for sequence, text in zip(sequences, _python_texts(name, sequences), strict=True):
        if "\ufffd" in text:
            reread = sequence[-1] < "\x80" and not grammar.partial.fullmatch(sequence)
            text = "\ufffd" + (sequence[-1] if reread else "")
        tokens[sequence] = text
    for fix in _MULTI_BYTE_FIXES.get(name, "").split():
        sequence, char = fix.split(":")
        tokens[bytes.fromhex(sequence).decode("latin-1")] = chr(int(char, 16))
    return tokens


def _python_texts(name: str, sequences: list[str]) -> list[str]:
    """The Python codec's text for each sequence (as Latin-1 text), with a U+FFFD where it
    has none: decoded in one go, a line break after each (one holding a line break is
    decoded alone). EUC-JP's JIS X 0208 pairs are read as the Shift_JIS pair of the same
    pointer: cp932 has the standard's index for them, euc_jp has not."""
    texts = {}
    by_codec: dict[str, list[tuple[str, bytes]]] = {}
    for sequence in sequences:
        raw = sequence.encode("latin-1")
        codec = _PYTHON_CODECS[name]
        if name == "euc-jp" and len(raw) == 2 and raw[0] >= 0xA1 and 0xA1 <= raw[1] <= 0xFE:
            lead, trail = divmod((raw[0] - 0xA1) * 94 + raw[1] - 0xA1, 188)
            raw = bytes((lead + (0x81 if lead < 0x1F else 0xC1),
                         trail + (0x40 if trail < 0x3F else 0x41)))
            codec = _PYTHON_CODECS["shift_jis"]
        if b"\n" in raw:
            texts[sequence] = raw.decode(codec, "replace")
        else:
            by_codec.setdefault(codec, []).append((sequence, raw))
    for codec, group in by_codec.items():
        lines = b"\n".join(raw for _, raw in group).decode(codec, "replace").split("\n")
        texts.update(zip((sequence for sequence, _ in group), lines, strict=True))
    return [texts[sequence] for sequence in sequences]


# Where the standard's multi-byte indexes differ from Python's codecs: the bytes (hex) and
# the code point they decode to.
_MULTI_BYTE_FIXES: dict[str, str] = {
    "big5": (
        "877a:3875 877b:21d53 877c:2369e 877d:26021 877e:3eec 87a1:258de 87a2:3af5 "
        "87a3:7afc 87a4:9f97 87a5:24161 87a6:2890d 87a7:231ea 87a8:20a8a 87a9:2325e "
        "87aa:430a 87ab:8484 87ac:9f96 87ad:942f 87ae:4930 87af:8613 87b0:5896 87b1:974a "
        "87b2:9218 87b3:79d0 87b4:7a32 87b5:6660 87b6:6a29 87b7:889d 87b8:744c 87b9:7bc5 "
        "87ba:6782 87bb:7a2c 87bc:524f 87bd:9046 87be:34e6 87bf:73c4 87c0:25db9 87c1:74c6 "
        "87c2:9fc7 87c3:57b3 87c4:492f 87c5:544c 87c6:4131 87c7:2368e 87c8:5818 87c9:7a72 "
        "87ca:27b65 87cb:8b8f 87cc:46ae 87cd:26e88 87ce:4181 87cf:25d99 87d0:7bae "
        "87d1:224bc 87d2:9fc8 87d3:224c1 87d4:224c9 87d5:224cc 87d6:9fc9 87d7:8504 "
        "87d8:235bb 87d9:40b4 87da:9fca 87db:44e1 87dc:2adff 87dd:62c1 87de:706e "
        "87df:9fcb 8e69:7bb8 8e6f:7c06 8e7e:7cce 8eab:7dd2 8eb4:7e1d 8ecd:8005 8ed0:8028 "
        "8f57:83c1 8f69:84a8 8f6e:840f 8fcb:89a6 8fcc:89a9 8ffe:8d77 906d:90fd 907a:92b9 "
        "90dc:975c 90f1:97ff 91bf:9f16 9244:8503 92af:5159 92b0:515b 92b1:515d 92b2:515e "
        "92c8:936e 92d1:7479 9447:6d67 94ca:799b 95d9:9097 9644:975d 96ed:701e 96fc:5b28 "
        "9b76:7201 9b78:77d7 9b7b:7e87 9bc6:99d6 9bde:91d4 9bec:60de 9bf6:6fb6 9c42:8f36 "
        "9c53:4fbb 9c62:71df 9c68:9104 9c6b:9df0 9c77:83cf 9cbc:5c10 9cbd:79e3 9cd0:5a67 "
        "9d57:8f0b 9d5a:7b51 9dc4:62d0 9ea9:6062 9eef:75f9 9efd:6c4a 9f60:9b2e 9f66:9f17 "
        "9fcb:50ed 9fd8:5f0c a063:880f a077:62ce a0d5:7468 a0df:7162 a0e4:7250 a145:2027 "
        "a14e:fe51 a1c2:af a1e3:ff5e a1f2:2295 a1f3:2299 a241:2215 a242:fe68 a244:ffe5 "
        "a246:ffe0 a247:ffe1 a3c0:2400 a3c1:2401 a3c2:2402 a3c3:2403 a3c4:2404 a3c5:2405 "
        "a3c6:2406 a3c7:2407 a3c8:2408 a3c9:2409 a3ca:240a a3cb:240b a3cc:240c a3cd:240d "
        "a3ce:240e a3cf:240f a3d0:2410 a3d1:2411 a3d2:2412 a3d3:2413 a3d4:2414 a3d5:2415 "
        "a3d6:2416 a3d7:2417 a3d8:2418 a3d9:2419 a3da:241a a3db:241b a3dc:241c a3dd:241d "
        "a3de:241e a3df:241f a3e0:2421 a3e1:20ac c6cf:5ef4 c6d3:65e0 c6d5:7676 c6d7:96b6 "
        "c6de:3003 c6df:4edd fa5f:5029 fa66:507d fabd:5305 fac5:5344 fad5:537f fb48:5605 "
        "fbb8:5a77 fbf3:5e75 fbf9:5ed0 fc4f:5f58 fc6c:60a4 fcb9:6490 fce2:6674 fcf1:675e "
        "fdb7:6c9c fdb8:6e1d fdbb:6e2f fdf1:716e fe52:732a fe6f:745c feaa:74e9 fedd:7809"),
    "gb18030": "80:20ac a3a0:3000 a8bc:1e3f 8135f437:e7c7",
    "euc-jp": "8fa2b7:ff5e",
    "shift_jis": "a0:fffd fd:fffd fe:fffd ff:fffd",  # (cp932's, for Microsoft's use)
}


def _four_bytes(sequence: str) -> str:
    """A four-byte gb18030 sequence (as Latin-1 text): the Python codec's character, one
    U+FFFD for all four bytes where it has none."""
    text = sequence.encode("latin-1").decode("gb18030", "replace")
    return "\ufffd" if "\ufffd" in text else text


# encoding_rs's decoders of these end a file whose last byte is a lead in nothing, unless
# that lead starts one of rg's transcoder fills (extract.transcoder_fills): U+FFFD then, as
# the standard and its other decoders always write.
_LEAD_DROPPED_AT_END = ("big5", "euc-kr", "shift_jis")


def _starts_a_fill(offset: int) -> bool:
    from trigrep.extract import TRANSCODER_BUFFER

    return offset == 0 or (offset - 3) % TRANSCODER_BUFFER == 0


class _TokenDecoder(codecs.IncrementalDecoder):
    """A multi-byte decoder: each token of its grammar looked up in its table; a partial
    one at the end of a read kept for the next. `drops_last_lead`: see _LEAD_DROPPED_AT_END."""

    def __init__(self, grammar: _Grammar, tokens: dict[str, str], drops_last_lead: bool,
                 offset: int) -> None:
        super().__init__()
        self.grammar, self.tokens, self.drops_last_lead = grammar, tokens, drops_last_lead
        self.pending = ""
        self.offset = offset  # where the pending bytes are in the file

    def decode(self, input: bytes, final: bool = False) -> str:
        if not self.pending and input.isascii():
            # Most files, and most reads: each ASCII byte alone is its character.
            self.offset += len(input)
            return input.decode("ascii")
        text = self.pending + bytes(input).decode("latin-1")
        self.pending = ""
        tokens, partial = self.tokens, self.grammar.partial

        def replaced(match: re.Match[str]) -> str:
            token = match[0]
            if match.end() == len(text) and partial.fullmatch(token):
                if not final:
                    self.pending = token
                    return ""
                if self.drops_last_lead and not _starts_a_fill(self.offset + match.start()):
                    return ""
            return tokens[token] if token in tokens else _four_bytes(token)

        decoded = self.grammar.token.sub(replaced, text)
        self.offset += len(text) - len(self.pending)
        return decoded


# ISO-2022-JP: the bytes its ASCII and JIS X 0201 Roman states read as characters, and
# the two that Roman reads otherwise than ASCII.
_PLAIN = re.compile(b"[^\x0e\x0f\x1b\x80-\xff]+")
_ROMAN = {0x5C: "\u00a5", 0x7E: "\u203e"}
_ESCAPES = {b"(B": "ascii", b"(J": "roman", b"(I": "katakana", b"$@": "lead", b"$B": "lead"}


class _Iso2022JpDecoder(codecs.IncrementalDecoder):
    """The standard's ISO-2022-JP decoder: escapes switch between ASCII, JIS X 0201 Roman
    and Katakana and JIS X 0208 (whose pairs are EUC-JP's, less their high bits); an escape
    right after another is an error, as is a byte its state has no character for."""

    def __init__(self) -> None:
        super().__init__()
        self.reset()

    def reset(self) -> None:
        self.state = self.output_state = "ascii"
        self.lead = 0
        self.output_flag = False
        self.pending = b""

    def decode(self, input: bytes, final: bool = False) -> str:
        data = self.pending + bytes(input)
        self.pending = b""
        jis0208 = _tokens("euc-jp")
        out: list[str] = []
        i = 0
        while i < len(data):
            byte = data[i]
            state = self.state
            if state in ("ascii", "roman") and (run := _PLAIN.match(data, i)):
                text = run[0].decode("ascii")  # (a run at once: ASCII text is most of it)
                out.append(text if state == "ascii" else text.translate(_ROMAN))
                self.output_flag = False
                i = run.end()
                continue
            if byte == 0x1B and state != "trail":
                if not final and len(data) - i < 3:
                    self.pending = data[i:]  # (an escape is read whole)
                    break
                escape = _ESCAPES.get(data[i + 1 : i + 3])
                if escape is None:  # the bytes after the ESC are read again
                    out.append("\ufffd")
                    self.output_flag = False
                    self.state = self.output_state
                    i += 1
                    continue
                if self.output_flag:
                    out.append("\ufffd")
                self.output_flag = True
                self.state = self.output_state = escape
                i += 3
                continue
            i += 1
            if state == "trail":
                self.state = "lead"
                if byte == 0x1B:
                    i -= 1  # (the escape, read next)
                    out.append("\ufffd")
                    continue
                char = jis0208.get(chr(self.lead | 0x80) + chr(byte | 0x80), "\ufffd")
                out.append(char if 0x21 <= byte <= 0x7E and len(char) == 1 else "\ufffd")
                continue
            self.output_flag = False
            if state == "lead" and 0x21 <= byte <= 0x7E:
                self.lead, self.state = byte, "trail"
            elif state == "katakana" and 0x21 <= byte <= 0x5F:
                out.append(chr(0xFF61 - 0x21 + byte))
            else:
                out.append("\ufffd")
        if final and self.state == "trail":
            self.state = "lead"
            out.append("\ufffd")
        return "".join(out)
