"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

18 characters: registration authority (1), organisation type (1), region code (6 digits), organisation
code (9), check character (1). The charset is the digits and the capital letters except I, O, S, V, Z;
the check character is 31 - (sum of value × weight mod 31), with 31 written as 0.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
FORBIDDEN = set("IOSVZ")


def check_character(first17: str) -> str:
    """The check character for the first 17 characters (which must be in the charset)."""
    total = sum(VALUES[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def problem(code: str) -> str | None:
    """What is wrong with `code`, in Chinese, or None if it is a valid USCC."""
    if not isinstance(code, str) or not code:
        return "统一社会信用代码不能为空"
    if len(code) != 18:
        return f"统一社会信用代码应为18位，实际为{len(code)}位"
    for position, char in enumerate(code, start=1):
        if char.islower() and char.upper() in VALUES:
            return f"第{position}位“{char}”应为大写字母"
        if char in FORBIDDEN:
            return f"第{position}位“{char}”不能使用（统一社会信用代码不使用字母 I、O、S、V、Z）"
        if char not in VALUES:
            return f"第{position}位“{char}”不是统一社会信用代码允许的字符"
    if not code[2:8].isdigit():
        return "第3至8位应为数字（登记管理机关行政区划码）"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"校验码不符：第18位应为“{expected}”，实际为“{code[17]}”"
    return None


def is_valid(code: str) -> bool:
    return problem(code) is None


def normalise(code: str) -> str:
    """What users type: surrounding spaces and lower-case letters are forgiven, nothing else."""
    return code.strip().upper()
