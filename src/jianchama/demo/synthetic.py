"""Synthetic data at scale for benchmarks and load tests (`manage.py generate_synthetic`).

It writes a region tree (the city, two districts, five towns or streets each), eight fields with three items
each, enforcement bodies at city, district and town level (the items of their fields, eight inspectors each
with a certificate covering those fields, an administrator and an inspector login), then N enterprises with
valid USCCs spread round-robin over the towns, and M inspections over the last Y years: tasks in the
statuses a live system holds (mostly closed or result recorded, some submitted, approved, notified or in
progress, a few cancelled), each led by a body that works in the enterprise's district, with its bodies
(about one in eight joint), items, inspectors, its code once the enterprise was told, and a record with an
outcome once inspected. A tenth of the enterprises (risk grade C and D) receive a fifth of the inspections.
Optionally D draft tasks in the coming month, the candidates a frequency check or a submission would see.

PostgreSQL gets set-based SQL (INSERT … SELECT from generate_series, pseudo-random numbers from
hashint8extended(id, seed)) in one transaction: all or nothing. Big loads drop the tables' secondary indexes
and build them again afterwards, checked to be identical. SQLite gets rows made in Python and inserted in
batches with executemany: small sizes only (tens of thousands of inspections). Both are deterministic for a
seed, but each its own way: the two do not produce the same rows.

The writes bypass the services on purpose, as the benchmarks' loaders do: no audit events, no notifications,
no frequency checks. Plans, evaluations, scans, complaints and findings are not generated, unless
`supervision=True` (PostgreSQL only, for the data rules' benchmark): then each body has a filed and published
plan per year and planned method that its planned tasks cite (their windows kept within the plan's year), most
on-site visits have a genuine scan of their code, a tenth of the recorded visits an evaluation, one visit in
two thousand a complaint, and a few records in a thousand break one data rule each (no plan, no evidence, no
code, never scanned, a poor evaluation, a late record, an unjustified frequency breach, an emergency never
approved, an overdue complaint, an expired certificate, plans not filed or not announced): each rule has hits,
none has millions. Every enterprise has a registered position near its district's centre, and a fifth of the
on-site visits were done with the field app (F-44): the code shown and the check-in at the door, some without
the position allowed, a few planted with the code shown and no position though allowed, or the check-in 5.5 km
away (and decoys as far with a useless accuracy, which the rule must leave alone).
"""

from __future__ import annotations

import datetime
import random
import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.functions import Substr
from django.utils import timezone

from jianchama.core.errors import DomainError
from jianchama.core.models import User
from jianchama.core.roles import Role
from jianchama.registry import uscc as uscc_rules
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    Field,
    InspectionItem,
    Inspector,
    Region,
)

Log = Callable[[str], None]

# --- What the data looks like ------------------------------------------------------------------------------

CITY = ("310000", "上海市")
DISTRICTS = [
    (
        "310116",
        "金山区",
        [
            ("310116101", "朱泾镇"),
            ("310116102", "枫泾镇"),
            ("310116103", "张堰镇"),
            ("310116104", "亭林镇"),
            ("310116105", "吕巷镇"),
        ],
    ),
    (
        "310117",
        "松江区",
        [
            ("310117001", "岳阳街道"),
            ("310117103", "车墩镇"),
            ("310117106", "九亭镇"),
            ("310117101", "泗泾镇"),
            ("310117104", "新桥镇"),
        ],
    ),
]
# Where each district's enterprises are, about (its government's seat): synthetic positions spread around it.
DISTRICT_CENTRES = [(30.741700, 121.341600), (31.032400, 121.227700)]
# code suffix, name, legal basis, three items
FIELDS = [
    (
        "gas",
        "燃气管理",
        "《城镇燃气管理条例》",
        ["燃气经营许可条件的保持情况", "燃气设施安全间距与标识", "瓶装燃气充装与配送管理"],
    ),
    (
        "safety",
        "安全生产",
        "《中华人民共和国安全生产法》",
        ["安全生产责任制落实情况", "重大危险源管理", "从业人员安全培训"],
    ),
    (
        "transport",
        "道路运输",
        "《中华人民共和国道路运输条例》",
        ["道路运输经营许可", "车辆技术管理", "危险货物运输管理"],
    ),
    (
        "environment",
        "生态环境",
        "《中华人民共和国环境保护法》",
        ["排污许可执行情况", "污染防治设施运行", "危险废物贮存与转移"],
    ),
    (
        "market",
        "市场监管",
        "《中华人民共和国产品质量法》",
        ["产品质量标识", "计量器具检定", "特种设备使用登记"],
    ),
    (
        "health",
        "卫生健康",
        "《公共场所卫生管理条例》",
        ["卫生许可证持有情况", "从业人员健康证明", "空气质量与通风"],
    ),
    (
        "fire",
        "消防安全",
        "《中华人民共和国消防法》",
        ["消防设施器材维护", "疏散通道与安全出口", "消防安全责任人履职"],
    ),
    ("culture", "文化旅游", "《娱乐场所管理条例》", ["经营许可与备案", "未成年人保护措施", "安全管理制度"]),
]
INDUSTRIES = [
    ("燃气生产和供应业", "燃气"),
    ("危险化学品经营", "化工"),
    ("道路货物运输", "物流"),
    ("化学原料和化学制品制造业", "化学"),
    ("餐饮业", "餐饮"),
    ("住宿业", "酒店"),
    ("娱乐业", "娱乐"),
    ("金属制品业", "五金"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
]
INSPECTORS_PER_BODY = 8
# The USCC of a synthetic enterprise: 91, its district's code, "JC", a 7-digit sequence, the check character.
USCC_MARK = "JC"
MAX_SEQUENCE = 9_999_999

# Shares in thousandths. Kinds: no triggered inspections (they need a trigger situation).
KINDS = [
    ("random", 350),
    ("routine", 200),
    ("special", 150),
    ("other_planned", 50),
    ("complaint", 100),
    ("report", 50),
    ("assigned", 100),
]
FUTURE_STATUSES = [("submitted", 300), ("approved", 300), ("notified", 400)]  # window not yet begun
RECENT_STATUSES = [("notified", 250), ("in_progress", 250), ("result_recorded", 500)]  # last 15 days
PAST_STATUSES = [("cancelled", 40), ("result_recorded", 60), ("closed", 900)]
OUTCOMES = [("no_problem", 600), ("rectify", 280), ("case_opened", 80), ("referred", 40)]
HOT_SHARE = 200  # of the inspections go to the first tenth of the enterprises (grades D and C)
FUTURE_SHARE = 20  # of the inspections have windows in the next 60 days
JOINT_SHARE = 120  # of the tasks are joint inspections
REMOTE_SHARE = 100  # of the tasks are remote checks
RECENT_DAYS = 15
LONGEST_WINDOW = 15  # days; a window is 1 to 15 days long
DRAFT_DAYS = 30  # drafts start within this many days

REASONS = {
    "complaint": "12345热线投诉反映该企业存在安全隐患，经初步核实需现场检查",
    "report": "群众来信举报该企业违规经营，需现场核查",
    "assigned": "上级部门交办：开展专项督查",
}
SUMMARIES = {
    "no_problem": "现场检查各项内容均符合要求，未发现问题。",
    "rectify": "发现部分检查内容不符合要求，已当场告知并责令限期整改。",
    "case_opened": "发现涉嫌违法行为，已固定证据并立案查处。",
    "referred": "发现的问题不属本单位职权范围，已移送有关部门处理。",
}
INSPECTED = ("in_progress", "result_recorded", "closed")
RECORDED = ("result_recorded", "closed")
TOLD = ("notified", "in_progress", "result_recorded", "closed")  # the enterprise was told: a code exists
APPROVED = ("approved", "notified", "in_progress", "result_recorded", "closed", "cancelled")


def _thresholds(table: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    assert sum(share for _, share in table) == 1000, table
    return [name for name, _ in table], list(accumulate(share for _, share in table))


def pick(table: list[tuple[str, int]], x: int) -> str:
    """The entry of a table of shares (thousandths) that x in [0, 1000) falls in."""
    names, limits = _thresholds(table)
    return names[bisect_right(limits, x)]


def case_sql(table: list[tuple[str, int]], x: str) -> str:
    """The same choice as `pick`, as a SQL CASE on the expression x."""
    names, limits = _thresholds(table)
    whens = " ".join(f"when {x} < {limit} then '{name}'" for name, limit in zip(names, limits, strict=True))
    return f"(case {whens} end)"


def synthetic_uscc(district_code: str, sequence: int) -> str:
    first17 = f"91{district_code}{USCC_MARK}{sequence:07d}"
    return first17 + uscc_rules.check_character(first17)


# --- Reference data: regions, fields, bodies, items, inspectors, users (the ORM: a few hundred rows) ------


@dataclass
class Body:
    pk: int
    index: int
    level: str
    district: int | None  # None: a city body, which works in every district
    fields: list[int]
    legal_basis: str
    admin: int
    inspector_user: int | None = None  # the body's inspector login (syn-NNN-1): the field app's acts are his
    items: list[int] = field(default_factory=list)
    inspectors: list[int] = field(default_factory=list)


@dataclass
class Reference:
    city: Region
    districts: list[Region]
    towns: list[Region]
    town_district: list[int]  # district index of each town
    bodies: list[Body]
    created: dict[str, int]

    def serving(self, district: int) -> list[int]:
        """Indexes of the bodies that work in a district: the city's, and the district's and its towns'."""
        return [b.index for b in self.bodies if b.district is None or b.district == district]


CREATED_LABELS = {
    "regions": "区域",
    "fields": "执法领域",
    "bodies": "执法单位",
    "items": "检查事项",
    "inspectors": "执法人员",
    "users": "账号",
}
TABLE_LABELS = {
    **CREATED_LABELS,
    "enterprises": "企业",
    "tasks": "检查任务",
    "drafts": "草稿任务",
    "task bodies": "参与执法单位",
    "task body items": "执法单位检查事项",
    "task items": "任务检查事项",
    "task inspectors": "任务执法人员",
    "records": "检查记录",
    "codes": "检查码",
    "plans": "检查计划",
    "scans": "扫码记录",
    "evaluations": "评议",
    "complaints": "投诉举报",
    "field acts": "现场操作（亮码、签到）",
}


def _user(username: str, role: str, full_name: str, **extra: Any) -> User:
    """A login without a password (synthetic accounts are for impersonation in tests, not for signing in)."""
    user = User(username=username, role=role, full_name=full_name, **extra)
    user.set_unusable_password()
    user.save()
    return user


def _layout(count: int) -> list[tuple[str, int]]:
    """Each body's level and a number to place it by: a tenth city bodies, a fifth town bodies, the rest
    district bodies (alternating between the districts)."""
    city = max(1, count // 10)
    town = max(1, count // 5)
    return (
        [("city", n) for n in range(city)]
        + [("town", n) for n in range(town)]
        + [("district", n) for n in range(count - city - town)]
    )


def reference(bodies: int, years: int, today: datetime.date, log: Log) -> Reference:
    """Create what is missing (everything on a first run; nothing on an --append with the same --bodies)."""
    created = {"regions": 0, "fields": 0, "bodies": 0, "items": 0, "inspectors": 0, "users": 0}

    def get_or_create(model, counter: str, lookup: dict, defaults: dict):
        obj, new = model.objects.get_or_create(**lookup, defaults=defaults)
        created[counter] += new
        return obj

    city = get_or_create(Region, "regions", {"code": CITY[0]}, {"name": CITY[1], "level": Region.Level.CITY})
    districts, towns, town_district = [], [], []
    for d, (code, name, district_towns) in enumerate(DISTRICTS):
        district = get_or_create(
            Region, "regions", {"code": code}, {"name": name, "level": Region.Level.DISTRICT, "parent": city}
        )
        districts.append(district)
        for town_code, town_name in district_towns:
            towns.append(
                get_or_create(
                    Region,
                    "regions",
                    {"code": town_code},
                    {"name": town_name, "level": Region.Level.TOWN, "parent": district},
                )
            )
            town_district.append(d)
    fields = [
        get_or_create(Field, "fields", {"code": f"SYN-{code}"}, {"name": f"{name}（合成数据）"})
        for code, name, _basis, _items in FIELDS
    ]
    items_of_field = []
    for f, (code, _name, basis, names) in enumerate(FIELDS):
        items_of_field.append(
            [
                get_or_create(
                    InspectionItem,
                    "items",
                    {"code": f"SYN-{code}-{k + 1}"},
                    {
                        "name": item_name,
                        "field": fields[f],
                        "legal_basis": f"{basis}",
                        "checklist": [f"{item_name}：相关证照与台账", f"{item_name}：现场情况"],
                        "is_published": True,
                    },
                )
                for k, item_name in enumerate(names)
            ]
        )
    if not User.objects.filter(username="syn-platform-admin").exists():
        _user("syn-platform-admin", Role.PLATFORM_ADMIN, "合成数据平台管理员")
        created["users"] += 1
    rng = random.Random("synthetic-reference")
    valid_from = today - datetime.timedelta(days=365 * (years + 1))
    valid_until = today + datetime.timedelta(days=365 * 3)
    result: list[Body] = []
    city_by_field: dict[int, EnforcementBody] = {}
    for index, (level, n) in enumerate(_layout(bodies)):
        number = index + 1
        code = f"SYN-B{number:03d}"
        if level == "city":
            f_ids = [n % len(FIELDS)]
            region, district = city, None
            name = f"上海市{FIELDS[f_ids[0]][1]}执法总队（合成{number:03d}）"
        elif level == "town":
            town = n % len(towns)
            f_ids = sorted({(n + k) % len(FIELDS) for k in range(3)})
            region, district = towns[town], town_district[town]
            name = f"{region.name}综合行政执法队（合成{number:03d}）"
        else:
            district = n % len(districts)
            f_ids = [n // len(districts) % len(FIELDS)]
            region = districts[district]
            name = f"{region.name}{FIELDS[f_ids[0]][1]}执法大队（合成{number:03d}）"
        body = EnforcementBody.objects.filter(code=code).first()
        if body is None:
            body = EnforcementBody.objects.create(
                code=code,
                name=name,
                body_type=EnforcementBody.Type.ORGAN,
                level=level,
                region=region,
                city_counterpart=city_by_field.get(f_ids[0]) if level == "district" else None,
                head_name=f"{SURNAMES[number % len(SURNAMES)]}负责人",
                phone=f"021-5{number:07d}",
            )
            created["bodies"] += 1
            body.fields.set([fields[f] for f in f_ids])
            for f in f_ids:
                for item in items_of_field[f]:
                    item.bodies.add(body)
            for k in range(INSPECTORS_PER_BODY):
                inspector = Inspector.objects.create(
                    name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN]),
                    body=body,
                    employee_number=f"{number:03d}{k + 1:02d}",
                    phone=f"139{number:04d}{k + 1:04d}",
                )
                certificate = Certificate.objects.create(
                    number=f"SYN{number:03d}{k + 1:02d}",
                    inspector=inspector,
                    valid_from=valid_from,
                    valid_until=valid_until,
                )
                certificate.fields.set([fields[f] for f in f_ids])
                created["inspectors"] += 1
            first = body.inspectors.order_by("pk").first()
            for username, role, inspector in (
                (f"syn-{number:03d}-admin", Role.BODY_ADMIN, None),
                (f"syn-{number:03d}-1", Role.INSPECTOR, first),
            ):
                user = _user(username, role, f"{body.name}{role.label}", body=body)
                created["users"] += 1
                if inspector is not None:
                    inspector.user = user
                    inspector.save(update_fields=["user"])
        if level == "city":
            city_by_field.setdefault(f_ids[0], body)
        admin = User.objects.filter(username=f"syn-{number:03d}-admin").values_list("pk", flat=True).first()
        if admin is None:
            raise DomainError(
                f"执法单位{body.code}缺少合成数据的管理员账号 syn-{number:03d}-admin，请换一个空数据库重新生成"
            )
        entry = Body(
            pk=body.pk,
            index=index,
            level=level,
            district=district,
            fields=[fields[f].pk for f in f_ids],
            legal_basis="；".join(FIELDS[f][2] for f in f_ids),
            admin=admin,
            inspector_user=User.objects.filter(username=f"syn-{number:03d}-1")
            .values_list("pk", flat=True)
            .first(),
            items=[item.pk for f in f_ids for item in items_of_field[f]],
            inspectors=list(body.inspectors.order_by("pk").values_list("pk", flat=True)),
        )
        if len(entry.inspectors) < 2:
            raise DomainError(f"执法单位{body.code}的执法人员少于2人，不能生成检查任务")
        result.append(entry)
    new = "，".join(f"{CREATED_LABELS[label]} {n}" for label, n in created.items() if n)
    log(f"  基础数据：{len(result)} 个执法单位，{len(towns)} 个街镇（新建：{new or '无'}）")
    return Reference(city, districts, towns, town_district, result, created)


# --- The plan of a run ------------------------------------------------------------------------------------


@dataclass
class Run:
    enterprises: int
    inspections: int
    drafts: int
    seed: int
    years: int
    codes: bool
    today: datetime.date
    supervision: bool
    e0: int  # enterprise ids are e0 + 1 … e0 + enterprises
    s0: int  # USCC sequence numbers are s0 + 1 …
    t0: int  # task ids are t0 + 1 … t0 + inspections + drafts (the drafts last)
    tb0: int  # a task's lead body row is tb0 + (task - t0), a joint body's tb0 + tasks + (task - t0)

    @property
    def tasks(self) -> int:
        return self.inspections + self.drafts

    @property
    def hot(self) -> int:
        return max(1, self.enterprises // 10)

    def grade(self, j: int, x: int) -> str:
        if j < max(1, self.enterprises // 20):
            return "D"
        if j < self.hot:
            return "C"
        return "A" if x < 300 else "B"


def _offsets(enterprises: int) -> tuple[int, int, int, int]:
    def largest(model) -> int:
        return model.objects.aggregate(m=models.Max("pk"))["m"] or 0

    from jianchama.inspections.models import Task, TaskBody

    largest_sequence = Enterprise.objects.filter(
        uscc__regex=rf"^91[0-9]{{6}}{USCC_MARK}[0-9]{{7}}.$"
    ).aggregate(m=models.Max(Substr("uscc", 11, 7)))["m"]
    s0 = int(largest_sequence or 0)
    if s0 + enterprises > MAX_SEQUENCE:
        raise DomainError(
            f"合成企业的统一社会信用代码序号最多{MAX_SEQUENCE:,}个，已用{s0:,}个，不能再生成{enterprises:,}家"
        )
    return largest(Enterprise), s0, largest(Task), largest(TaskBody)


def generate(
    *,
    enterprises: int,
    inspections: int,
    bodies: int = 40,
    seed: int = 1,
    years: int = 3,
    drafts: int = 0,
    codes: bool = True,
    append: bool = False,
    rebuild_indexes: bool | None = None,
    batch: int = 1_000_000,
    supervision: bool = False,
    log: Log = print,
) -> dict[str, int]:
    """Write the synthetic data into the current database; returns the rows written by table. Refuses a
    database that already has enterprises unless `append`. `rebuild_indexes` (PostgreSQL): drop the tables'
    secondary indexes for the load and build them again (default: when loading a million inspections or
    more)."""
    if enterprises < 0 or inspections < 0 or drafts < 0 or bodies < 4 or years < 1 or batch < 1:
        raise DomainError("企业数、检查数和草稿数不能为负数，执法单位至少4个，年数至少1年")
    if (inspections or drafts) and not enterprises:
        raise DomainError("检查任务分配给本次生成的企业：请同时用 --enterprises 指定企业数")
    existing = Enterprise.objects.count()
    if existing and not append:
        raise DomainError(
            f"当前数据库已有{existing:,}家企业。generate_synthetic 只向没有企业的数据库写入合成数据，"
            "以免与真实数据混在一起；确要在现有数据之后追加，请加 --append"
        )
    today = timezone.localdate()
    started = time.perf_counter()
    postgres = connection.vendor == "postgresql"
    if supervision and not postgres:
        raise DomainError("数据监督的合成数据（supervision）只在 PostgreSQL 上生成")
    if not postgres and inspections + enterprises > 200_000:
        log(f"  提示：{connection.vendor} 逐批插入，只适合小规模（几万条）；大规模数据请用 PostgreSQL")
    with transaction.atomic():
        ref = reference(bodies, years, today, log)
        e0, s0, t0, tb0 = _offsets(enterprises)
        run = Run(enterprises, inspections, drafts, seed, years, codes, today, supervision, e0, s0, t0, tb0)
        extra: dict[str, int] = {}
        if supervision:
            extra = _supervision_reference(run, ref, log)
        if postgres:
            counts = _PostgresLoad(run, ref, log).load(
                inspections >= 1_000_000 if rebuild_indexes is None else rebuild_indexes, batch
            )
        else:
            counts = _python_load(run, ref, log)
    # Written past the models' signals (set-based SQL, queryset updates): no scan card cached before may stay.
    from jianchama.inspections import scan_card

    scan_card.forget_all()
    if postgres:
        _analyze(log)
    log(f"  共用时 {time.perf_counter() - started:.1f} 秒")
    return {**{k: v for k, v in ref.created.items() if v}, **extra, **counts}


LOADED_TABLES = [
    "inspections_fieldact",
    "registry_enterprise",
    "inspections_task",
    "inspections_taskbody",
    "inspections_taskbody_items",
    "inspections_task_items",
    "inspections_task_inspectors",
    "inspections_inspectionrecord",
    "inspections_inspectioncode",
    "inspections_scan",
    "inspections_evaluation",
    "complaints_complaint",
]


def _analyze(log: Log) -> None:
    """Fresh statistics for the planner; outside a transaction also VACUUM (visibility map and hint bits, so
    that the first reads do not write)."""
    started = time.perf_counter()
    verb = "analyze" if connection.in_atomic_block else "vacuum (analyze)"
    with connection.cursor() as cursor:
        for table in LOADED_TABLES:
            cursor.execute(f"{verb} {connection.ops.quote_name(table)}")
    log(f"  {verb.upper()} 用时 {time.perf_counter() - started:.1f} 秒")


# --- Supervision data (supervision=True): plans, an evaluator, planted problems of the reference data -------

PLANNED_METHODS = ["random", "special", "routine", "other_planned"]
# Shares (per thousand, or per ten thousand where said) of the records that break a data rule.
NO_PLAN = 2  # planned tasks citing no plan
NO_EVIDENCE = 2  # unplanned tasks without their evidence
NO_CODE = 1  # visits without a code
NOT_SCANNED = 2  # on-site visits whose code was never scanned
EVALUATED = 100  # recorded visits the enterprise evaluated
POOR = 20  # of the evaluations, overall 2 or less
LATE_RECORD = 2  # results recorded twenty days after the visit
BREACH = 2  # per ten thousand: a frequency breach recorded without justification
EMERGENCY = 2  # visits started as emergencies, half of them never approved
ONE_INSPECTOR = 1  # on-site visits by one inspector only
COMPLAINED = 5  # per ten thousand visits: a complaint about the body, one in twenty never handled
FIELD_APP = 200  # on-site visits done with the field app (code shown and check-in acts, F-44)
# Of those, per thousand (disjoint): the position not allowed; planted: a code shown with the position
# allowed and none recorded, a check-in far from the enterprise; decoys far away with a useless accuracy.
FIELD_NOT_ALLOWED = 50
FIELD_NO_POSITION = 5
FIELD_FAR = 5
FIELD_FAR_POOR = 3
EVIDENCE_TEXT = "投诉举报记录、现场照片等线索材料"
BREACH_JSON = (
    '[{"rule": 0, "name": "同一执法单位对同一企业每年不超过2次（合成）", "scope": "per_body", '
    '"period": "year", "action": "justify", "count": 2, "limit": 2, "exempted_by": "", '
    '"message": "超出检查频次"}]'
)


def _supervision_reference(run: Run, ref: Reference, log: Log) -> dict[str, int]:
    """A filed and published plan per body, year and planned method (periods: calendar years); a few plans
    not filed or not announced; an enterprise contact who gives the evaluations; one certificate that expired
    sixty days ago (its holder's later visits break the certificate rule)."""
    from jianchama.plans.models import Plan

    first = run.today.year - run.years - 1
    last = (run.today + datetime.timedelta(days=90)).year
    years = list(range(first, last + 1))
    tz = timezone.get_default_timezone()
    existing = {
        (p.body_id, p.period_start.year, p.method): p.pk
        for p in Plan.objects.filter(number__startswith="SYN-", status=Plan.Status.PUBLISHED)
    }
    new = []
    for body in ref.bodies:
        for year in years:
            for method in PLANNED_METHODS:
                if (body.pk, year, method) in existing:
                    continue
                filed = datetime.datetime(year - 1, 12, 10, 10, tzinfo=tz)
                new.append(
                    Plan(
                        number=f"SYN-{body.pk}-{year}-{method}",
                        body_id=body.pk,
                        title=f"合成数据{year}年度{method}检查计划（执法单位{body.pk}）",
                        period_start=datetime.date(year, 1, 1),
                        period_end=datetime.date(year, 12, 31),
                        method=method,
                        expected_count=1000,
                        status=Plan.Status.PUBLISHED,
                        created_by_id=body.admin,
                        submitted_at=filed - datetime.timedelta(days=20),
                        filed_at=filed,
                        published_at=filed + datetime.timedelta(days=5),
                    )
                )
    # Planted: every tenth body has a plan of this quarter still in review and a special campaign's plan
    # filed seventy days ago and not announced.
    now = timezone.now()
    for body in ref.bodies[::10]:
        for status, method, code in (
            (Plan.Status.BUREAU_REVIEW, "routine", "R"),
            (Plan.Status.FILED, "special", "S"),
        ):
            number = f"SYNX-{body.pk}-{run.today:%Y%m}-{code}"
            if Plan.objects.filter(number=number).exists():
                continue
            new.append(
                Plan(
                    number=number,
                    body_id=body.pk,
                    title=f"合成数据待监督检查计划{code}（执法单位{body.pk}）",
                    period_start=run.today - datetime.timedelta(days=20),
                    period_end=run.today + datetime.timedelta(days=70),
                    method=method,
                    expected_count=50,
                    status=status,
                    created_by_id=body.admin,
                    submitted_at=now - datetime.timedelta(days=80),
                    filed_at=now - datetime.timedelta(days=70) if status == Plan.Status.FILED else None,
                )
            )
    Plan.objects.bulk_create(new, batch_size=1000)
    plans = {
        (p.body_id, p.period_start.year, p.method): p.pk
        for p in Plan.objects.filter(number__startswith="SYN-", status=Plan.Status.PUBLISHED)
    }
    ids = [
        plans[(body.pk, year, method)] for body in ref.bodies for year in years for method in PLANNED_METHODS
    ]
    evaluator = User.objects.filter(username="syn-evaluator").first() or _user(
        "syn-evaluator", Role.ENTERPRISE_CONTACT, "合成数据企业联系人（评议）"
    )
    # The second body's last inspector: certificate expired sixty days ago, no renewal.
    holder = ref.bodies[1].inspectors[-1]
    Certificate.objects.filter(inspector_id=holder).update(
        valid_until=run.today - datetime.timedelta(days=60), status=Certificate.Status.EXPIRED
    )
    # The third body becomes an organisation entrusted by the first, its entrustment ended thirty days ago:
    # its visits since then are outside its authority.
    entrusted = EnforcementBody.objects.get(pk=ref.bodies[2].pk)
    entrusted.body_type = EnforcementBody.Type.ENTRUSTED
    entrusted.entrusting_organ_id = ref.bodies[0].pk
    entrusted.entrustment_start = run.today - datetime.timedelta(days=365 * (run.years + 2))
    entrusted.entrustment_end = run.today - datetime.timedelta(days=30)
    entrusted.save(update_fields=["body_type", "entrusting_organ", "entrustment_start", "entrustment_end"])
    entrusted.entrusted_items.set(ref.bodies[2].items)
    ref.supervision = {
        "plan_ids": ids,
        "plan_year0": first,
        "plan_years": len(years),
        "evaluator": evaluator.pk,
    }
    log(f"  检查计划 {len(new):,} 份（每个执法单位每年每种有计划检查一份，另有待备案、待公告的）")
    return {"plans": len(new)}


# --- PostgreSQL: set-based SQL -----------------------------------------------------------------------------


def _columns(model, values: dict[str, str], params: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Columns and SQL expressions for an INSERT … SELECT: the given expressions by field name; every other
    column the field's default (auto_now_add: now()), so the loader keeps up with fields added later. The
    primary key, when not given, is left to its identity."""
    columns, expressions = [], []
    for model_field in model._meta.concrete_fields:
        if model_field.name in values:
            expression = values[model_field.name]
        elif model_field.primary_key:
            continue
        elif isinstance(model_field, models.DateField) and (model_field.auto_now or model_field.auto_now_add):
            expression = "now()"
        else:
            default = model_field.get_default()
            if default is None and not model_field.null:
                raise DomainError(
                    f"合成数据：{model.__name__}.{model_field.name} 没有取值，请在 synthetic.py 中补上"
                )
            name = f"default_{model._meta.db_table}_{model_field.column}"
            params[name] = model_field.get_db_prep_save(default, connection)
            expression = f"%({name})s"
        columns.append(connection.ops.quote_name(model_field.column))
        expressions.append(expression)
    return columns, expressions


def _insert(model, params: dict[str, Any], parts: list[tuple[dict[str, str], str]]) -> str:
    """INSERT INTO the model's table the UNION ALL of SELECT expressions FROM source, one per part."""
    selects, columns = [], None
    for values, source in parts:
        part_columns, expressions = _columns(model, values, params)
        assert columns is None or columns == part_columns
        columns = part_columns
        selects.append(f"select {', '.join(expressions)} from {source}")
    return f"insert into {model._meta.db_table} ({', '.join(columns)}) {' union all '.join(selects)}"


def _m2m(model, name: str) -> tuple[str, str, str]:
    """The table and the two columns of a many-to-many field."""
    m2m = model._meta.get_field(name)
    return m2m.m2m_db_table(), m2m.m2m_column_name(), m2m.m2m_reverse_name()


class _PostgresLoad:
    def __init__(self, run: Run, ref: Reference, log: Log):
        self.run, self.ref, self.log = run, ref, log
        self.counts: dict[str, int] = {}
        serving, offsets, lengths = [], [], []
        for d in range(len(ref.districts)):
            offsets.append(len(serving))
            serving += ref.serving(d)
            lengths.append(len(ref.serving(d)))
        items, item_offsets, item_lengths = [], [], []
        for body in ref.bodies:
            item_offsets.append(len(items))
            items += body.items
            item_lengths.append(len(body.items))
        prefix_sums = []
        for code, _name, _towns in DISTRICTS:
            head = f"91{code}{USCC_MARK}"
            prefix_sums.append(
                sum(uscc_rules.VALUES[c] * w for c, w in zip(head, uscc_rules.WEIGHTS, strict=False))
            )
        self.params: dict[str, Any] = {
            "n": run.enterprises,
            "hot": run.hot,
            "m": run.inspections,
            "e0": run.e0,
            "s0": run.s0,
            "t0": run.t0,
            "tb0": run.tb0,
            "tasks": run.tasks,
            "days": 365 * run.years,
            "today": run.today,
            "tz": settings.TIME_ZONE,
            "towns": len(ref.towns),
            "town_ids": [t.pk for t in ref.towns],
            "town_names": [t.name for t in ref.towns],
            "town_district": ref.town_district,
            "district_codes": [code for code, _name, _towns in DISTRICTS],
            "district_names": [name for _code, name, _towns in DISTRICTS],
            "prefix_sums": prefix_sums,
            "serving": serving,
            "serving_offsets": offsets,
            "serving_lengths": lengths,
            "body_ids": [b.pk for b in ref.bodies],
            "body_basis": [b.legal_basis for b in ref.bodies],
            "admins": [b.admin for b in ref.bodies],
            "inspector_users": [b.inspector_user or b.admin for b in ref.bodies],
            "district_lat": [lat for lat, _lng in DISTRICT_CENTRES],
            "district_lng": [lng for _lat, lng in DISTRICT_CENTRES],
            "items": items,
            "item_offsets": item_offsets,
            "item_lengths": item_lengths,
            "inspectors": [pk for b in ref.bodies for pk in b.inspectors[:INSPECTORS_PER_BODY]],
            "per_body": INSPECTORS_PER_BODY,
            "industries": [name for name, _short in INDUSTRIES],
            "industry_words": [short for _name, short in INDUSTRIES],
            "surnames": list(SURNAMES),
            "given": GIVEN,
            "charset": uscc_rules.CHARSET,
            # Codes' public ids: a bijection of the 48-bit space (an odd multiplier, then a xor).
            "mult": 0x5DEECE66D,
            "mask": random.Random(f"codes-{run.seed}").getrandbits(48),
            **getattr(ref, "supervision", {}),
        }
        if any(len(b.inspectors) < INSPECTORS_PER_BODY for b in ref.bodies):
            raise DomainError(
                f"合成数据的每个执法单位需要{INSPECTORS_PER_BODY}名执法人员，请换一个空数据库重新生成"
            )

    def r(self, salt: int, var: str = "t") -> str:
        """A pseudo-random integer in [0, 2^31) for the row `var`, the same for the same seed."""
        return f"(hashint8extended({var}, {self.run.seed * 100 + salt}) & 2147483647)"

    @staticmethod
    def typed(sql: str, params: dict[str, Any]) -> str:
        """Integer parameters as bigint: with server-side binding (DATABASE_SERVER_SIDE_BINDING) psycopg sends
        small ints as smallint, which e.g. generate_series cannot choose an overload for."""
        for name, value in params.items():
            if isinstance(value, int) and not isinstance(value, bool):
                sql = sql.replace(f"%({name})s", f"%({name})s::bigint")
        return sql

    def execute(self, cursor, label: str, sql: str, params: dict | None = None) -> int:
        params = params if params is not None else self.params
        cursor.execute(self.typed(sql, params), params)
        self.counts[label] = self.counts.get(label, 0) + max(cursor.rowcount, 0)
        return cursor.rowcount

    def load(self, rebuild: bool, batch: int) -> dict[str, int]:
        with connection.cursor() as cursor:
            # This transaction only: no wait for the disk at commit; no foreign-key triggers when allowed
            # (the rows are consistent by construction), else checked per statement, not queued to the end.
            cursor.execute(
                "select current_setting('is_superuser') = 'on', current_setting('session_replication_role')"
            )
            superuser, role = cursor.fetchone()
            cursor.execute("set local synchronous_commit = off")
            if superuser:
                cursor.execute("set local session_replication_role = replica")
            else:
                cursor.execute("set constraints all immediate")
                self.log("  （非超级用户：逐条检查外键，装载较慢）")
            cursor.execute("set local maintenance_work_mem = '512MB'")
            dropped = self._drop_indexes(cursor) if rebuild else None
            self._enterprises(cursor)
            self._tasks(cursor, batch)
            if dropped is not None:
                self._restore_indexes(cursor, dropped)
            for table in ("registry_enterprise", "inspections_task", "inspections_taskbody"):
                cursor.execute(
                    f"select setval(pg_get_serial_sequence('{table}', 'id'), greatest((select max(id) from {table}), 1))"
                )
            if superuser:
                cursor.execute(f"set local session_replication_role = {role}")
        return self.counts

    # ---- indexes

    def _index_definitions(self, cursor) -> list[tuple[str, str]]:
        cursor.execute(
            """select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               from pg_index i join pg_class c on c.oid = i.indrelid
               where c.relname = any(%s) and pg_table_is_visible(c.oid) order by 1""",
            [LOADED_TABLES],
        )
        return cursor.fetchall()

    def _drop_indexes(self, cursor) -> dict[str, Any]:
        """Drop the secondary indexes of the loaded tables (not primary keys, nor what a foreign key relies
        on): building an index once is much faster than inserting millions of keys in random order."""
        started = time.perf_counter()
        before = self._index_definitions(cursor)
        cursor.execute(
            """select c.relname, i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
                      con.conname, pg_get_constraintdef(con.oid)
               from pg_index i
               join pg_class c on c.oid = i.indrelid
               left join pg_constraint con on con.conindid = i.indexrelid and con.conrelid = i.indrelid
                    and con.contype in ('u', 'x')
               where c.relname = any(%s) and pg_table_is_visible(c.oid) and not i.indisprimary
                 and not exists (select 1 from pg_constraint f where f.contype = 'f' and f.conindid = i.indexrelid)
               order by 2""",
            [LOADED_TABLES],
        )
        dropped = cursor.fetchall()
        quote = connection.ops.quote_name
        for table, index, _definition, constraint, _constraint_definition in dropped:
            if constraint:
                cursor.execute(f"alter table {quote(table)} drop constraint {quote(constraint)}")
            else:
                cursor.execute(f"drop index {index}")
        self.log(
            f"  暂时删除 {len(dropped)} 个二级索引（装载后按原定义重建），用时 {time.perf_counter() - started:.1f} 秒"
        )
        return {"before": before, "dropped": dropped}

    def _restore_indexes(self, cursor, saved: dict[str, Any]) -> None:
        started = time.perf_counter()
        quote = connection.ops.quote_name
        for table, _index, definition, constraint, constraint_definition in saved["dropped"]:
            if constraint:
                cursor.execute(
                    f"alter table {quote(table)} add constraint {quote(constraint)} {constraint_definition}"
                )
            else:
                cursor.execute(definition)
        after = self._index_definitions(cursor)
        if after != saved["before"]:
            raise DomainError(
                "重建的索引与原有索引不一致，已全部回滚：" + repr(sorted(set(saved["before"]) ^ set(after)))
            )
        self.log(
            f"  重建 {len(saved['dropped'])} 个索引（与原定义一致），用时 {time.perf_counter() - started:.1f} 秒"
        )

    # ---- enterprises

    def _enterprises(self, cursor) -> None:
        if not self.run.enterprises:
            return
        started = time.perf_counter()
        digits = " + ".join(
            f"mod(e.seq / {10 ** (6 - k)}, 10) * {uscc_rules.WEIGHTS[10 + k]}" for k in range(7)
        )
        check = (
            "substr(%(charset)s, 1 + mod(31 - mod((%(prefix_sums)s::int[])[e.d + 1] + "
            f"{digits}, 31), 31)::int, 1)"
        )
        sql = _insert(
            Enterprise,
            self.params,
            [
                (
                    {
                        "id": "%(e0)s + e.j + 1",
                        "uscc": "'91' || (%(district_codes)s::text[])[e.d + 1] || "
                        f"'{USCC_MARK}' || lpad(e.seq::text, 7, '0') || {check}",
                        "name": "'上海' || (%(industry_words)s::text[])[e.ind + 1] || '合成示例' || e.seq || '号有限公司'",
                        "address": "'上海市' || (%(district_names)s::text[])[e.d + 1] || "
                        "(%(town_names)s::text[])[e.town + 1] || '示例路' || (mod(e.seq, 999) + 1) || '号'",
                        "region": "(%(town_ids)s::bigint[])[e.town + 1]",
                        "industry": "(%(industries)s::text[])[e.ind + 1]",
                        "risk_grade": "case when e.j < greatest(1, %(n)s / 20) then 'D' when e.j < %(hot)s then 'C' "
                        "when mod(e.x, 1000) < 300 then 'A' else 'B' end",
                        "legal_representative": "(%(surnames)s::text[])[mod(e.x / 1000, 20) + 1] || "
                        "(%(given)s::text[])[mod(e.x / 20000, 20) + 1]",
                        # A registered position (F-44) within about 11 km of the district's centre.
                        "latitude": "(%(district_lat)s::numeric[])[e.d + 1] + (mod(e.x2, 20001) - 10000) * 0.00001",
                        "longitude": "(%(district_lng)s::numeric[])[e.d + 1] "
                        "+ (mod(e.x2 / 20001, 20001) - 10000) * 0.00001",
                    },
                    f"""(select j, seq, x, x2, mod(x / 400000, {len(INDUSTRIES)}) as ind, town,
                               (%(town_district)s::int[])[town + 1] as d
                        from (select j, %(s0)s + j + 1 as seq, {self.r(50, "(%(s0)s + j + 1)::bigint")} as x,
                                     {self.r(52, "(%(s0)s + j + 1)::bigint")} as x2,
                                     mod(%(s0)s + j, %(towns)s) as town
                              from generate_series(0, %(n)s - 1) j) s) e""",
                )
            ],
        )
        rows = self.execute(cursor, "enterprises", sql)
        self.log(f"  企业 {rows:>12,} 家，用时 {time.perf_counter() - started:6.1f} 秒")

    # ---- tasks, in batches through a temporary table of what each task is

    def _plan_sql(self) -> str:
        r = self.r
        p = "%(per_body)s"
        status = (
            f"case when draft then 'draft' when ago < 0 then {case_sql(FUTURE_STATUSES, 'x_status')} "
            f"when ago < {RECENT_DAYS} then {case_sql(RECENT_STATUSES, 'x_status')} "
            f"else {case_sql(PAST_STATUSES, 'x_status')} end"
        )
        serving = "(%(serving)s::int[])"
        window_end = "ws + wl"
        if self.run.supervision:
            # A planned task's window stays within its plan's year (plans cover calendar years).
            planned = ", ".join(f"'{m}'" for m in PLANNED_METHODS)
            window_end = (
                f"case when kind in ({planned}) then least(ws + wl, make_date(extract(year from ws)::int, 12, 31)) "
                "else ws + wl end"
            )
        offset, length = "(%(serving_offsets)s::int[])[d + 1]", "(%(serving_lengths)s::int[])[d + 1]"
        return f"""
        insert into syn_task
        select id, ent, d, body, joint, status, kind, remote, ws, {window_end},
               (least(ws - 7, %(today)s::date - 1) + time '10:00') at time zone %(tz)s,
               case when status in {INSPECTED} then
                   (least(ws + mod(r9, wl + 1)::int, %(today)s::date) + time '09:00'
                    + mod(r9 / 16, 480) * interval '1 minute') at time zone %(tz)s end,
               case when status in {RECORDED} then {case_sql(OUTCOMES, "mod(r9 / 8192, 1000)")} end,
               mod(r8, (%(item_lengths)s::int[])[body + 1]),
               mod(r8 / 64, 2) = 0,
               case when joint is not null then mod(r8 / 128, (%(item_lengths)s::int[])[joint + 1]) end,
               mod(r10, {p}), mod(mod(r10, {p}) + 1 + mod(r10 / {p}, {p} - 1), {p}),
               mod(r10 / ({p} * {p}), {p}), mod(mod(r10 / ({p} * {p}), {p}) + 1, {p})
        from (
            select *, {status} as status,
                   {serving}[{offset} + 1 + mod(r6, {length})] as body,
                   case when mod(r7, 1000) < {JOINT_SHARE} and {length} > 1 then
                       {serving}[{offset} + 1 + mod(mod(r6, {length}) + 1 + mod(r7 / 1000, {length} - 1), {length})]
                   end as joint,
                   {case_sql(KINDS, "mod(r5, 1000)")} as kind,
                   mod(r5 / 1000, 1000) < {REMOTE_SHARE} as remote,
                   %(today)s::date - ago as ws
            from (
                select t as id, %(e0)s + 1 + j as ent, (%(town_district)s::int[])[1 + mod(%(s0)s + j, %(towns)s)] as d,
                       draft, r5, r6, r7, r8, r9, r10, mod(r11, 1000) as x_status,
                       case when draft then -(1 + mod(r3, {DRAFT_DAYS}))
                            when mod(r4, 1000) < {FUTURE_SHARE} then -(1 + mod(r3, 60))
                            else mod(r3, %(days)s) end::int as ago,
                       mod(r4 / 1000, {LONGEST_WINDOW})::int as wl
                from (
                    select t, t > %(t0)s + %(m)s as draft,
                           case when mod(r1, 1000) < {HOT_SHARE} then mod(r2, %(hot)s) else mod(r2, %(n)s) end as j,
                           r3, r4, r5, r6, r7, r8, r9, r10, r11
                    from (
                        select t, {", ".join(f"{r(k)} as r{k}" for k in range(1, 12))}
                        from generate_series(%(t0)s + %(a)s, %(t0)s + %(b)s) t
                    ) hashes
                ) picked
            ) placed
        ) planned"""

    def _task_statements(self) -> list[tuple[str, str]]:
        from jianchama.inspections.models import InspectionCode, InspectionRecord, Task, TaskBody

        params = self.params
        lead_admin = "(%(admins)s::bigint[])[s.body + 1]"
        reason = " ".join(f"when '{kind}' then '{text}'" for kind, text in REASONS.items())
        summary = " ".join(f"when '{outcome}' then '{text}'" for outcome, text in SUMMARIES.items())
        approved = f"s.status in {APPROVED}"
        task_values = {
            "id": "s.id",
            "number": "'JC' || to_char(s.created at time zone %(tz)s, 'YYYY') "
            "|| lpad(s.id::text, greatest(7, length(s.id::text)), '0')",
            "enterprise": "s.ent",
            "lead_body": "(%(body_ids)s::bigint[])[s.body + 1]",
            "legal_basis": "(%(body_basis)s::text[])[s.body + 1]",
            "kind": "s.kind",
            "mode": "case when s.remote then 'remote' else 'on_site' end",
            "reason": f"coalesce(case s.kind {reason} end, '')",
            "window_start": "s.ws",
            "window_end": "s.we",
            "status": "s.status",
            "created_by": lead_admin,
            "created_at": "s.created",
            "submitted_at": "case when s.status <> 'draft' then least(s.created + interval '1 hour', now()) end",
            "approved_at": f"case when {approved} then least(s.created + interval '1 day', now()) end",
            "notified_at": f"case when s.status in {TOLD} then least(s.created + interval '2 days', now()) end",
            "started_at": "s.started",
            "result_recorded_at": "case when s.outcome is not null then least(s.started + interval '3 hours', now()) end",
            "closed_at": "case when s.status = 'closed' then least(s.started + interval '5 days', now()) end",
            "cancelled_at": "case when s.status = 'cancelled' then least(s.created + interval '3 days', now()) end",
            "cancel_reason": "case when s.status = 'cancelled' then '企业已停产，暂缓检查' else '' end",
        }
        if self.run.supervision:
            task_values.update(self._supervision_task_values(approved))
        task = _insert(Task, params, [(task_values, "syn_task s")])

        def task_body(id_expression: str, body: str, where: str) -> tuple[dict[str, str], str]:
            return (
                {
                    "id": id_expression,
                    "task": "s.id",
                    "body": f"(%(body_ids)s::bigint[])[{body} + 1]",
                    "approved_by": f"case when {approved} then (%(admins)s::bigint[])[{body} + 1] end",
                    "approved_at": f"case when {approved} then least(s.created + interval '1 day', now()) end",
                    "task_created_at": "s.created",
                    "task_status": "s.status",
                },
                f"syn_task s {where}",
            )

        lead_row = "%(tb0)s + (s.id - %(t0)s)"
        joint_row = "%(tb0)s + %(tasks)s + (s.id - %(t0)s)"
        task_bodies = _insert(
            TaskBody,
            params,
            [task_body(lead_row, "s.body", ""), task_body(joint_row, "s.joint", "where s.joint is not null")],
        )
        items, offsets, lengths = (
            "(%(items)s::bigint[])",
            "(%(item_offsets)s::int[])",
            "(%(item_lengths)s::int[])",
        )

        def item_selects(row: dict[str, str]) -> list[str]:
            return [
                f"select {row['lead']}, {items}[{offsets}[s.body + 1] + 1 + s.li] from syn_task s",
                f"select {row['lead']}, {items}[{offsets}[s.body + 1] + 1 + mod(s.li + 1, {lengths}[s.body + 1])] "
                f"from syn_task s where s.two and {lengths}[s.body + 1] > 1",
                f"select {row['joint']}, {items}[{offsets}[s.joint + 1] + 1 + s.ji] from syn_task s "
                "where s.joint is not null",
            ]

        table, own, other = _m2m(TaskBody, "items")
        task_body_items = f"insert into {table} ({own}, {other}) " + " union all ".join(
            item_selects({"lead": lead_row, "joint": joint_row})
        )
        # Two bodies of one field may both take an item: the task's own list has it once.
        table, own, other = _m2m(Task, "items")
        task_items = f"insert into {table} ({own}, {other}) " + " union ".join(
            item_selects({"lead": "s.id", "joint": "s.id"})
        )
        table, own, other = _m2m(Task, "inspectors")
        inspector = "(%(inspectors)s::bigint[])[{body} * %(per_body)s + {k} + 1]"
        task_inspectors = f"insert into {table} ({own}, {other}) " + " union all ".join(
            [
                f"select s.id, {inspector.format(body='s.body', k='s.ia')} from syn_task s",
                f"select s.id, {inspector.format(body='s.body', k='s.ib')} from syn_task s"
                + (
                    # Planted: on-site visits with one inspector (the joint body's two are not counted then).
                    f" where s.joint is not null or s.remote or s.status not in {INSPECTED} "
                    f"or not {self._planted(32, ONE_INSPECTOR)}"
                    if self.run.supervision
                    else ""
                ),
                f"select s.id, {inspector.format(body='s.joint', k='s.ic')} from syn_task s where s.joint is not null",
                f"select s.id, {inspector.format(body='s.joint', k='s.id2')} from syn_task s where s.joint is not null",
            ]
        )
        records = _insert(
            InspectionRecord,
            params,
            [
                (
                    {
                        "task": "s.id",
                        "outcome": "s.outcome",
                        "summary": f"case s.outcome {summary} end",
                        "rectify_working_days": "case when s.outcome = 'rectify' then 10 end",
                        "rectify_by": "case when s.outcome = 'rectify' then (s.started at time zone %(tz)s)::date + 14 end",
                        "recorded_by": lead_admin,
                        "recorded_at": "least(s.started + interval '3 hours', now())",
                    },
                    "syn_task s where s.outcome is not null",
                )
            ],
        )
        statements = [
            ("tasks", task),
            ("task bodies", task_bodies),
            ("task body items", task_body_items),
            ("task items", task_items),
            ("task inspectors", task_inspectors),
            ("records", records),
        ]
        if self.run.codes:
            codes = _insert(
                InspectionCode,
                params,
                [
                    (
                        {
                            "task": "s.id",
                            "public_id": "((s.id * %(mult)s) & 281474976710655) # %(mask)s",
                            "enterprise": "s.ent",
                            "valid_from": "s.ws",
                            "valid_until": "s.we",
                            "status": "'active'",
                            "issued_at": "least(s.created + interval '2 days', now())",
                        },
                        f"syn_task s where s.status in {TOLD}"
                        + (
                            f" and not (s.status in {INSPECTED} and {self._planted(26, NO_CODE)})"
                            if self.run.supervision
                            else ""
                        ),
                    )
                ],
            )
            statements.append(("codes", codes))
        if self.run.supervision:
            statements += self._supervision_statements()
        return statements

    # ---- supervision data (supervision=True)

    def _planted(self, salt: int, share: int, per: int = 1000) -> str:
        """True for about share/per of the tasks, a different set for each salt."""
        return f"(mod({self.r(salt, 's.id')}, {per}) < {share})"

    def _supervision_task_values(self, approved: str) -> dict[str, str]:
        planned = ", ".join(f"'{m}'" for m in PLANNED_METHODS)
        method = " ".join(f"when '{m}' then {k}" for k, m in enumerate(PLANNED_METHODS))
        plan = (
            "(%(plan_ids)s::bigint[])[1 + s.body * %(plan_years)s * 4 "
            f"+ (extract(year from s.ws)::int - %(plan_year0)s) * 4 + (case s.kind {method} end)]"
        )
        emergency = f"(s.status in {INSPECTED} and {self._planted(24, EMERGENCY)})"
        unapproved = f"({emergency} and {self._planted(24, EMERGENCY // 2)})"
        late = self._planted(25, LATE_RECORD)
        return {
            "plan": f"case when s.kind in ({planned}) and not {self._planted(21, NO_PLAN)} then {plan} end",
            "evidence": f"case when s.kind not in ({planned}) and not {self._planted(22, NO_EVIDENCE)} "
            f"then '{EVIDENCE_TEXT}' else '' end",
            "frequency_findings": f"case when s.status in {APPROVED} and s.status <> 'cancelled' "
            f"and {self._planted(23, BREACH, 10000)} then '{BREACH_JSON}'::jsonb else '[]'::jsonb end",
            "is_emergency": emergency,
            "approval_due": f"case when {emergency} then (s.started at time zone %(tz)s)::date + 1 end",
            "approved_at": f"case when {approved} and not {unapproved} "
            "then least(s.created + interval '1 day', now()) end",
            "result_recorded_at": "case when s.outcome is not null then least(s.started + "
            f"case when {late} then interval '20 days' else interval '3 hours' end, now()) end",
        }

    def _supervision_statements(self) -> list[tuple[str, str]]:
        from jianchama.complaints.models import Complaint
        from jianchama.inspections.models import Evaluation, Scan

        params = self.params
        scans = _insert(
            Scan,
            params,
            [
                (
                    {
                        "code": "c.id",
                        "scanned_at": "coalesce(s.started, now())",
                        "outcome": "'genuine'",
                        "enterprise": "s.ent",
                        "client_hash": "md5(s.id::text)",
                    },
                    "syn_task s join inspections_inspectioncode c on c.task_id = s.id "
                    f"where s.status in {INSPECTED} and not s.remote and not {self._planted(27, NOT_SCANNED)}",
                )
            ],
        )
        score = self.r(29, "s.id")
        overall = (
            f"case when mod({score}, 1000) < {POOR} then 1 + mod({score} / 1000, 2) "
            f"when mod({score}, 1000) < 150 then 3 when mod({score}, 1000) < 550 then 4 else 5 end"
        )
        evaluations = _insert(
            Evaluation,
            params,
            [
                (
                    {
                        "task": "s.id",
                        "given_by": "%(evaluator)s",
                        "overall": overall,
                        **{name: overall for name, _label in Evaluation.DIMENSIONS},
                        "comment": f"case when mod({score}, 1000) < {POOR} then '检查时间过长，影响正常经营' else '' end",
                        "created_at": "least(s.started + interval '1 day', now())",
                    },
                    f"syn_task s where s.outcome is not null and {self._planted(28, EVALUATED)}",
                )
            ],
        )
        overdue = self._planted(31, 1, 20)
        received = "((s.started at time zone %(tz)s)::date + 2)"
        complaints = _insert(
            Complaint,
            params,
            [
                (
                    {
                        "number": "'SYN-TS-' || s.id",
                        "source": "'hotline_12345'",
                        "category": "'disturbing_business'",
                        "title": "'检查时间过长影响经营（合成）'",
                        "content": "'企业反映检查人员在营业高峰长时间检查，影响正常经营'",
                        "enterprise": "s.ent",
                        "body": "(%(body_ids)s::bigint[])[s.body + 1]",
                        "task": "s.id",
                        "status": f"case when {overdue} then 'assigned' else 'closed' end",
                        "received_on": received,
                        "handle_by": f"{received} + 21",
                        "feedback_by": f"{received} + 28",
                        "assigned_at": "least(s.started + interval '3 days', now())",
                        "handled_at": f"case when not {overdue} then least(s.started + interval '10 days', now()) end",
                        "result": f"case when not {overdue} then '已约谈执法人员，规范检查时间' else '' end",
                        "feedback": f"case when not {overdue} then '已电话反馈企业' else '' end",
                        "feedback_at": f"case when not {overdue} then least(s.started + interval '12 days', now()) end",
                    },
                    f"syn_task s where s.status in {INSPECTED} and {self._planted(30, COMPLAINED, 10000)}",
                )
            ],
        )
        return [
            ("scans", scans),
            ("evaluations", evaluations),
            ("complaints", complaints),
            ("field acts", self._field_acts_sql()),
        ]

    def _field_acts_sql(self) -> str:
        """A share of the on-site visits done with the field app (F-44): the code shown five minutes before
        the check-in, both at the enterprise's door (within about 55 m, accuracy 5-64 m); some inspectors did
        not allow the position (no position, not a finding); planted: codes shown with the position allowed
        but none recorded, check-ins about 5.5 km away, and decoys about 5.5 km away with an accuracy of 800 m
        (too poor to prove anything: not a finding)."""
        from jianchama.inspections.models import FieldAct

        v = f"mod({self.r(34, 's.id')}, 1000)"  # which variant the visit is, by ranges of a thousand
        h = self.r(35, "s.id")
        no_position_until = FIELD_NOT_ALLOWED + FIELD_NO_POSITION
        far_until = no_position_until + FIELD_FAR
        decoy_until = far_until + FIELD_FAR_POOR
        near_lat = f"e.latitude + (mod({h}, 1001) - 500) * 0.000001"
        near_lng = f"e.longitude + (mod({h} / 1001, 1001) - 500) * 0.000001"
        allowed = f"{v} >= {FIELD_NOT_ALLOWED}"
        positioned = f"({allowed} and {v} >= {no_position_until})"
        far = f"({v} >= {no_position_until} and {v} < {decoy_until})"
        source = (
            "syn_task s join inspections_inspectioncode c on c.task_id = s.id "
            "join registry_enterprise e on e.id = s.ent "
            f"where s.status in {INSPECTED} and not s.remote and s.started is not null "
            f"and {self._planted(33, FIELD_APP)}"
        )

        def act(kind: str, salt: str, at: str, lat: str, lng: str, accuracy: str, allowed_sql: str):
            return (
                {
                    "client_id": f"md5('syn-field-{salt}-' || s.id)::uuid",
                    "task": "s.id",
                    "kind": f"'{kind}'",
                    "user": "(%(inspector_users)s::bigint[])[s.body + 1]",
                    "occurred_at": at,
                    "received_at": at,
                    "location_allowed": allowed_sql,
                    "latitude": lat,
                    "longitude": lng,
                    "accuracy_m": accuracy,
                },
                source,
            )

        return _insert(
            FieldAct,
            self.params,
            [
                act(
                    FieldAct.Kind.CODE_SHOWN,
                    "shown",
                    "s.started - interval '5 minutes'",
                    f"case when {positioned} then {near_lat} end",
                    f"case when {positioned} then {near_lng} end",
                    f"case when {positioned} then 5 + mod({h} / 7, 60) end",
                    allowed,
                ),
                act(
                    FieldAct.Kind.CHECK_IN,
                    "check-in",
                    "s.started",
                    f"case when {allowed} then {near_lat} + case when {far} then 0.05 else 0 end end",
                    f"case when {allowed} then {near_lng} end",
                    f"case when not {allowed} then null when {v} >= {far_until} and {v} < {decoy_until} then 800 "
                    f"else 5 + mod({h} / 7, 60) end",
                    allowed,
                ),
            ],
        )

    def _tasks(self, cursor, batch: int) -> None:
        run = self.run
        if not run.tasks:
            return
        cursor.execute("drop table if exists syn_task")
        cursor.execute(
            """create temporary table syn_task (
                   id bigint, ent bigint, d int, body int, joint int, status text, kind text, remote boolean,
                   ws date, we date, created timestamptz, started timestamptz, outcome text,
                   li int, two boolean, ji int, ia int, ib int, ic int, id2 int)"""
        )
        plan = self._plan_sql()
        statements = self._task_statements()
        for a in range(1, run.tasks + 1, batch):
            b = min(a + batch - 1, run.tasks)
            started = time.perf_counter()
            cursor.execute("truncate syn_task")
            params = {**self.params, "a": a, "b": b}
            cursor.execute(self.typed(plan, params), params)
            for label, sql in statements:
                self.execute(cursor, label, sql)
            self.log(
                f"  检查任务 {b:>12,} / {run.tasks:,}（本批 {b - a + 1:,} 条及其关联记录），"
                f"用时 {time.perf_counter() - started:6.1f} 秒"
            )
        cursor.execute("drop table syn_task")
        if run.drafts:
            self.counts["drafts"] = run.drafts
            self.counts["tasks"] -= run.drafts


# --- SQLite (and any other database): rows made in Python, inserted in batches -------------------------


def _insert_rows(model, rows: list[dict[str, Any]]) -> int:
    """executemany of one INSERT: the given values by field name, every other column its default."""
    if not rows:
        return 0
    given = rows[0].keys()
    fields = [f for f in model._meta.concrete_fields if f.name in given or not f.primary_key]
    now = timezone.now()
    defaults = {}
    for f in fields:
        if f.name not in given:
            auto = isinstance(f, models.DateField) and (f.auto_now or f.auto_now_add)
            defaults[f.name] = now if auto else f.get_default()
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    values = [
        [f.get_db_prep_save(row[f.name] if f.name in row else defaults[f.name], connection) for f in fields]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(f"insert into {model._meta.db_table} ({columns}) values ({marks})", values)
    return len(rows)


def _through(model, name: str):
    m2m = model._meta.get_field(name)
    return m2m.remote_field.through, m2m.m2m_field_name(), m2m.m2m_reverse_field_name()


def _python_load(run: Run, ref: Reference, log: Log) -> dict[str, int]:
    from jianchama.inspections.models import InspectionCode, InspectionRecord, Task, TaskBody

    counts: dict[str, int] = {}
    rng = random.Random(f"synthetic-{run.seed}-{run.t0}-{run.e0}")
    tz = timezone.get_default_timezone()
    now = timezone.now()
    started = time.perf_counter()
    rows = []
    districts = {}
    for j in range(run.enterprises):
        seq = run.s0 + j + 1
        town = (seq - 1) % len(ref.towns)
        d = ref.town_district[town]
        districts[run.e0 + j + 1] = d
        industry, word = INDUSTRIES[rng.randrange(len(INDUSTRIES))]
        rows.append(
            {
                "id": run.e0 + j + 1,
                "uscc": synthetic_uscc(DISTRICTS[d][0], seq),
                "name": f"上海{word}合成示例{seq}号有限公司",
                "address": f"上海市{DISTRICTS[d][1]}{ref.towns[town].name}示例路{seq % 999 + 1}号",
                "region": ref.towns[town].pk,
                "industry": industry,
                "risk_grade": run.grade(j, rng.randrange(1000)),
                "legal_representative": rng.choice(SURNAMES) + rng.choice(GIVEN),
            }
        )
    counts["enterprises"] = sum(
        _insert_rows(Enterprise, rows[k : k + 5000]) for k in range(0, len(rows), 5000)
    )
    log(f"  企业 {counts['enterprises']:>12,} 家，用时 {time.perf_counter() - started:6.1f} 秒")

    body_items_model, bi_own, bi_other = _through(TaskBody, "items")
    task_items_model, ti_own, ti_other = _through(Task, "items")
    inspectors_model, in_own, in_other = _through(Task, "inspectors")
    tables: dict[str, tuple[Any, list[dict[str, Any]]]] = {
        "tasks": (Task, []),
        "task bodies": (TaskBody, []),
        "task body items": (body_items_model, []),
        "task items": (task_items_model, []),
        "task inspectors": (inspectors_model, []),
        "records": (InspectionRecord, []),
        "codes": (InspectionCode, []),
    }

    def flush() -> None:
        for label, (model, pending) in tables.items():
            counts[label] = counts.get(label, 0) + _insert_rows(model, pending)
            pending.clear()

    def at(day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(hour, minute), tzinfo=tz)

    started = time.perf_counter()
    for i in range(1, run.tasks + 1):
        task_id = run.t0 + i
        draft = i > run.inspections
        hot = rng.randrange(1000) < HOT_SHARE
        j = rng.randrange(run.hot if hot else run.enterprises)
        enterprise = run.e0 + 1 + j
        d = districts[enterprise]
        if draft:
            ago = -(1 + rng.randrange(DRAFT_DAYS))
        elif rng.randrange(1000) < FUTURE_SHARE:
            ago = -(1 + rng.randrange(60))
        else:
            ago = rng.randrange(365 * run.years)
        x = rng.randrange(1000)
        if draft:
            status = "draft"
        elif ago < 0:
            status = pick(FUTURE_STATUSES, x)
        elif ago < RECENT_DAYS:
            status = pick(RECENT_STATUSES, x)
        else:
            status = pick(PAST_STATUSES, x)
        ws = run.today - datetime.timedelta(days=ago)
        length = rng.randrange(LONGEST_WINDOW)
        serving = ref.serving(d)
        position = rng.randrange(len(serving))
        lead = ref.bodies[serving[position]]
        joint = None
        if rng.randrange(1000) < JOINT_SHARE and len(serving) > 1:
            joint = ref.bodies[serving[(position + 1 + rng.randrange(len(serving) - 1)) % len(serving)]]
        kind = pick(KINDS, rng.randrange(1000))
        created = min(
            at(min(ws - datetime.timedelta(days=7), run.today - datetime.timedelta(days=1)), 10), now
        )
        start = None
        if status in INSPECTED:
            day = min(ws + datetime.timedelta(days=rng.randrange(length + 1)), run.today)
            start = at(day, 9) + datetime.timedelta(minutes=rng.randrange(480))
        outcome = pick(OUTCOMES, rng.randrange(1000)) if status in RECORDED else None
        is_approved = status in APPROVED

        def later(moment: datetime.datetime | None, **delta: int) -> datetime.datetime | None:
            return None if moment is None else min(moment + datetime.timedelta(**delta), now)

        tables["tasks"][1].append(
            {
                "id": task_id,
                "number": f"JC{timezone.localtime(created).year}{task_id:07d}",
                "enterprise": enterprise,
                "lead_body": lead.pk,
                "legal_basis": lead.legal_basis,
                "kind": kind,
                "mode": "remote" if rng.randrange(1000) < REMOTE_SHARE else "on_site",
                "reason": REASONS.get(kind, ""),
                "window_start": ws,
                "window_end": ws + datetime.timedelta(days=length),
                "status": status,
                "created_by": lead.admin,
                "created_at": created,
                "submitted_at": later(created, hours=1) if status != "draft" else None,
                "approved_at": later(created, days=1) if is_approved else None,
                "notified_at": later(created, days=2) if status in TOLD else None,
                "started_at": start,
                "result_recorded_at": later(start, hours=3) if outcome else None,
                "closed_at": later(start, days=5) if status == "closed" else None,
                "cancelled_at": later(created, days=3) if status == "cancelled" else None,
                "cancel_reason": "企业已停产，暂缓检查" if status == "cancelled" else "",
            }
        )
        parts = [(run.tb0 + i, lead)] + ([(run.tb0 + run.tasks + i, joint)] if joint else [])
        task_items: set[int] = set()
        inspectors = rng.sample(range(INSPECTORS_PER_BODY), 2)
        for row, body in parts:
            tables["task bodies"][1].append(
                {
                    "id": row,
                    "task": task_id,
                    "body": body.pk,
                    "approved_by": body.admin if is_approved else None,
                    "approved_at": later(created, days=1) if is_approved else None,
                    "task_created_at": created,
                    "task_status": status,
                }
            )
            first = rng.randrange(len(body.items))
            chosen = {body.items[first]}
            if body is lead and rng.randrange(2) == 0:
                chosen.add(body.items[(first + 1) % len(body.items)])
            for item in sorted(chosen):
                tables["task body items"][1].append({bi_own: row, bi_other: item})
            task_items |= chosen
            for k in inspectors if body is lead else rng.sample(range(INSPECTORS_PER_BODY), 2):
                tables["task inspectors"][1].append({in_own: task_id, in_other: body.inspectors[k]})
        for item in sorted(task_items):
            tables["task items"][1].append({ti_own: task_id, ti_other: item})
        if outcome:
            tables["records"][1].append(
                {
                    "task": task_id,
                    "outcome": outcome,
                    "summary": SUMMARIES[outcome],
                    "rectify_working_days": 10 if outcome == "rectify" else None,
                    "rectify_by": timezone.localdate(start) + datetime.timedelta(days=14)
                    if outcome == "rectify"
                    else None,
                    "recorded_by": lead.admin,
                    "recorded_at": later(start, hours=3),
                }
            )
        if run.codes and status in TOLD:
            tables["codes"][1].append(
                {
                    "task": task_id,
                    "public_id": rng.getrandbits(48),
                    "enterprise": enterprise,
                    "valid_from": ws,
                    "valid_until": ws + datetime.timedelta(days=length),
                    "status": "active",
                    "issued_at": later(created, days=2),
                }
            )
        if i % 5000 == 0:
            flush()
    flush()
    if run.tasks:
        log(f"  检查任务 {run.tasks:>12,} 条及其关联记录，用时 {time.perf_counter() - started:6.1f} 秒")
    if run.drafts:
        counts["drafts"] = run.drafts
        counts["tasks"] -= run.drafts
    if not run.codes:
        counts.pop("codes", None)
    return counts
