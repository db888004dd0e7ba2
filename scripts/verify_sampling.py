#!/usr/bin/env python3
"""Verify a published quarterly sampling of enforcement bodies (季度抽查) of the inspection code platform, with
nothing but Python 3.

    python3 verify_sampling.py sampling-3.json [--pool-hash HEX] [--commitment HEX]

Reads the JSON served at /supervision/sampling/<id>.json, recomputes the body pool's hash, checks the number
drawn against the ratio, the seed against its commitment, re-runs algorithm jcm-sampling-v1
(docs/sampling.md), then prints 「核验通过」 and exits 0, or names every mismatch and exits 1. The options
compare with values you noted before the draw (the hash and the commitment published with it), which is
what catches a record rewritten as a whole afterwards.

Standard library only, and independent of the platform's code on purpose: it is a second implementation of
the documented algorithm.
"""

import argparse
import hashlib
import json
import struct
import sys
from fractions import Fraction

ALGORITHM = "jcm-sampling-v1"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def pool_bytes(pool):
    return "".join(code + "\t" + name + "\n" for code, name in pool).encode("utf-8")


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


def expected_count(pool_size, ratio):
    """max(1, ceil(ratio x pool size)); exact, from the decimal text."""
    if pool_size == 0:
        return 0
    product = Fraction(ratio) * pool_size
    return max(1, -(-product.numerator // product.denominator))


def redraw(record):
    lines = [
        ALGORITHM,
        record["seed"],
        record["pool_hash"],
        record["region"]["code"],
        str(record["year"]) + "-Q" + str(record["quarter"]),
        record["committed_at"],
    ]
    stream = Stream(hashlib.sha256(("\n".join(lines) + "\n").encode("utf-8")).digest())
    return first_k_of_shuffle([code for code, _name in record["pool"]], record["body_count"], stream)


def verify(record, expect=None):
    """Every mismatch, in Chinese; an empty list means the sampling checks out."""
    expect = expect or {}
    problems = []
    if record.get("algorithm") != ALGORITHM:
        return ["不支持的算法：" + str(record.get("algorithm")) + "（本脚本核验 " + ALGORITHM + "）"]
    codes = [code for code, _name in record["pool"]]
    if codes != sorted(set(codes)):
        problems.append("执法单位库未按单位编码升序排列，或有重复")
    pool_hash = sha256(pool_bytes(record["pool"]))
    if pool_hash != record["pool_hash"]:
        problems.append(
            "执法单位库快照散列不符：按所附单位库计算为 " + pool_hash + "，公布的是 " + record["pool_hash"]
        )
    try:
        ratio_ok = Fraction(record["ratio"]) >= Fraction(1, 10) and Fraction(record["ratio"]) <= 1
    except (ValueError, ZeroDivisionError):
        ratio_ok = False
    if not ratio_ok:
        problems.append("抽查比例" + str(record["ratio"]) + "不在10%至100%之间")
    elif expected_count(len(codes), record["ratio"]) != record["body_count"]:
        problems.append(
            "抽取单位数不符：单位库"
            + str(len(codes))
            + "家、比例"
            + record["ratio"]
            + "应抽取"
            + str(expected_count(len(codes), record["ratio"]))
            + "家，公布的是"
            + str(record["body_count"])
            + "家"
        )
    for field, label in (("pool_hash", "执法单位库快照散列"), ("seed_commitment", "随机种子承诺值")):
        if expect.get(field) and expect[field].lower() != record[field]:
            problems.append(
                label + "与抽取前公布的不同：抽取前为 " + expect[field] + "，现为 " + record[field]
            )
    if "seed" in record:
        try:
            seed_ok = (
                len(record["seed"]) == 64
                and sha256(bytes.fromhex(record["seed"])) == record["seed_commitment"]
            )
        except ValueError:
            seed_ok = False
        if not seed_ok:
            problems.append("随机种子与承诺值不符：SHA-256(种子) 不等于抽取前公布的承诺值")
    if "result" in record and not problems:
        expected = redraw(record)
        published = record["result"]
        if published != expected:
            problems.append(
                "抽取结果不符：按公布的数据重新抽取应为 "
                + "、".join(expected)
                + "，公布的是 "
                + "、".join(published)
            )
    if "result" in record:
        problems += review_problems(record)
    return problems


METHODS = ("document_review", "onsite_observation", "case_file_review")


def review_problems(record):
    """The drawn bodies and the reviews against the result: `bodies` lists exactly the result, in order;
    each review is of a drawn body, by one of the three methods, at most once per body and method."""
    problems = []
    if "reviews" not in record or "bodies" not in record:
        if "format" in record:
            problems.append("公开记录缺少抽中单位或评查清单（bodies、reviews）")
        return problems
    result = record["result"]
    if [body.get("code") for body in record["bodies"]] != result:
        problems.append("公布的抽中单位与抽取结果不一致")
    drawn, seen = set(result), set()
    for review in record["reviews"]:
        code, method = review.get("code"), review.get("method")
        if code not in drawn:
            problems.append("评查记录中的单位" + str(code) + "不在抽取结果中")
        if method not in METHODS:
            problems.append("单位" + str(code) + "的评查方式「" + str(method) + "」不是三种抽查方式之一")
        if (code, method) in seen:
            problems.append("单位" + str(code) + "以同一方式评查了两次")
        seen.add((code, method))
    return problems


def reviewed_text(record):
    if "reviews" not in record:
        return ""
    codes = {review["code"] for review in record["reviews"]}
    return (
        "；评查记录"
        + str(len(record["reviews"]))
        + "条，均为抽中单位，已评查"
        + str(len(codes))
        + "/"
        + str(len(record["result"]))
        + "家"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description="核验检查码平台公开的执法单位季度抽查结果")
    parser.add_argument("file", help="/supervision/sampling/<id>.json 下载的文件")
    parser.add_argument("--pool-hash", help="抽取前公布的执法单位库快照散列")
    parser.add_argument("--commitment", help="抽取前公布的随机种子承诺值")
    args = parser.parse_args(argv)
    with open(args.file, encoding="utf-8") as handle:
        record = json.load(handle)
    problems = verify(record, {"pool_hash": args.pool_hash, "seed_commitment": args.commitment})
    if problems:
        print("核验未通过：")
        for problem in problems:
            print("- " + problem)
        return 1
    if "result" in record:
        print(
            "核验通过：执法单位库"
            + str(len(record["pool"]))
            + "家的快照散列一致，随机种子与承诺值一致，按算法 "
            + ALGORITHM
            + " 重新抽取的"
            + str(len(record["result"]))
            + "家执法单位与公布结果相同"
            + reviewed_text(record)
        )
    elif "seed" in record:
        print("核验通过：快照散列一致，随机种子与承诺值一致（本次抽查已撤销，没有抽取结果）")
    else:
        print("核验通过：快照散列一致；随机种子尚未公布，抽取后请再次核验")
    return 0


if __name__ == "__main__":
    sys.exit(main())
