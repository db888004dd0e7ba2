"""The draw algorithm jcm-draw-v1 without a database: determinism, the known answer of docs/random-draw.md,
the stream's unbiased indices, stratification and its rounding, inspectors, and the standalone verifier
(a second implementation) agreeing with it and catching every tampering."""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import random
import re
import struct
import subprocess
import sys
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from jianchama.plans import draws
from tests.factories import make_uscc

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "random-draw.md"
SCRIPT = ROOT / "scripts" / "verify_draw.py"


def load_verifier():
    spec = importlib.util.spec_from_file_location("verify_draw", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = load_verifier()


def make_record(
    *,
    size=40,
    count=8,
    strata=None,
    inspectors=6,
    per_task=2,
    seed=None,
    conflicts=None,
    late=(),
    rng=None,
) -> dict:
    rng = rng or random.Random(7)
    pool = sorted([make_uscc(n + 1), rng.choice("ABCD")] for n in range(size))
    people = [
        {
            "certificates": [f"3101160{n:04d}"],
            "name": f"执法员{n}",
            "conflicts": sorted((conflicts or {}).get(n, [])),
        }
        for n in range(inspectors)
    ]
    seed = seed or bytes(range(32)).hex()
    record = {
        "algorithm": draws.ALGORITHM,
        "committed_at": "2026-03-02T01:30:00.000000Z",
        "enterprise_count": count,
        "inspectors_per_task": per_task,
        "strata": strata or {},
        "pool": pool,
        "pool_hash": draws.sha256_hex(draws.encode_pool(pool)),
        "inspector_pool": people,
        "inspector_pool_hash": draws.sha256_hex(draws.encode_inspector_pool(people)),
        "seed": seed,
        "seed_commitment": draws.commitment_of(seed),
        "late_exclusions": list(late),
    }
    return record


def revealed(record: dict) -> dict:
    return {**record, "result": draws.run_draw(record)}


# --- Encodings and the stream ---------------------------------------------------------------------------


def test_the_pool_is_hashed_as_tab_separated_lines():
    pool = [["91310116MA0000001D", "A"], ["91310116MA0000002G", "B"]]
    assert draws.encode_pool(pool) == b"91310116MA0000001D\tA\n91310116MA0000002G\tB\n"
    assert draws.sha256_hex(draws.encode_pool(pool)) == hashlib.sha256(draws.encode_pool(pool)).hexdigest()
    assert draws.encode_pool([]) == b""


def test_the_inspector_pool_lines_join_lists_with_commas():
    people = [{"certificates": ["1", "7"], "name": "王五", "conflicts": ["U1", "U2"]}]
    assert draws.encode_inspector_pool(people) == "1,7\t王五\tU1,U2\n".encode()


def test_the_commitment_is_sha256_of_the_seed_bytes():
    seed = bytes(range(32)).hex()
    assert draws.commitment_of(seed) == hashlib.sha256(bytes(range(32))).hexdigest()


def test_the_stream_is_sha256_in_counter_mode():
    key = b"k" * 32
    stream = draws.Stream(key)
    words = [stream.word() for _ in range(16)]
    expected = struct.unpack(">8I", hashlib.sha256(key + bytes(8)).digest()) + struct.unpack(
        ">8I", hashlib.sha256(key + (1).to_bytes(8, "big")).digest()
    )
    assert tuple(words) == expected


def test_indices_reject_the_biased_top_of_the_range():
    stream = draws.Stream(b"")
    supply = iter([2**32 - 1, 2**32 - 2, 5])
    stream.word = lambda: next(supply)
    # For n = 3 the largest multiple of 3 below 2**32 is 2**32 - 1: that word is rejected, the next kept.
    assert stream.below(3) == (2**32 - 2) % 3
    assert stream.below(3) == 5 % 3


def test_indices_are_roughly_uniform():
    stream = draws.Stream(b"uniform")
    counts = Counter(stream.below(6) for _ in range(60_000))
    assert set(counts) == set(range(6))
    assert all(9_500 < n < 10_500 for n in counts.values())


def test_partial_shuffle_gives_the_prefix_of_the_full_shuffle():
    items = list(range(50))
    full = draws.partial_shuffle(list(items), 50, draws.Stream(b"x"))
    assert draws.partial_shuffle(list(items), 7, draws.Stream(b"x")) == full[:7]
    assert sorted(full) == items


# --- Determinism ----------------------------------------------------------------------------------------


def test_the_same_input_gives_the_same_result():
    record = make_record(strata={"A": "0.25", "B": "0.25", "C": "0.25", "D": "0.25"})
    assert draws.run_draw(record) == draws.run_draw(copy.deepcopy(record))


@pytest.mark.parametrize("field", ["seed", "pool_hash", "inspector_pool_hash", "committed_at"])
def test_every_input_of_the_key_changes_the_result(field):
    record = make_record(size=200, count=20)
    changed = dict(record)
    changed[field] = {
        "seed": "ff" * 32,
        "pool_hash": "0" * 64,
        "inspector_pool_hash": "1" * 64,
        "committed_at": "2026-03-02T01:30:00.000001Z",
    }[field]
    assert draws.run_draw(record) != draws.run_draw(changed)


def test_the_draw_does_not_depend_on_how_the_pool_was_read():
    """The pool arrives as lists from JSON or tuples from the database: same result."""
    record = make_record()
    as_tuples = {**record, "pool": [tuple(entry) for entry in record["pool"]]}
    assert draws.run_draw(record) == draws.run_draw(as_tuples)


# --- Stratification and rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strata", "count", "quota"),
    [
        ({"A": "0.25", "B": "0.5", "D": "0.25"}, 5, {"A": 1, "B": 3, "D": 1}),  # 1.25 / 2.5 / 1.25
        ({"A": "0.25", "B": "0.5", "D": "0.25"}, 6, {"A": 2, "B": 3, "D": 1}),  # tie at .5: A before D
        ({"A": "0.333333", "B": "0.333333", "C": "0.333334"}, 10, {"A": 3, "B": 3, "C": 4}),
        ({"A": "0.1", "B": "0.2", "C": "0.3", "D": "0.4"}, 7, {"A": 1, "B": 1, "C": 2, "D": 3}),
        ({"C": "1"}, 9, {"C": 9}),
        ({"A": "0", "B": "1"}, 4, {"A": 0, "B": 4}),
    ],
)
def test_largest_remainder_allocation(strata, count, quota):
    assert draws.allocate(strata, count) == quota
    assert verifier.quotas(strata, count) == quota


def test_allocation_always_sums_to_the_count():
    rng = random.Random(3)
    for _ in range(500):
        units = [rng.randrange(0, 1000) for _ in range(4)]
        if not sum(units):
            continue
        shares = [u * 10**6 // sum(units) for u in units]
        shares[-1] += 10**6 - sum(shares)
        strata = {g: format(Decimal(s) / 10**6, "f") for g, s in zip("ABCD", shares, strict=True)}
        count = rng.randrange(1, 10_000)
        quota = draws.allocate(strata, count)
        assert sum(quota.values()) == count
        for grade, ratio in strata.items():
            assert abs(quota[grade] - Decimal(ratio) * count) < 1


def test_each_stratum_gives_its_quota_from_its_own_grade():
    record = make_record(size=400, count=50, strata={"A": "0.1", "B": "0.2", "C": "0.3", "D": "0.4"})
    result = draws.run_draw(record)
    grade_of = dict(map(tuple, record["pool"]))
    assert Counter(e["risk_grade"] for e in result) == {"A": 5, "B": 10, "C": 15, "D": 20}
    assert all(grade_of[e["uscc"]] == e["risk_grade"] for e in result)
    assert len({e["uscc"] for e in result}) == 50
    # Strata are drawn in grade order.
    assert [e["risk_grade"] for e in result] == sorted(e["risk_grade"] for e in result)


def test_grades_outside_the_strata_are_not_drawn():
    record = make_record(size=100, count=10, strata={"C": "1"})
    assert {e["risk_grade"] for e in draws.run_draw(record)} == {"C"}


def test_a_short_stratum_stops_the_algorithm():
    record = make_record(size=8, count=8, strata={"A": "1"})
    with pytest.raises(draws.DrawError, match="风险等级A的企业只有"):
        draws.run_draw(record)


@pytest.mark.parametrize(
    ("strata", "normalised"),
    [
        ({"a": 0.5, "B": "0.50"}, {"A": "0.5", "B": "0.5"}),
        ({"D": "1.0"}, {"D": "1"}),
        ({"B": "0.000001", "A": "0.999999"}, {"A": "0.999999", "B": "0.000001"}),
    ],
)
def test_ratios_are_stored_as_canonical_decimals(strata, normalised):
    assert draws.normalise_strata(strata) == (normalised, [])


# --- Inspectors -----------------------------------------------------------------------------------------


def test_every_enterprise_gets_distinct_inspectors_never_conflicted():
    pool_usccs = sorted(make_uscc(n + 1) for n in range(60))
    conflicts = {n: pool_usccs[n::4] for n in range(4)}  # each of the first four with a quarter of the pool
    record = make_record(size=60, count=60, inspectors=5, per_task=3, conflicts=conflicts)
    for entry in draws.run_draw(record):
        assert len(set(entry["inspectors"])) == 3
        for n, usccs in conflicts.items():
            if entry["uscc"] in usccs:
                assert f"3101160{n:04d}" not in entry["inspectors"]


def test_late_exclusions_apply_to_one_enterprise_or_to_all():
    record = make_record(size=30, count=30, inspectors=4)
    target = record["pool"][0][0]
    record["late_exclusions"] = [
        {"inspector": "31011600000", "uscc": "*", "reason": "已不在岗"},
        {"inspector": "31011600001", "uscc": target, "reason": "承诺后登记的利益冲突"},
    ]
    result = draws.run_draw(record)
    assert all("31011600000" not in e["inspectors"] for e in result)
    assert set(next(e for e in result if e["uscc"] == target)["inspectors"]) == {"31011600002", "31011600003"}


def test_too_few_inspectors_for_an_enterprise_stops_the_algorithm():
    record = make_record(size=5, count=5, inspectors=3, conflicts={0: [make_uscc(1)], 1: [make_uscc(1)]})
    with pytest.raises(draws.DrawError, match=f"企业{make_uscc(1)}可抽取的执法人员只有1人") as refused:
        draws.run_draw(record)
    assert refused.value.uscc == make_uscc(1)


# --- The two implementations agree ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(25))
def test_the_standalone_verifier_redraws_the_same(seed):
    rng = random.Random(seed)
    size = rng.randrange(5, 300)
    people = rng.randrange(2, 12)
    usccs = [make_uscc(n + 1) for n in range(size)]
    conflicts = {n: rng.sample(usccs, rng.randrange(0, max(1, size // 10))) for n in range(people)}
    strata = rng.choice([{}, {"A": "0.5", "B": "0.5"}, {"A": "0.2", "B": "0.3", "C": "0.3", "D": "0.2"}])
    record = make_record(
        size=size,
        count=rng.randrange(1, max(2, size // 8)),
        inspectors=people,
        conflicts=conflicts,
        strata=strata,
        seed=rng.randbytes(32).hex(),
        rng=rng,
    )
    try:
        mine = draws.run_draw(record)
    except draws.DrawError:
        with pytest.raises(verifier.Shortage):
            verifier.redraw(record)
        return
    assert verifier.redraw(record) == mine
    assert verifier.verify({**record, "result": mine}) == []


# --- The known answer of docs/random-draw.md -------------------------------------------------------------


def doc_example() -> dict:
    text = DOC.read_text()
    section = text[text.index("## Worked example") :]
    block = re.search(r"```json\n(.*?)\n```", section, re.S).group(1)
    return json.loads(block)


def test_the_worked_example_of_the_doc_is_what_the_code_draws():
    record = doc_example()
    assert record["seed"] == bytes(range(32)).hex()
    assert draws.sha256_hex(draws.encode_pool(record["pool"])) == record["pool_hash"]
    assert (
        draws.sha256_hex(draws.encode_inspector_pool(record["inspector_pool"]))
        == record["inspector_pool_hash"]
    )
    assert draws.commitment_of(record["seed"]) == record["seed_commitment"]
    assert draws.run_draw(record) == record["result"]
    key = draws.stream_key(
        seed=record["seed"],
        pool_hash=record["pool_hash"],
        inspector_pool_hash=record["inspector_pool_hash"],
        committed_at=record["committed_at"],
    )
    text = DOC.read_text()
    assert key.hex() in text
    assert hashlib.sha256(key + bytes(8)).hexdigest() in text


def run_script(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), str(path), *args], capture_output=True, text=True)


def test_the_script_confirms_the_worked_example(tmp_path):
    path = tmp_path / "draw-1.json"
    path.write_text(json.dumps(doc_example(), ensure_ascii=False))
    record = doc_example()
    done = run_script(path, "--pool-hash", record["pool_hash"], "--commitment", record["seed_commitment"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("核验通过")


# --- Tampering ------------------------------------------------------------------------------------------


def tampered(tmp_path, change) -> subprocess.CompletedProcess:
    record = revealed(make_record(size=50, count=10, strata={"A": "0.5", "B": "0.5"}))
    change(record)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(record, ensure_ascii=False))
    return run_script(path)


def test_an_untouched_record_passes(tmp_path):
    done = tampered(tmp_path, lambda r: None)
    assert done.returncode == 0 and "核验通过" in done.stdout


def change_one_uscc(record):
    record["pool"][3][0] = make_uscc(999)
    record["pool"].sort()


def test_one_uscc_changed_in_the_pool_fails(tmp_path):
    done = tampered(tmp_path, change_one_uscc)
    assert done.returncode == 1
    assert "企业库快照散列不符" in done.stdout


def test_a_pool_rewritten_with_its_hash_fails_against_the_hash_noted_before(tmp_path):
    record = revealed(make_record(size=50, count=10))
    announced = record["pool_hash"]
    change_one_uscc(record)
    record["pool_hash"] = draws.sha256_hex(draws.encode_pool(record["pool"]))
    record["result"] = draws.run_draw(record)  # a consistent forgery
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(record))
    assert run_script(path).returncode == 0  # consistent in itself ...
    done = run_script(path, "--pool-hash", announced)
    assert (
        done.returncode == 1 and "企业库快照散列与抽取前公布的不同" in done.stdout
    )  # ... but not what was announced


def test_a_changed_grade_fails(tmp_path):
    done = tampered(tmp_path, lambda r: r["pool"][0].__setitem__(1, "D" if r["pool"][0][1] != "D" else "A"))
    assert done.returncode == 1 and "企业库快照散列不符" in done.stdout


def test_a_changed_seed_fails(tmp_path):
    done = tampered(tmp_path, lambda r: r.__setitem__("seed", "ab" * 32))
    assert done.returncode == 1
    assert "随机种子与承诺值不符" in done.stdout


def test_a_changed_result_fails(tmp_path):
    def swap(record):
        others = [u for u, _ in record["pool"] if u not in {e["uscc"] for e in record["result"]}]
        record["result"][2]["uscc"] = others[0]

    done = tampered(tmp_path, swap)
    assert done.returncode == 1
    assert "抽取结果第3户不符" in done.stdout


def test_changed_inspectors_fail(tmp_path):
    def swap(record):
        record["result"][0]["inspectors"].reverse()

    done = tampered(tmp_path, swap)
    assert done.returncode == 1 and "抽取结果第1户不符" in done.stdout


def test_a_removed_conflict_fails(tmp_path):
    def drop(record):
        record["inspector_pool"][0]["conflicts"] = []

    record = make_record(size=50, count=10, conflicts={0: [make_uscc(1), make_uscc(2)]})
    record = revealed(record)
    drop(record)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(record, ensure_ascii=False))
    done = run_script(path)
    assert done.returncode == 1 and "执法人员库快照散列不符" in done.stdout


def test_a_dropped_enterprise_in_the_result_fails(tmp_path):
    done = tampered(tmp_path, lambda r: r["result"].pop())
    assert done.returncode == 1 and "抽取结果户数不符：应为10户，公布了9户" in done.stdout


def test_another_algorithm_is_not_claimed_verified(tmp_path):
    done = tampered(tmp_path, lambda r: r.__setitem__("algorithm", "jcm-draw-v2"))
    assert done.returncode == 1 and "不支持的算法" in done.stdout


def test_a_committed_record_checks_its_hashes_only(tmp_path):
    record = make_record()
    del record["seed"]
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(record))
    done = run_script(path, "--commitment", record["seed_commitment"])
    assert done.returncode == 0 and "随机种子尚未公布" in done.stdout
    done = run_script(path, "--commitment", "0" * 64)
    assert done.returncode == 1 and "随机种子承诺值与抽取前公布的不同" in done.stdout
