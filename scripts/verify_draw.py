#!/usr/bin/env python3
"""Verify a published random draw (双随机) of the inspection code platform, with nothing but Python 3.

    python3 verify_draw.py draw-12.json [--pool-hash HEX] [--inspector-pool-hash HEX] [--commitment HEX]

Reads the JSON served at /draws/<id>.json, recomputes both pools' hashes, checks the seed against its
commitment and re-runs algorithm jcm-draw-v1 (docs/random-draw.md), then prints 「核验通过」 and exits 0, or
names every mismatch and exits 1. The options compare with values you noted before the draw (the hashes and
the commitment published with it), which is what catches a record rewritten as a whole afterwards.

Standard library only, and independent of the platform's code on purpose: it is a second implementation of
the documented algorithm.
"""

import argparse
import hashlib
import json
import struct
import sys
from fractions import Fraction

ALGORITHM = "jcm-draw-v1"
SCALE = 10**6


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pool_bytes(pool):
    return "".join(uscc + "\t" + grade + "\n" for uscc, grade in pool).encode("utf-8")


def inspector_pool_bytes(inspectors):
    return "".join(
        ",".join(i["certificates"]) + "\t" + i["name"] + "\t" + ",".join(i["conflicts"]) + "\n"
        for i in inspectors
    ).encode("utf-8")


class Stream:
    def __init__(self, key):
        self.key, self.counter, self.words = key, 0, []

    def below(self, n):
        limit = 2**32 - 2**32 % n
        while True:
            if not self.words:
                block = hashlib.sha256(self.key + self.counter.to_bytes(8, "big")).digest()
                self.counter += 1
                self.words = list(struct.unpack(">8I", block))
            word = self.words.pop(0)
            if word < limit:
                return word % n


def first_k_of_shuffle(items, k, stream):
    items = list(items)
    for i in range(k):
        j = i + stream.below(len(items) - i)
        items[i], items[j] = items[j], items[i]
    return items[:k]


def quotas(strata, count):
    units = {}
    for grade, ratio in strata.items():
        scaled = Fraction(ratio) * SCALE
        if scaled.denominator != 1:
            raise ValueError("ratio " + ratio + " has more than 6 decimal places")
        units[grade] = scaled.numerator * count
    quota = {g: u // SCALE for g, u in units.items()}
    left = count - sum(quota.values())
    for grade in sorted(units, key=lambda g: (-(units[g] % SCALE), g))[:left]:
        quota[grade] += 1
    return quota


class Shortage(Exception):
    pass


def redraw(record):
    header = "\n".join(
        [
            ALGORITHM,
            record["seed"],
            record["pool_hash"],
            record["inspector_pool_hash"],
            record["committed_at"],
        ]
    )
    stream = Stream(hashlib.sha256((header + "\n").encode("ascii")).digest())
    count, strata = record["enterprise_count"], record["strata"]
    if strata:
        quota = quotas(strata, count)
        groups = [(g, [e for e in record["pool"] if e[1] == g], quota[g]) for g in sorted(quota)]
    else:
        groups = [("", record["pool"], count)]
    drawn = []
    for grade, members, k in groups:
        if k > len(members):
            raise Shortage("风险等级" + grade + "的企业不足" + str(k) + "户")
        drawn += first_k_of_shuffle(members, k, stream)

    late = record.get("late_exclusions", [])
    everywhere = {e["inspector"] for e in late if e["uscc"] == "*"}
    barred = {}  # USCC -> inspectors who may not go there
    for inspector in record["inspector_pool"]:
        for uscc in inspector["conflicts"]:
            barred.setdefault(uscc, set()).add(inspector["certificates"][0])
    for e in late:
        if e["uscc"] != "*":
            barred.setdefault(e["uscc"], set()).add(e["inspector"])
    keys = [i["certificates"][0] for i in record["inspector_pool"] if i["certificates"][0] not in everywhere]
    per_task = record["inspectors_per_task"]
    result = []
    for uscc, grade in drawn:
        eligible = [key for key in keys if key not in barred.get(uscc, ())]
        if len(eligible) < per_task:
            raise Shortage("企业" + uscc + "可抽取的执法人员不足" + str(per_task) + "人")
        inspectors = first_k_of_shuffle(eligible, per_task, stream)
        result.append({"uscc": uscc, "risk_grade": grade, "inspectors": inspectors})
    return result


def describe(entry):
    return (
        entry["uscc"] + "（" + entry["risk_grade"] + "级，执法人员 " + "、".join(entry["inspectors"]) + "）"
    )


def task_problems(record):
    """The published tasks must be exactly one per drawn enterprise, each with the drawn inspectors
    (compared as sets of certificate keys); every departure, in Chinese."""
    if "tasks" not in record:
        if record.get("format") != "jianchama-random-draw":
            return []  # a bare algorithm record (as in docs/random-draw.md) has no tasks to check
        return ["公开记录缺少任务清单（tasks）：无法核对抽中企业是否各有一个任务"]
    drawn = {entry["uscc"]: entry for entry in record["result"]}
    problems = []
    seen = {}
    for task in record["tasks"]:
        uscc = task.get("uscc", "")
        seen[uscc] = seen.get(uscc, 0) + 1
        if uscc not in drawn:
            problems.append("任务" + str(task.get("task", "")) + "所检查的企业" + uscc + "不是本次抽中的企业")
            continue
        want = sorted(drawn[uscc]["inspectors"])
        got = sorted(task.get("inspectors", []))
        if got != want:
            problems.append(
                "企业"
                + uscc
                + "的任务"
                + str(task.get("task", ""))
                + "执法人员为 "
                + ("、".join(got) or "（无）")
                + "，抽中的是 "
                + "、".join(want)
            )
    for uscc in drawn:
        if seen.get(uscc, 0) == 0:
            problems.append("抽中企业" + uscc + "没有任务")
        elif seen[uscc] > 1:
            problems.append("抽中企业" + uscc + "有" + str(seen[uscc]) + "个任务，应只有一个")
    return problems


def verify(record, expect=None):
    """Every mismatch, in Chinese; an empty list means the draw checks out."""
    expect = expect or {}
    problems = []
    if record.get("algorithm") != ALGORITHM:
        return ["不支持的算法：" + str(record.get("algorithm")) + "（本脚本核验 " + ALGORITHM + "）"]
    usccs = [uscc for uscc, _grade in record["pool"]]
    if usccs != sorted(set(usccs)):
        problems.append("企业库未按统一社会信用代码升序排列，或有重复")
    keys = [i["certificates"][0] for i in record["inspector_pool"]]
    if keys != sorted(set(keys)):
        problems.append("执法人员库未按执法证号升序排列，或有重复")
    pool_hash = sha256(pool_bytes(record["pool"]))
    if pool_hash != record["pool_hash"]:
        problems.append(
            "企业库快照散列不符：按所附企业库计算为 " + pool_hash + "，公布的是 " + record["pool_hash"]
        )
    inspector_hash = sha256(inspector_pool_bytes(record["inspector_pool"]))
    if inspector_hash != record["inspector_pool_hash"]:
        problems.append(
            "执法人员库快照散列不符：按所附执法人员库计算为 "
            + inspector_hash
            + "，公布的是 "
            + record["inspector_pool_hash"]
        )
    for field, label in (
        ("pool_hash", "企业库快照散列"),
        ("inspector_pool_hash", "执法人员库快照散列"),
        ("seed_commitment", "随机种子承诺值"),
    ):
        if expect.get(field) and expect[field].lower() != record[field]:
            problems.append(
                label + "与抽取前公布的不同：抽取前为 " + expect[field] + "，现为 " + record[field]
            )
    if "seed" in record:
        try:
            seed_ok = sha256(bytes.fromhex(record["seed"])) == record["seed_commitment"]
        except ValueError:
            seed_ok = False
        if not seed_ok or len(record["seed"]) != 64:
            problems.append("随机种子与承诺值不符：SHA-256(种子) 不等于抽取前公布的承诺值")
    if "result" in record and not problems:
        try:
            expected = redraw(record)
        except Shortage as shortage:
            return ["按公布的数据无法完成抽取：" + str(shortage)]
        published = record["result"]
        if len(published) != len(expected):
            problems.append(
                "抽取结果户数不符：应为" + str(len(expected)) + "户，公布了" + str(len(published)) + "户"
            )
        for position, (want, got) in enumerate(zip(expected, published, strict=False), start=1):
            if want != got:
                problems.append(
                    "抽取结果第"
                    + str(position)
                    + "户不符：应为 "
                    + describe(want)
                    + "，公布的是 "
                    + describe(got)
                )
                break
    if "result" in record:
        problems += task_problems(record)
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description="核验检查码平台公开的双随机抽取结果")
    parser.add_argument("file", help="/draws/<id>.json 下载的文件")
    parser.add_argument("--pool-hash", help="抽取前公布的企业库快照散列")
    parser.add_argument("--inspector-pool-hash", help="抽取前公布的执法人员库快照散列")
    parser.add_argument("--commitment", help="抽取前公布的随机种子承诺值")
    args = parser.parse_args(argv)
    with open(args.file, encoding="utf-8") as handle:
        record = json.load(handle)
    expect = {
        "pool_hash": args.pool_hash,
        "inspector_pool_hash": args.inspector_pool_hash,
        "seed_commitment": args.commitment,
    }
    problems = verify(record, expect)
    if problems:
        print("核验未通过：")
        for problem in problems:
            print("- " + problem)
        return 1
    if "result" in record:
        print(
            "核验通过：企业库"
            + str(len(record["pool"]))
            + "户、执法人员"
            + str(len(record["inspector_pool"]))
            + "人的快照散列一致，随机种子与承诺值一致，按算法 "
            + ALGORITHM
            + " 重新抽取的"
            + str(len(record["result"]))
            + "户及其执法人员与公布结果相同，任务清单为每户一个任务、执法人员与抽中的相同"
        )
    elif "seed" in record:
        print("核验通过：快照散列一致，随机种子与承诺值一致（本次抽取已撤销，没有抽取结果）")
    else:
        print("核验通过：快照散列一致；随机种子尚未公布，抽取后请再次核验")
    return 0


if __name__ == "__main__":
    sys.exit(main())
