"""docs/random-draw.md, "Points an outside re-implementation had to guess, made explicit": each point's test
vector, checked against the platform's implementation and, where the point concerns the stream, against the
standalone verifier's independent one (scripts/verify_draw.py)."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

from jianchama.plans import draws

ROOT = Path(__file__).resolve().parents[2]
SEED = bytes(range(32)).hex()
KEY = draws.stream_key(
    seed=SEED,
    pool_hash="c1a9e2fb4f3e29b4a2ea2f97de1cddf53e12546ef260c8331b481596e5c3753c",
    inspector_pool_hash="6b31de50bd3b46309caed50d676bf5ad77ae6778ce656a63e599a59cdeefc95e",
    committed_at="2026-03-02T01:30:00.000000Z",
)


def verifier():
    spec = importlib.util.spec_from_file_location("verify_draw", ROOT / "scripts" / "verify_draw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_stream_key_is_hashed_as_raw_bytes_not_hex_text():
    assert KEY.hex() == "64ef67898da4892702d84f156de5c7b5e36246cc6777e1f5be441ff4f78e6a7c"
    block0 = hashlib.sha256(KEY + (0).to_bytes(8, "big")).hexdigest()
    assert block0 == "9ea7022abf64da665db0439ef63acb1ba35ba0e7d4642e7c41ad229120ca7a32"
    as_text = hashlib.sha256(KEY.hex().encode() + (0).to_bytes(8, "big")).hexdigest()
    assert as_text == "efc45bfd224e03e6dbe11ef0d49288ce6c45b155f7285f503b3ba45f83fb22c0" != block0
    assert draws.Stream(KEY).word() == 0x9EA7022A


def test_the_shuffles_last_below_1_still_consumes_a_word():
    stream = draws.Stream(KEY)
    assert draws.partial_shuffle(["a", "b", "c"], 3, stream) == ["a", "b", "c"]
    assert stream.word() == 0xF63ACB1B  # the 4th word: below(3), below(2), below(1) took three
    stream = draws.Stream(KEY)
    draws.partial_shuffle(["a", "b", "c"], 2, stream)
    assert stream.word() == 0x5DB0439E
    stream = draws.Stream(KEY)
    assert stream.below(1) == 0 and stream.word() == 0xBF64DA66


def test_a_vector_that_exercises_the_rejection_step():
    n = 2**31 + 1
    stream = draws.Stream(KEY)
    assert stream.below(n) == 1571832734  # 0x9ea7022a and 0xbf64da66 rejected, 0x5db0439e accepted
    assert stream.word() == 0xF63ACB1B
    independent = verifier().Stream(KEY)
    assert independent.below(n) == 1571832734


def test_sort_orders_are_by_code_point_never_numeric():
    numbers = ["3101160009", "31011600010", "A3101", "31011600002"]
    assert sorted(numbers) == ["31011600002", "31011600010", "3101160009", "A3101"]
    pool = [
        {"certificates": ["3101160009"], "name": "甲", "conflicts": []},
        {"certificates": ["31011600010"], "name": "乙", "conflicts": []},
    ]
    assert [draws.inspector_key(i) for i in sorted(pool, key=draws.inspector_key)] == [
        "31011600010",
        "3101160009",
    ]
    exclusions = [("31011600002", "91310116MA0000004N"), ("31011600002", "*"), ("31011600001", "*")]
    assert sorted(exclusions) == [
        ("31011600001", "*"),
        ("31011600002", "*"),
        ("31011600002", "91310116MA0000004N"),
    ]


def test_which_line_breaks_become_spaces_in_names():
    assert draws._clean(" 张\u2028三\r\n李\u3000四\u000b\t") == "张 三 李 四"
    for space in (
        "\t",
        "\r",
        "\n",
        "\u000b",
        "\u000c",
        "\u001c",
        "\u0085",
        "\u00a0",
        "\u2028",
        "\u2029",
        "\u3000",
    ):
        assert draws._clean(f"王{space}五") == "王 五", repr(space)
    from jianchama.supervision import sampling

    assert sampling._clean("朱泾镇\r\n人民政府") == "朱泾镇 人民政府"
