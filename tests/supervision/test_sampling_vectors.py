"""docs/sampling.md, "Worked example": the period text (`2026-Q4`) and region code (`310116`) spelled out, the
key, the first words and the result, checked against the platform and the standalone verifier; and published
body names are those at the commitment."""

from __future__ import annotations

import hashlib
import json
import struct

import pytest

from jianchama.plans import draws
from jianchama.registry.models import EnforcementBody
from jianchama.supervision import sampling
from jianchama.supervision.models import SamplingRound
from tests.supervision.test_sampling import build_world, run_script

SEED = bytes(range(32)).hex()
NAMES = [
    "金山区应急管理局",
    "金山区建设和管理委员会",
    "金山区交通委员会",
    "金山区市场监督管理局",
    "金山区生态环境局",
    "金山区卫生健康委员会",
    "金山区规划和自然资源局",
    "金山区文化和旅游局",
    "金山区消防救援支队",
    "朱泾镇人民政府",
    "枫泾镇人民政府",
    "山阳镇人民政府",
]


def example() -> dict:
    pool = sorted([f"JS{n + 1:03d}", name] for n, name in enumerate(NAMES))
    return {
        "algorithm": "jcm-sampling-v1",
        "region": {"code": "310116", "name": "金山区"},
        "year": 2026,
        "quarter": 4,
        "ratio": "0.1",
        "body_count": sampling.count_for(len(pool), "0.1"),
        "committed_at": "2026-10-09T01:00:00.000000Z",
        "pool": pool,
        "pool_hash": draws.sha256_hex(sampling.encode_pool(pool)),
        "seed_commitment": draws.commitment_of(SEED),
        "seed": SEED,
    }


def test_the_worked_example_with_period_text_and_region_code():
    record = example()
    assert record["body_count"] == 2
    assert record["pool_hash"] == "59d7c42dcb0daf304a9a03f6c7c18051757ede13f1e0eb74c6b2f94d170ebd30"
    assert record["seed_commitment"] == "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
    text = (
        "jcm-sampling-v1\n"
        + SEED
        + "\n"
        + record["pool_hash"]
        + "\n310116\n2026-Q4\n2026-10-09T01:00:00.000000Z\n"
    )
    key = hashlib.sha256(text.encode("utf-8")).digest()
    assert key.hex() == "b2f677e5a4dc09b0c24176e08362a50b7ee8935f8c4e91e3125f060d94cbfc92"
    assert key == sampling.stream_key(
        seed=SEED,
        pool_hash=record["pool_hash"],
        region="310116",
        year=2026,
        quarter=4,
        committed_at=record["committed_at"],
    )
    words = struct.unpack(">8I", hashlib.sha256(key + (0).to_bytes(8, "big")).digest())
    assert words[:2] == (0x42055197, 0x45E3D2F1)
    assert (words[0] % 12, words[1] % 11) == (3, 3)
    assert sampling.run_sampling(record) == ["JS004", "JS005"]


def test_the_standalone_verifier_agrees_with_the_worked_example(tmp_path):
    record = {**example(), "result": ["JS004", "JS005"]}
    path = tmp_path / "sampling.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    done = run_script(path, "--pool-hash", record["pool_hash"], "--commitment", record["seed_commitment"])
    assert done.returncode == 0 and "核验通过" in done.stdout


@pytest.mark.django_db
def test_published_body_names_are_those_at_commitment():
    w = build_world()
    r = sampling.commit_round(w.supervisor, year=w.year, quarter=w.quarter, ratio="1")
    committed = dict(r.pool)
    for body in EnforcementBody.objects.filter(code__startswith="JS"):
        EnforcementBody.objects.filter(pk=body.pk).update(name=f"改名后的单位{body.code}")
    r = sampling.reveal_round(w.supervisor, sampling_round=r)
    record = sampling.published_record(SamplingRound.objects.get(pk=r.pk))
    assert {b["name"] for b in record["bodies"]} == set(committed.values())
    assert "改名后的单位" not in json.dumps(record, ensure_ascii=False)
