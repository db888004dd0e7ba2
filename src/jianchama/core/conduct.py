"""The "five prohibitions" (五个严禁) and the "eight don'ts" (八个不得) of enterprise inspections: one source of
truth for the complaint categories, the on-site observation score sheet (明察暗访) and the scan page.

Seed 003 二（一）4 requires supervising, by on-site observation and random sampling, that inspections keep the
五个严禁 and 八个不得, but does not spell them out. They come from 《国务院办公厅关于严格规范涉企行政检查的意见》
(国办发〔2024〕54号, 2024-12-31, published 2025-01-03), part 七 "规范行政检查行为，防止逐利检查、任性检查".

Source of the wording below — NOT checked against the official text: the text of 国办发〔2024〕54号 itself
(gov.cn) was not reachable from where this was written. The wording is that of the opinion as quoted by the
news report of 中央社 (Taipei, 2025-01-04, "中國規範對企業行政檢查 嚴禁任性處罰", citing 证券时报 of
2025-01-03), converted to simplified characters; it is consistent with 新华社's and the State Council press
briefing's summaries (2025-01-07: "五个严禁""八个不得"; 严禁以观摩、督导等名义变相检查). Each 严禁 is
followed by the 不得 that spell it out: four for the first, one for each of the other four — eight in all.
Check against the official text before relying on it in a legal act.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EIGHT_DONTS",
    "FIVE_PROHIBITIONS",
    "SOURCE",
    "Rule",
    "observation_score_items",
]

SOURCE = "《国务院办公厅关于严格规范涉企行政检查的意见》（国办发〔2024〕54号）"


@dataclass(frozen=True)
class Rule:
    code: str  # the stored value (complaint category); never change a published one
    text: str  # the wording
    short: str  # a short label, where the full wording does not fit
    prohibition: str = ""  # for a 不得: the code of the 严禁 it spells out


FIVE_PROHIBITIONS: tuple[Rule, ...] = (
    Rule("profit_seeking", "严禁逐利检查", "逐利检查"),
    Rule("disturbing_business", "严禁干扰企业正常生产经营", "干扰企业正常生产经营"),
    Rule("arbitrary_penalty", "严禁任性处罚企业", "任性处罚企业"),
    Rule("inspection_quota", "严禁下达检查指标", "下达检查指标"),
    Rule("disguised_inspection", "严禁变相检查", "变相检查"),
)

EIGHT_DONTS: tuple[Rule, ...] = (
    Rule(
        "dont_gifts",
        "不得接受被检查企业的任何馈赠、报酬、福利待遇",
        "接受企业馈赠、报酬、福利待遇",
        "profit_seeking",
    ),
    Rule(
        "dont_hospitality",
        "不得参加被检查企业提供的宴请、娱乐、旅游等活动",
        "参加企业宴请、娱乐、旅游",
        "profit_seeking",
    ),
    Rule(
        "dont_shift_costs",
        "不得由被检查企业支付消费开支或者将检查费用转嫁给企业",
        "由企业支付开支或转嫁检查费用",
        "profit_seeking",
    ),
    Rule(
        "dont_force_agency",
        "不得强制企业接受指定的中介机构提供服务",
        "强制企业接受指定中介服务",
        "profit_seeking",
    ),
    Rule(
        "dont_summon_legal_rep", "不得刻意要求法定代表人到场", "刻意要求法定代表人到场", "disturbing_business"
    ),
    Rule(
        "dont_seize",
        "不得乱查封、乱扣押、乱冻结、动辄责令停产停业",
        "乱查封、扣押、冻结，动辄责令停产停业",
        "arbitrary_penalty",
    ),
    Rule(
        "dont_link_quota",
        "不得将考核考评、预算项目绩效与检查频率、罚款数额挂钩",
        "考核、绩效与检查频率、罚款数额挂钩",
        "inspection_quota",
    ),
    Rule(
        "dont_disguise",
        "不得以观摩、督导、考察等名义行检查之实",
        "以观摩、督导、考察等名义检查",
        "disguised_inspection",
    ),
)


def grouped() -> list[tuple[Rule, list[Rule]]]:
    """Each 严禁 with the 不得 that spell it out, in the opinion's order."""
    return [(p, [d for d in EIGHT_DONTS if d.prohibition == p.code]) for p in FIVE_PROHIBITIONS]


def observation_score_items() -> list[dict[str, object]]:
    """The items of an on-site observation (明察暗访) score sheet: one per 严禁 (12 points) and one per 不得
    (5 points), 100 in all."""
    return [{"name": r.text, "max": 12} for r in FIVE_PROHIBITIONS] + [
        {"name": r.text, "max": 5} for r in EIGHT_DONTS
    ]
