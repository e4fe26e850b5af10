"""The AQL tokenizer: keywords, names, literals, bind parameters, operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import parse_error

#: reserved words ("Keywords" in the AQL syntax documentation), case-insensitive
KEYWORDS = frozenset("""
AGGREGATE ALL ALL_SHORTEST_PATHS AND ANY ASC COLLECT DESC DISTINCT FALSE FILTER FOR
GRAPH IN INBOUND INSERT INTO K_PATHS K_SHORTEST_PATHS LET LIKE LIMIT NONE NOT NULL OR
OUTBOUND REMOVE REPLACE RETURN SHORTEST_PATH SORT TRUE UPDATE UPSERT WINDOW WITH
""".split())

#: longest first, so that "==" wins over "="
OPERATORS = ("..", "==", "!=", "<=", ">=", "=~", "!~", "&&", "||", "::",
             "<", ">", "=", "!", "+", "-", "*", "/", "%", "?", ":", ".", ",", "(", ")",
             "[", "]", "{", "}")

ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
           "r": "\r", "t": "\t"}

DESCRIPTIONS = {"name": "identifier", "string": "quoted string", "number": "number",
                "param": "bind parameter", "cparam": "bind collection parameter",
                "qname": "quoted identifier", "end": "end of query string"}


@dataclass
class Token:
    kind: str    # keyword, name, qname, string, number, param, cparam, op, end
    value: Any
    pos: int

    def describe(self) -> str:
        if self.kind == "keyword":
            return f"{self.value} keyword"
        if self.kind == "op":
            return f"'{self.value}'"
        return DESCRIPTIONS.get(self.kind, self.kind)


def position(text: str, pos: int) -> str:
    """``line:column`` of offset ``pos`` (both from 1), as ArangoDB reports it."""
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{line}:{column}"


def syntax_error(text: str, token: Token, expecting: str = "") -> Exception:
    near = text[token.pos:token.pos + 32]
    detail = f", expecting {expecting}" if expecting else ""
    return parse_error(f"syntax error, unexpected {token.describe()}{detail} near "
                       f"'{near}' at position {position(text, token.pos)}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise parse_error(f"syntax error, unexpected unterminated comment near "
                                  f"'{text[i:i + 32]}' at position {position(text, i)}")
            i = end + 2
            continue
        start = i
        if c in "\"'":
            value, i = _string(text, i)
            tokens.append(Token("string", value, start))
            continue
        if c in "`\u00b4":
            end = text.find(c, i + 1)
            if end < 0 or end == i + 1:
                raise parse_error(f"syntax error, unexpected invalid quoted name near "
                                  f"'{text[i:i + 32]}' at position {position(text, i)}")
            tokens.append(Token("qname", text[i + 1:end], start))
            i = end + 1
            continue
        if c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()
                           and not (tokens and tokens[-1].kind in ("name", "qname", "param")
                                    or tokens and tokens[-1].value in (")", "]"))):
            value, i = _number(text, i)
            tokens.append(Token("number", value, start))
            continue
        if c == "@":
            kind = "param"
            i += 1
            if i < n and text[i] == "@":
                kind, i = "cparam", i + 1
            j = i
            while j < n and (text[j].isalnum() or text[j] == "_") and text[j].isascii():
                j += 1
            if j == i:
                raise parse_error(f"syntax error, unexpected '@' near '{text[start:start + 32]}' "
                                  f"at position {position(text, start)}")
            tokens.append(Token(kind, text[i:j], start))
            i = j
            continue
        if c.isalpha() or c == "_" or c == "$":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] == "_") and text[j].isascii():
                j += 1
            word = text[i:j]
            if word.upper() in KEYWORDS:
                tokens.append(Token("keyword", word.upper(), start))
            else:
                tokens.append(Token("name", word, start))
            i = j
            continue
        for op in OPERATORS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, start))
                i += len(op)
                break
        else:
            raise parse_error(f"syntax error, unexpected character '{c}' near "
                              f"'{text[i:i + 32]}' at position {position(text, i)}")
    tokens.append(Token("end", None, n))
    return tokens


def _string(text: str, i: int) -> tuple[str, int]:
    quote = text[i]
    out = []
    j = i + 1
    n = len(text)
    while j < n:
        c = text[j]
        if c == quote:
            return "".join(out), j + 1
        if c == "\\":
            j += 1
            if j >= n:
                break
            e = text[j]
            if e == "u" and j + 4 < n:
                try:
                    code = int(text[j + 1:j + 5], 16)
                except ValueError:
                    raise parse_error(f"syntax error, invalid escape sequence at position "
                                      f"{position(text, j)}") from None
                j += 5
                if 0xD800 <= code < 0xDC00 and text.startswith("\\u", j):
                    low = int(text[j + 2:j + 6], 16)
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    j += 6
                out.append(chr(code))
                continue
            out.append(ESCAPES.get(e, e))
            j += 1
            continue
        out.append(c)
        j += 1
    raise parse_error(f"syntax error, unexpected unterminated string near "
                      f"'{text[i:i + 32]}' at position {position(text, i)}")


def _number(text: str, i: int) -> tuple[Any, int]:
    n = len(text)
    lower = text[i:i + 2].lower()
    if lower in ("0x", "0b") and i + 2 < n:
        base = 16 if lower == "0x" else 2
        j = i + 2
        digits = "0123456789abcdefABCDEF" if base == 16 else "01"
        while j < n and text[j] in digits:
            j += 1
        if j > i + 2:
            return int(text[i + 2:j], base), j
    j = i
    while j < n and text[j].isdigit():
        j += 1
    is_float = False
    if j < n and text[j] == "." and j + 1 < n and text[j + 1].isdigit():
        is_float = True
        j += 1
        while j < n and text[j].isdigit():
            j += 1
    if j < n and text[j] in "eE":
        k = j + 1
        if k < n and text[k] in "+-":
            k += 1
        if k < n and text[k].isdigit():
            is_float = True
            j = k
            while j < n and text[j].isdigit():
                j += 1
    literal = text[i:j]
    if is_float:
        value = float(literal)
        return (int(value) if value.is_integer() and abs(value) < 2 ** 53 else value), j
    return int(literal), j
