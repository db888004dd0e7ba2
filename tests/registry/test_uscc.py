import pytest

from jianchama.registry import uscc

# Real, published codes (check character included).
REAL = ["91350100M000100Y43", "91110000802100433B"]


@pytest.mark.parametrize("code", REAL)
def test_real_codes_are_valid(code):
    assert uscc.is_valid(code)
    assert uscc.problem(code) is None


def test_wrong_check_character_names_the_expected_one():
    assert uscc.problem("91350100M000100Y44") == "校验码不符：第18位应为“3”，实际为“4”"


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("", "统一社会信用代码不能为空"),
        ("9135010", "统一社会信用代码应为18位，实际为7位"),
        ("91350100M0001O0Y43", "第14位“O”不能使用（统一社会信用代码不使用字母 I、O、S、V、Z）"),
        ("91350100M000100y43", "第16位“y”应为大写字母"),
        ("91350100M000100Y4-", "第18位“-”不是统一社会信用代码允许的字符"),
        ("913A0100M000100Y43", "第3至8位应为数字（登记管理机关行政区划码）"),
    ],
)
def test_problems_name_the_character(code, message):
    assert uscc.problem(code) == message
    assert not uscc.is_valid(code)


def test_every_single_character_change_is_caught():
    code = REAL[0]
    for position in range(17):
        for char in uscc.CHARSET:
            if char == code[position]:
                continue
            changed = code[:position] + char + code[position + 1 :]
            if position in range(2, 8) and not char.isdigit():
                continue
            assert not uscc.is_valid(changed), changed


def test_check_character_of_generated_codes():
    assert uscc.check_character("91350100M000100Y4") == "3"
