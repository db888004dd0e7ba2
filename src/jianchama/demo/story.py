"""The demo data set: Shanghai's three pilot fields (seed 000) in Jinshan, Minhang and Songjiang, the bodies,
inspectors, enterprises and items they work with, and one login per role.

`load()` writes it once into an empty registry (direct ORM writes: this is seed data, not a business action;
one audit event records the load). Everything is generated from a fixed seed, so the demo is the same each
time; only dates are relative to the day it is loaded, so expired and expiring certificates stay so.
"""

from __future__ import annotations

import datetime
import random
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from jianchama.core import audit, conduct
from jianchama.core.errors import DomainError
from jianchama.core.models import AuditEvent, User
from jianchama.core.roles import Role
from jianchama.core.workdays import add_working_days, is_working_day
from jianchama.registry import uscc
from jianchama.registry.models import (
    Certificate,
    EnforcementBody,
    Enterprise,
    EnterpriseContact,
    Field,
    InspectionItem,
    InspectionStandard,
    Inspector,
    Region,
    StandardItem,
)

DEMO_PASSWORD = "Demo-2026!"
CONTACT_PHONE = "13800000001"
SEED = 20230825  # the day seed 000 was issued
AUDIT_ACTION = "demo.load"

# --- Regions -----------------------------------------------------------------------------------------

CITY = ("310000", "上海市")

# Approximate centres of the demo's districts (WGS-84), for the enterprises' registered positions.
DISTRICT_CENTRES = {
    "310116": (30.7417, 121.3417),  # 金山区
    "310112": (31.1128, 121.3817),  # 闵行区
    "310117": (31.0322, 121.2277),  # 松江区
    "310115": (31.2213, 121.5447),  # 浦东新区
}
FEATURED_POSITION = (30.778800, 121.408200)  # 漕泾镇目华路, the featured enterprise

# district code, name, towns: (code, name, roads used in addresses)
DISTRICTS: list[tuple[str, str, list[tuple[str, str, list[str]]]]] = [
    (
        "310116",
        "金山区",
        [
            ("310116001", "石化街道", ["卫零路", "蒙山路", "龙胜路", "隆安路", "卫清西路"]),
            ("310116101", "朱泾镇", ["人民路", "万安街", "健康路", "金龙新街", "亭枫公路"]),
            ("310116102", "枫泾镇", ["枫湾路", "环东一路", "枫阳路", "朱枫公路"]),
            ("310116103", "张堰镇", ["新华路", "松金公路", "留溪路"]),
            ("310116104", "亭林镇", ["南亭公路", "亭卫公路", "林盛路", "寺平南路"]),
            ("310116105", "吕巷镇", ["朱吕公路", "溪南路", "吕青公路"]),
            ("310116107", "廊下镇", ["景乐路", "漕廊公路", "中联路"]),
            ("310116109", "金山卫镇", ["古城路", "学府路", "钱圩路"]),
            ("310116112", "漕泾镇", ["北银河路", "目华路", "漕廊公路", "合展路"]),
            ("310116113", "山阳镇", ["卫清东路", "龙皓路", "金山大道", "亭卫南路"]),
        ],
    ),
    (
        "310112",
        "闵行区",
        [
            ("310112101", "莘庄镇", ["莘松路", "沁春路", "都市路", "莘建东路"]),
            ("310112102", "七宝镇", ["七莘路", "漕宝路", "新镇路"]),
            ("310112110", "吴泾镇", ["龙吴路", "剑川路", "永德路"]),
            ("310112112", "马桥镇", ["北松公路", "元江路", "俞塘路"]),
            ("310112114", "浦江镇", ["浦星公路", "江月路", "联航路"]),
        ],
    ),
    (
        "310117",
        "松江区",
        [
            ("310117001", "岳阳街道", ["中山中路", "人民北路", "荣乐中路"]),
            ("310117103", "车墩镇", ["车亭公路", "北松公路", "联营路"]),
            ("310117106", "九亭镇", ["九亭大街", "沪亭北路", "涞亭南路"]),
            ("310117101", "泗泾镇", ["泗砖公路", "泗陈公路", "江川北路"]),
            ("310117104", "新桥镇", ["新格路", "申港路", "新飞路"]),
        ],
    ),
]
JINSHAN = "310116"

# --- Fields ------------------------------------------------------------------------------------------

TRANSPORT, GAS, SAFETY = "dangerous_goods_transport", "gas", "safety"
FIELDS = [(TRANSPORT, "道路危险货物运输"), (GAS, "燃气管理"), (SAFETY, "安全生产")]

# --- Items: code, field, name, legal basis, checklist; the bodies of the field check them (towns: TOWN_ITEMS)

ITEMS: list[tuple[str, str, str, str, list[str]]] = [
    (
        "WY-001",
        TRANSPORT,
        "道路危险货物运输经营许可情况检查",
        "《中华人民共和国道路运输条例》第二十三条、第二十四条；《危险化学品安全管理条例》第四十三条；"
        "《道路危险货物运输管理规定》第八条",
        [
            "是否取得《道路运输经营许可证》，经营范围是否包含相应类别的危险货物运输",
            "经营许可证是否在有效期内，是否存在转让、出租、出借许可证件的情况",
            "专用车辆数量、停车场地是否持续符合许可条件",
            "是否具有健全的安全生产管理制度",
        ],
    ),
    (
        "WY-002",
        TRANSPORT,
        "专用车辆及设备管理情况检查",
        "《道路危险货物运输管理规定》第三章（专用车辆、设备管理）；《危险化学品安全管理条例》第四十五条",
        [
            "专用车辆是否取得《道路运输证》并按规定进行年度审验",
            "车辆是否按规定进行综合性能检测和技术等级评定",
            "罐式专用车辆的罐体是否经检验合格并在检验有效期内",
            "车辆是否按规定悬挂、喷涂危险货物道路运输标志",
            "是否配备与所运危险货物性质相适应的安全防护、环境保护和消防设施设备",
        ],
    ),
    (
        "WY-003",
        TRANSPORT,
        "从业人员资格管理情况检查",
        "《危险化学品安全管理条例》第四十四条；《道路危险货物运输管理规定》第八条；"
        "《道路运输从业人员管理规定》",
        [
            "驾驶人员、装卸管理人员、押运人员是否取得相应的从业资格证",
            "从业资格证是否在有效期内",
            "是否按规定开展岗前培训和日常安全教育并留存记录",
            "运输危险货物时是否按规定配备押运人员",
        ],
    ),
    (
        "WY-004",
        TRANSPORT,
        "车辆动态监控情况检查",
        "《道路运输车辆动态监督管理办法》第二章（系统建设）、第三章（车辆监控）",
        [
            "专用车辆是否安装符合标准的卫星定位装置并接入动态监控平台",
            "是否建立动态监控制度并配备专职监控人员",
            "对超速行驶、疲劳驾驶等违法驾驶行为是否及时提醒、纠正并记录",
            "动态监控数据和违法驾驶处理记录是否按规定期限保存",
        ],
    ),
    (
        "WY-005",
        TRANSPORT,
        "运输安全生产管理制度落实情况检查",
        "《中华人民共和国安全生产法》第二十一条、第二十四条、第八十一条；《危险货物道路运输安全管理办法》",
        [
            "是否设置安全生产管理机构或者配备专职安全生产管理人员",
            "是否建立全员安全生产责任制和安全操作规程",
            "是否按规定查验托运人提供的危险货物信息并规范填写电子运单",
            "是否制定生产安全事故应急预案并定期组织演练",
        ],
    ),
    (
        "RQ-001",
        GAS,
        "燃气经营许可情况检查",
        "《城镇燃气管理条例》第十五条；《上海市燃气管理条例》",
        [
            "是否取得燃气经营许可证",
            "是否在许可的经营区域、经营类别范围内从事经营活动",
            "燃气经营许可证是否在有效期内",
            "是否存在出租、出借、转让燃气经营许可证的情况",
            "主要负责人、安全生产管理人员以及运行、维护和抢修人员是否经专业培训并考核合格",
        ],
    ),
    (
        "RQ-002",
        GAS,
        "瓶装燃气供应站安全管理检查",
        "《城镇燃气管理条例》第十七条、第十八条；《上海市燃气管理条例》",
        [
            "供应站设置是否符合要求，是否在许可范围内经营",
            "气瓶是否按规定充装、定期检验，是否粘贴可追溯标识",
            "是否向未取得燃气经营许可证的单位或者个人提供用于经营的燃气",
            "是否对用户开展安全用气检查和宣传并做好记录",
        ],
    ),
    (
        "RQ-003",
        GAS,
        "管道燃气设施运行维护检查",
        "《城镇燃气管理条例》第十九条、第三十三条；《上海市燃气管理条例》",
        [
            "是否按规定对燃气管网设施进行巡查、检测和维护并留存记录",
            "是否定期对用户燃气设施进行入户安全检查",
            "燃气设施保护范围内是否存在违章占压、违规施工等危害燃气设施安全的行为",
            "是否设立抢修队伍并实行24小时值班",
        ],
    ),
    (
        "RQ-004",
        GAS,
        "燃气经营者安全风险管控和应急管理检查",
        "《城镇燃气管理条例》第四十条、第四十一条；《中华人民共和国安全生产法》第四十一条",
        [
            "是否建立燃气安全评估和风险管理体系",
            "发现的燃气安全事故隐患是否及时采取措施消除",
            "是否制定本单位燃气安全事故应急预案并配备应急人员和物资",
            "是否定期组织应急演练",
        ],
    ),
    (
        "RQ-005",
        GAS,
        "餐饮等非居民用户安全用气检查",
        "《城镇燃气管理条例》第二十七条、第二十八条；《上海市燃气管理条例》",
        [
            "是否使用合格的燃气燃烧器具、连接软管和气瓶",
            "是否按规定安装可燃气体报警装置和紧急切断装置",
            "用气场所是否存在擅自安装、改装、拆除燃气设施的情况",
            "是否存在在地下室、半地下室等场所使用瓶装液化石油气，或使用过期、报废气瓶的情况",
            "是否建立安全用气制度并对员工进行安全用气培训",
        ],
    ),
    (
        "AQ-001",
        SAFETY,
        "安全生产责任制及管理机构设置情况检查",
        "《中华人民共和国安全生产法》第四条、第二十一条、第二十四条",
        [
            "是否建立健全全员安全生产责任制",
            "主要负责人是否组织制定并实施安全生产规章制度和操作规程",
            "是否按规定设置安全生产管理机构或者配备安全生产管理人员",
            "安全生产投入是否有保障",
        ],
    ),
    (
        "AQ-002",
        SAFETY,
        "安全生产教育培训情况检查",
        "《中华人民共和国安全生产法》第二十七条、第二十八条、第三十条",
        [
            "是否对从业人员进行安全生产教育和培训并建立培训档案",
            "新上岗从业人员是否经安全生产教育培训合格后上岗",
            "特种作业人员是否按规定取得相应资格并持证上岗",
            "主要负责人和安全生产管理人员是否具备相应的安全生产知识和管理能力",
        ],
    ),
    (
        "AQ-003",
        SAFETY,
        "安全风险分级管控和隐患排查治理情况检查",
        "《中华人民共和国安全生产法》第四十一条",
        [
            "是否开展安全风险辨识评估并实行分级管控",
            "是否建立事故隐患排查治理制度，如实记录隐患排查治理情况",
            "重大事故隐患是否及时治理并按规定报告",
            "隐患排查治理情况是否向从业人员通报",
        ],
    ),
    (
        "AQ-004",
        SAFETY,
        "危险化学品储存和使用安全检查",
        "《中华人民共和国安全生产法》第三十九条；《危险化学品安全管理条例》第二十条、第二十四条、第二十五条",
        [
            "危险化学品是否储存在专用仓库、专用场地或者专用储存室内，并由专人负责管理",
            "储存方式、方法以及储存数量是否符合国家标准或者国家有关规定",
            "危险化学品出入库是否核查、登记",
            "作业场所是否设置相应的监测、监控、通风、防火、防爆等安全设施、设备",
            "是否按规定进行安全评价并整改落实",
        ],
    ),
    (
        "AQ-005",
        SAFETY,
        "重大危险源安全管理情况检查",
        "《中华人民共和国安全生产法》第四十条；《危险化学品重大危险源监督管理暂行规定》",
        [
            "重大危险源是否登记建档并定期检测、评估、监控",
            "是否配备温度、压力、液位、可燃有毒气体泄漏报警等监测监控系统",
            "是否明确重大危险源安全包保责任人并履职",
            "重大危险源及有关安全措施、应急措施是否报应急管理部门备案",
        ],
    ),
    (
        "AQ-006",
        SAFETY,
        "有限空间作业安全检查",
        "《工贸企业有限空间作业安全规定》（应急管理部令第13号）",
        [
            "是否辨识本单位有限空间并建立管理台账",
            "有限空间出入口是否设置明显的安全警示标志",
            "作业是否执行“先通风、再检测、后作业”并实施作业审批",
            "作业时是否安排专人监护并配备应急救援装备",
        ],
    ),
    (
        "AQ-007",
        SAFETY,
        "粉尘防爆安全检查",
        "《工贸企业粉尘防爆安全规定》（应急管理部令第6号）",
        [
            "是否辨识粉尘爆炸危险场所并设置安全警示标志",
            "除尘系统是否按规定设置并采取防火、防爆措施",
            "是否制定粉尘清扫制度并及时清理积尘",
            "粉尘爆炸危险场所是否使用防爆电气设备",
        ],
    ),
    (
        "AQ-008",
        SAFETY,
        "生产安全事故应急预案管理情况检查",
        "《中华人民共和国安全生产法》第八十一条；《生产安全事故应急预案管理办法》",
        [
            "是否制定生产安全事故应急救援预案并与所在地人民政府的预案相衔接",
            "应急预案是否按规定评审或者论证，并按规定备案",
            "是否定期组织应急预案演练",
            "是否配备必要的应急救援器材、设备和物资并经常维护保养",
        ],
    ),
]
# Town bodies do the general safety checks, not the specialised ones (hazardous chemicals, major hazards).
TOWN_ITEMS = {"AQ-001", "AQ-002", "AQ-003", "AQ-006", "AQ-008"}

# --- Bodies ------------------------------------------------------------------------------------------

# kind (the code's suffix): field, city body's name, district body's name
BODY_KINDS = {
    "jt": (TRANSPORT, "上海市交通委员会", "{district}交通委员会"),
    "js": (GAS, "上海市住房和城乡建设管理委员会", "{district}建设和管理委员会"),
    "yj": (SAFETY, "上海市应急管理局", "{district}应急管理局"),
}

# town code, body name
TOWN_BODIES = [
    ("310116101", "朱泾镇人民政府"),
    ("310116001", "石化街道办事处"),
    ("310112101", "莘庄镇人民政府"),
]

# key, name, entrusting organ key, entrusted items, (start, end) as days from today
ENTRUSTED_BODIES = [
    (
        "310116-yj-wt",
        "金山区安全生产监督检查所",
        "310116-yj",
        ["AQ-001", "AQ-002", "AQ-003", "AQ-006"],
        (-420, 620),
    ),
    # Its entrustment runs out in three weeks: the kind of thing the supervisor should be warned about.
    ("310116-js-wt", "金山区燃气管理所", "310116-js", ["RQ-002", "RQ-005"], (-345, 20)),
]

# --- Inspectors: per body key, the state of each one's certificate -----------------------------------
# valid | expiring (valid, ends within a month) | expired | suspended | revoked | user (valid, the demo login)

INSPECTOR_PLAN: dict[str, list[str]] = {
    "310000-jt": ["valid"],
    "310000-js": ["valid"],
    "310000-yj": ["valid"],
    "310116-yj": ["user", "valid", "expiring", "expired"],
    "310116-js": ["valid", "valid", "valid", "suspended"],
    "310116-jt": ["valid", "valid", "expired"],
    "310112-yj": ["valid", "valid", "revoked"],
    "310112-js": ["valid", "valid", "suspended"],
    "310112-jt": ["valid", "valid"],
    "310117-yj": ["valid", "valid"],
    "310117-js": ["valid", "valid"],
    "310117-jt": ["valid", "expired", "valid"],
    "310116-yj-wt": ["valid", "valid"],
    "310116-js-wt": ["valid", "valid"],
    "310116101": ["valid", "valid"],
    "310116001": ["valid", "valid"],
    "310112101": ["valid", "valid"],
}
SUSPENSION_REASONS = [
    "在涉企行政检查中未出示执法证件、未告知检查依据，经区司法局行政执法监督决定暂停使用执法证件，培训考核合格后恢复",
    "对同一企业明显超过合理检查频次，整改期间暂停使用执法证件",
]
REVOCATION_REASON = "在涉企行政检查中违反“八个不得”规定，依法收回行政执法证件"

# --- Names -------------------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方邹孟熊秦邱江尹薛顾毛郝龚邵钱严戴莫孔汤俞倪施奚"
)
GIVEN = [
    "伟",
    "芳",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "斌",
    "浩",
    "鑫",
    "婷",
    "俊",
    "峰",
    "燕",
    "萍",
    "建华",
    "建国",
    "志强",
    "海燕",
    "春梅",
    "国平",
    "雪梅",
    "卫东",
    "晓明",
    "文杰",
    "志刚",
    "丽华",
    "伟民",
    "秀英",
    "振华",
    "晓燕",
    "建平",
    "海峰",
    "立新",
    "玉兰",
    "红梅",
    "永强",
    "佳怡",
    "子涵",
    "思远",
    "浩然",
    "雨婷",
    "俊杰",
    "嘉伟",
    "晨曦",
    "一鸣",
    "梦洁",
]
BRAND_FIRST = "金华鑫宏恒永瑞联申浦天新中海东盛嘉兴德源泰通安隆达昌丰汇博宇信佳润正协亚凯荣万利广"
BRAND_SECOND = "泰盛源达丰昌祥利顺通隆鑫诚安和益晟辉越邦成发恒宇远凯荣旺兴达茂川鼎骏"
NICKNAMES = ["阿强", "老王", "小李", "阿芳", "老张", "阿明", "小陈", "阿英", "老周", "阿华", "老沈", "小顾"]
SHOPS = [
    "面馆",
    "饭店",
    "小吃店",
    "餐馆",
    "烧烤店",
    "火锅店",
    "快餐店",
    "酒家",
    "点心店",
    "农家菜馆",
    "馄饨店",
]
MANUFACTURING = [
    ("金属制品有限公司", "金属制品业"),
    ("五金制品有限公司", "金属制品业"),
    ("机械制造有限公司", "通用设备制造业"),
    ("精密机械有限公司", "通用设备制造业"),
    ("塑料制品有限公司", "橡胶和塑料制品业"),
    ("橡胶制品有限公司", "橡胶和塑料制品业"),
    ("纺织品有限公司", "纺织业"),
    ("食品有限公司", "食品制造业"),
    ("汽车零部件有限公司", "汽车制造业"),
    ("家具有限公司", "家具制造业"),
    ("印务有限公司", "印刷和记录媒介复制业"),
    ("电气有限公司", "电气机械和器材制造业"),
    ("包装材料有限公司", "造纸和纸制品业"),
    ("木业有限公司", "木材加工和木、竹、藤、棕、草制品业"),
    ("建材有限公司", "非金属矿物制品业"),
]
CHEMICAL_SUFFIXES = [
    "化工有限公司",
    "精细化工有限公司",
    "新材料科技有限公司",
    "涂料有限公司",
    "化学品有限公司",
    "高分子材料有限公司",
    "树脂有限公司",
    "石油化工有限公司",
]

# Enterprises per district, and their mix of kinds (Jinshan has the chemical industry of the 化工区 and 石化).
ENTERPRISE_COUNTS = {"310116": 260, "310112": 120, "310117": 120}
KIND_MIX = {
    "310116": {
        "transport": 34,
        "gas_supply": 13,
        "restaurant": 62,
        "hotel": 8,
        "chemical": 52,
        "manufacturing": 73,
        "warehouse": 18,
    },
    "310112": {
        "transport": 11,
        "gas_supply": 6,
        "restaurant": 38,
        "hotel": 6,
        "chemical": 8,
        "manufacturing": 43,
        "warehouse": 8,
    },
    "310117": {
        "transport": 10,
        "gas_supply": 7,
        "restaurant": 36,
        "hotel": 6,
        "chemical": 7,
        "manufacturing": 46,
        "warehouse": 8,
    },
}
RISK_WEIGHTS = {  # A, B, C, D
    "transport": (10, 35, 40, 15),
    "gas_supply": (10, 40, 35, 15),
    "restaurant": (30, 45, 20, 5),
    "hotel": (35, 45, 15, 5),
    "chemical": (5, 25, 45, 25),
    "manufacturing": (20, 45, 28, 7),
    "warehouse": (15, 40, 35, 10),
}
# Chemical firms cluster where the chemical parks are.
CHEMICAL_TOWNS = {"310116112": 6, "310116001": 4, "310116113": 3, "310116109": 2, "310112110": 5}

FEATURED = {
    "name": "上海金山恒泰化工有限公司",
    "town": "310116112",
    "address": "上海市金山区漕泾镇目华路88号",
    "industry": "化学原料和化学制品制造业",
    "risk_grade": "C",
    "legal_representative": "顾建国",
    "contact_name": "沈丽华",
}

# --- Compliance guides (F-36) --------------------------------------------------------------------------

GUIDE_TEXT = """一、检查前自查：应急预案是否按规定编制、评审、备案，近一年是否组织演练并留存记录。
二、现场准备：安排熟悉安全生产管理的人员陪同检查，备齐安全生产责任制、教育培训、隐患排查治理台账。
三、常见问题：演练记录缺少评估总结；预案与实际岗位、物料不一致；应急物资未定期检查。
四、权利提示：检查人员应出示执法证件和检查码，企业可扫码核验；对检查结果有异议的，可以陈述、申辩。"""

FIELD_GUIDE_TEXT = """一、危险化学品储存：分区分类、限量储存，禁忌物料不得混存，储存场所设置明显标志。
二、重大危险源：建立档案，落实包保责任人，监测监控系统正常运行并与监管平台联网。
三、特殊作业：动火、受限空间等作业严格执行审批，作业前进行风险辨识和气体检测。
四、检查前自查自纠，发现问题及时整改；轻微违法行为及时改正的，依法可以不予行政处罚。"""


# --- Users -------------------------------------------------------------------------------------------

# username, role, full name, body key or region code
STAFF_USERS = [
    ("admin", Role.PLATFORM_ADMIN, "孙立", None),
    ("inspector", Role.INSPECTOR, "陆志刚", "310116-yj"),
    ("bodyadmin", Role.BODY_ADMIN, "钱海燕", "310116-yj"),
    ("cityreviewer", Role.CITY_REVIEWER, "严振华", "310000-yj"),
    ("supervisor", Role.SUPERVISOR, "徐晓燕", JINSHAN),
    ("districtgov", Role.DISTRICT_GOVERNMENT, "张建平", JINSHAN),
    ("intake", Role.COMPLAINT_INTAKE, "朱玉兰", JINSHAN),
    ("observer", Role.OBSERVER, "俞立新", JINSHAN),
    ("reconsider", Role.RECONSIDERATION_OFFICE, "沈佳慧", JINSHAN),
]
CONTACT_USERNAME = "contact"
# What each staff login is for, shown next to it.
USER_NOTES = {
    "admin": "也可进入 /admin/",
    "supervisor": "金山区司法局",
}


# --- The builder -------------------------------------------------------------------------------------


@dataclass
class DemoLogin:
    role_label: str
    username: str
    full_name: str
    where: str


@dataclass
class DemoResult:
    created: bool
    counts: dict[str, int]


def is_loaded() -> bool:
    return AuditEvent.objects.filter(action=AUDIT_ACTION).exists()


def counts() -> dict[str, int]:
    from jianchama.inspections.models import Task

    return {
        "districts": Region.objects.filter(level=Region.Level.DISTRICT).count(),
        "regions": Region.objects.count(),
        "bodies": EnforcementBody.objects.count(),
        "inspectors": Inspector.objects.count(),
        "certificates": Certificate.objects.count(),
        "enterprises": Enterprise.objects.count(),
        "contacts": EnterpriseContact.objects.count(),
        "items": InspectionItem.objects.count(),
        "users": User.objects.count(),
        "tasks": Task.objects.count(),
    }


def load(*, today: datetime.date | None = None) -> DemoResult:
    """Load the demo once. A second call changes nothing; a registry that already holds other data is refused."""
    today = today or timezone.localdate()
    with transaction.atomic():
        _lock()
        if is_loaded():
            return DemoResult(created=False, counts=counts())
        _refuse_if_not_empty()
        _Builder(today).build()
        result = counts()
        audit.record(
            actor="系统",
            action=AUDIT_ACTION,
            object_type="demo",
            object_id="1",
            object_repr="演示数据",
            after=result,
        )
    return DemoResult(created=True, counts=result)


def _lock() -> None:
    """Two loads at once on PostgreSQL would both find the registry empty; SQLite's IMMEDIATE transactions
    already run one writer at a time."""
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext('jianchama-demo'))")


def _refuse_if_not_empty() -> None:
    usernames = [u for u, *_ in STAFF_USERS] + [CONTACT_USERNAME]
    present = [
        label
        for label, exists in [
            ("区域", Region.objects.exists()),
            ("执法单位", EnforcementBody.objects.exists()),
            ("企业", Enterprise.objects.exists()),
            ("检查事项", InspectionItem.objects.exists()),
            ("同名用户", User.objects.filter(username__in=usernames).exists()),
        ]
        if exists
    ]
    if present:
        raise DomainError(
            f"数据库中已有{'、'.join(present)}，演示数据只能载入空数据库，本次未做任何更改。"
            "如需演示，请换用新的数据库（例如删除 db.sqlite3 后重新运行 make run）。"
        )


def _date_after(today: datetime.date, days: int) -> datetime.date:
    return today + datetime.timedelta(days=days)


def _working_days_before(today: datetime.date, n: int) -> datetime.date:
    """The working day n working days before `today` (the calendar counts forwards only)."""
    day = today
    while n:
        day -= datetime.timedelta(days=1)
        if is_working_day(day):
            n -= 1
    return day


class _Builder:
    def __init__(self, today: datetime.date):
        self.today = today
        self.rng = random.Random(SEED)
        self.regions: dict[str, Region] = {}
        self.fields: dict[str, Field] = {}
        self.bodies: dict[str, EnforcementBody] = {}
        self.items: dict[str, InspectionItem] = {}
        self.body_field: dict[int, Field] = {}  # every demo body works in one field
        self.used_names: set[str] = set()
        self.used_usccs: set[str] = set()
        self.used_phones: set[str] = {CONTACT_PHONE}
        self.used_people: set[str] = {name for _u, _r, name, _w in STAFF_USERS} | {FEATURED["contact_name"]}

    def build(self) -> None:
        self._regions()
        self._fields()
        self._bodies()
        self._items()
        inspector = self._inspectors()
        featured = self._enterprises()
        self._users(inspector, featured)
        self._frequency_rules()
        self._trigger_situations()
        self._guides(inspector)
        self._tasks(inspector, featured)
        self._frequency_story(inspector, featured)
        self._draw_story(inspector)
        self._joint_and_trigger_story(inspector, featured)
        self._supervision_story(inspector, featured)

    # Regions, fields, bodies, items: a few dozen rows, saved one by one (Region.save sets the path).

    def _regions(self) -> None:
        city = Region.objects.create(code=CITY[0], name=CITY[1], level=Region.Level.CITY)
        self.regions[city.code] = city
        for code, name, towns in DISTRICTS:
            district = Region.objects.create(code=code, name=name, level=Region.Level.DISTRICT, parent=city)
            self.regions[code] = district
            for town_code, town_name, _roads in towns:
                self.regions[town_code] = Region.objects.create(
                    code=town_code, name=town_name, level=Region.Level.TOWN, parent=district
                )

    def _fields(self) -> None:
        for code, name in FIELDS:
            self.fields[code] = Field.objects.create(code=code, name=name)

    def _body(
        self, key: str, name: str, *, level: str, region: Region, field: str, **extra
    ) -> EnforcementBody:
        body = EnforcementBody.objects.create(
            code=key.upper(),
            name=name,
            level=level,
            region=region,
            body_type=extra.pop("body_type", EnforcementBody.Type.ORGAN),
            phone=f"021-{self.rng.randint(5700_0000, 6499_9999)}",
            head_name=self._person(),
            **extra,
        )
        body.fields.set([self.fields[field]])
        self.bodies[key] = body
        self.body_field[body.pk] = self.fields[field]
        return body

    def _bodies(self) -> None:
        city = self.regions[CITY[0]]
        for kind, (field, city_name, _pattern) in BODY_KINDS.items():
            self._body(
                f"{city.code}-{kind}", city_name, level=EnforcementBody.Level.CITY, region=city, field=field
            )
        for code, district_name, _towns in DISTRICTS:
            for kind, (field, _city_name, pattern) in BODY_KINDS.items():
                self._body(
                    f"{code}-{kind}",
                    pattern.format(district=district_name),
                    level=EnforcementBody.Level.DISTRICT,
                    region=self.regions[code],
                    field=field,
                    city_counterpart=self.bodies[f"{city.code}-{kind}"],
                )
        for town_code, name in TOWN_BODIES:
            self._body(
                town_code,
                name,
                level=EnforcementBody.Level.TOWN,
                region=self.regions[town_code],
                field=SAFETY,
            )
        for key, name, organ_key, _items, (start, end) in ENTRUSTED_BODIES:
            organ = self.bodies[organ_key]
            self._body(
                key,
                name,
                level=EnforcementBody.Level.DISTRICT,
                region=organ.region,
                field=self.body_field[organ.pk].code,
                body_type=EnforcementBody.Type.ENTRUSTED,
                entrusting_organ=organ,
                entrustment_start=_date_after(self.today, start),
                entrustment_end=_date_after(self.today, end),
            )

    def _items(self) -> None:
        through = InspectionItem.bodies.through
        links = []
        for code, field, name, basis, checklist in ITEMS:
            item = InspectionItem.objects.create(
                code=code, field=self.fields[field], name=name, legal_basis=basis, checklist=checklist
            )
            self.items[code] = item
            for body in self.bodies.values():
                if self.body_field[body.pk].code != field:
                    continue
                if body.level == EnforcementBody.Level.TOWN and code not in TOWN_ITEMS:
                    continue
                links.append(through(inspectionitem_id=item.pk, enforcementbody_id=body.pk))
        through.objects.bulk_create(links)
        for key, _name, _organ, item_codes, _period in ENTRUSTED_BODIES:
            self.bodies[key].entrusted_items.set([self.items[c] for c in item_codes])
        self._standards()

    def _standards(self) -> None:
        """Each field's items follow a version of the city's inspection standard (按照市级行政检查标准开展检查):
        its checklist points are the items' checklists, and rectification deadlines of 5 to 15 working days
        (行政检查裁量权)."""
        effective = _date_after(self.today, -365)
        for number, (field, field_name) in enumerate(FIELDS, start=1):
            standard = InspectionStandard.objects.create(
                document_number=f"沪执规〔{effective.year}〕{number}号",
                version=f"{effective.year}.1",
                title=f"上海市{field_name}行政检查标准",
                effective_date=effective,
            )
            for code, item_field, *_rest in ITEMS:
                if item_field != field:
                    continue
                item = self.items[code]
                StandardItem.objects.create(
                    standard=standard,
                    item=item,
                    checklist=list(item.checklist),
                    rectify_min_days=5,
                    rectify_max_days=15,
                )
                item.standard = standard
                item.save(update_fields=["standard"])

    # People.

    def _person(self, *, unique: bool = False) -> str:
        """A name; `unique` for the people a user picks from a list (inspectors), so no two look alike."""
        while True:
            name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
            if not unique or name not in self.used_people:
                self.used_people.add(name)
                return name

    def _phone(self, prefix: str) -> str:
        while True:
            phone = prefix + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.used_phones:
                self.used_phones.add(phone)
                return phone

    def _inspectors(self) -> Inspector:
        """Every planned inspector with one certificate; returns the one the inspector login is linked to."""
        people: list[tuple[Inspector, str]] = []
        user_names = {key: name for _u, role, name, key in STAFF_USERS if role == Role.INSPECTOR}
        for key, states in INSPECTOR_PLAN.items():
            body = self.bodies[key]
            for n, state in enumerate(states, start=1):
                name = user_names[key] if state == "user" else self._person(unique=True)
                people.append(
                    (
                        Inspector(
                            name=name,
                            body=body,
                            employee_number=f"{body.code}-{n:03d}",
                            phone=self._phone("136"),
                        ),
                        state,
                    )
                )
        Inspector.objects.bulk_create([p for p, _ in people])
        certificates, suspensions = [], iter(SUSPENSION_REASONS)
        for serial, (person, state) in enumerate(people, start=1):
            district = person.body.region.district()
            prefix = district.code if district else CITY[0]
            valid_from = _date_after(self.today, -self.rng.randint(200, 1400))
            valid_until = _date_after(self.today, self.rng.randint(120, 1500))
            status, reason = Certificate.Status.VALID, ""
            if state == "expiring":
                valid_until = _date_after(self.today, 20)
            elif state == "expired":
                valid_until = _date_after(self.today, -self.rng.randint(15, 200))
                valid_from = valid_until - datetime.timedelta(days=self.rng.randint(3 * 365, 5 * 365))
            elif state == "suspended":
                status, reason = Certificate.Status.SUSPENDED, next(suspensions)
            elif state == "revoked":
                status, reason = Certificate.Status.REVOKED, REVOCATION_REASON
            certificates.append(
                Certificate(
                    number=f"{prefix}00{serial:05d}",
                    inspector=person,
                    valid_from=valid_from,
                    valid_until=valid_until,
                    status=status,
                    status_reason=reason,
                )
            )
        Certificate.objects.bulk_create(certificates)
        through = Certificate.fields.through
        through.objects.bulk_create(
            through(certificate_id=c.pk, field_id=self.body_field[c.inspector.body_id].pk)
            for c in certificates
        )
        return next(p for p, state in people if state == "user")

    # Enterprises.

    def _brand(self) -> str:
        first = self.rng.choice(BRAND_FIRST)
        second = self.rng.choice(BRAND_SECOND.replace(first, ""))
        return first + second

    def _uscc(self, district_code: str, *, individual: bool) -> str:
        """A valid code: the region part is the district, the organisation code carries its own GB 11714 check
        character, and the 18th character is computed by the USCC rule."""
        while True:
            if not individual and self.rng.random() < 0.3:  # an older firm: a numeric organisation code
                body8 = self.rng.choice("1367") + f"{self.rng.randrange(10**7):07d}"
            else:
                body8 = "MA1" + "".join(self.rng.choice(uscc.CHARSET) for _ in range(5))
            org = body8 + _organisation_check(body8)
            first17 = ("92" if individual else "91") + district_code + org
            code = first17 + uscc.check_character(first17)
            if code not in self.used_usccs:
                self.used_usccs.add(code)
                return code

    def _name(self, kind: str, district: str, town: str) -> tuple[str, str, bool]:
        """Name, industry, and whether it is an individual business (个体工商户)."""
        rng, d = self.rng, district.removesuffix("区")
        town_short = town.removesuffix("街道").removesuffix("镇")
        prefix = rng.choice(["上海", f"上海{d}"])
        if kind == "transport":
            suffix = rng.choice(
                ["危险品运输有限公司", "危险货物运输有限公司", "化工物流有限公司", "化学品运输有限公司"]
            )
            return f"{prefix}{self._brand()}{suffix}", "道路危险货物运输", False
        if kind == "gas_supply":
            name = rng.choice(
                [
                    f"{prefix}{self._brand()}燃气有限公司",
                    f"上海{self._brand()}液化气有限公司{town_short}供应站",
                    f"上海{self._brand()}燃气有限公司{town_short}瓶装燃气供应站",
                ]
            )
            return name, "燃气生产和供应业", False
        if kind == "restaurant":
            if rng.random() < 0.6:
                owner = rng.choice([rng.choice(NICKNAMES), rng.choice(SURNAMES) + "记"])
                return f"{district}{town}{owner}{rng.choice(SHOPS)}", "餐饮业", True
            name = rng.choice(
                [
                    f"{prefix}{self._brand()}餐饮管理有限公司",
                    f"上海{self._brand()}餐饮有限公司{town_short}分店",
                ]
            )
            return name, "餐饮业", False
        if kind == "hotel":
            suffix = rng.choice(["酒店管理有限公司", "宾馆有限公司", "大酒店有限公司"])
            return f"{prefix}{self._brand()}{suffix}", "住宿业", False
        if kind == "chemical":
            return (
                f"{prefix}{self._brand()}{rng.choice(CHEMICAL_SUFFIXES)}",
                "化学原料和化学制品制造业",
                False,
            )
        if kind == "warehouse":
            suffix = rng.choice(["仓储有限公司", "物流仓储有限公司", "冷链物流有限公司"])
            return f"{prefix}{self._brand()}{suffix}", "仓储业", False
        suffix, industry = rng.choice(MANUFACTURING)
        return f"{prefix}{self._brand()}{suffix}", industry, False

    def _town(self, district_code: str, kind: str) -> tuple[str, str, list[str]]:
        towns = next(t for c, _n, t in DISTRICTS if c == district_code)
        weights = [CHEMICAL_TOWNS.get(code, 1) if kind == "chemical" else 1 for code, _n, _r in towns]
        return self.rng.choices(towns, weights=weights)[0]

    def _positions(self, enterprises: list[Enterprise]) -> None:
        """A registered position for each enterprise (亮码即定位, F-44): near its district's centre, from a
        random generator of its own so the rest of the demo stays as it was."""
        rng = random.Random(f"positions-{len(enterprises)}")
        for enterprise in enterprises:
            code = enterprise.region.code[:6]
            lat, lng = DISTRICT_CENTRES.get(code, DISTRICT_CENTRES["310116"])
            enterprise.latitude = round(lat + rng.uniform(-0.05, 0.05), 6)
            enterprise.longitude = round(lng + rng.uniform(-0.05, 0.05), 6)
        enterprises[0].latitude, enterprises[0].longitude = FEATURED_POSITION

    def _enterprises(self) -> Enterprise:
        """About 500 enterprises with contacts; returns the featured one, whose contact is the demo login."""
        grades = [g.value for g in Enterprise.RiskGrade]
        town = self.regions[FEATURED["town"]]
        featured = Enterprise(
            uscc=self._uscc(JINSHAN, individual=False),
            name=FEATURED["name"],
            address=FEATURED["address"],
            region=town,
            industry=FEATURED["industry"],
            risk_grade=FEATURED["risk_grade"],
            legal_representative=FEATURED["legal_representative"],
        )
        self.used_names.add(featured.name)
        enterprises = [featured]
        for code, district_name, _towns in DISTRICTS:
            kinds = [kind for kind, n in KIND_MIX[code].items() for _ in range(n)]
            if code == JINSHAN:
                kinds.remove("chemical")  # the featured enterprise is one of them
            for kind in kinds:
                town_code, town_name, roads = self._town(code, kind)
                while True:
                    name, industry, individual = self._name(kind, district_name, town_name)
                    if name not in self.used_names:
                        break
                self.used_names.add(name)
                enterprises.append(
                    Enterprise(
                        uscc=self._uscc(code, individual=individual),
                        name=name,
                        address=f"上海市{district_name}{town_name}{self.rng.choice(roads)}{self.rng.randint(1, 2999)}号",
                        region=self.regions[town_code],
                        industry=industry,
                        risk_grade=self.rng.choices(grades, weights=RISK_WEIGHTS[kind])[0],
                        legal_representative=self._person(),
                    )
                )
        self._positions(enterprises)
        Enterprise.objects.bulk_create(enterprises, batch_size=250)
        contacts = [
            EnterpriseContact(
                enterprise=featured,
                kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE,
                name=featured.legal_representative,
                phone=self._phone("139"),
            ),
            EnterpriseContact(
                enterprise=featured,
                kind=EnterpriseContact.Kind.ON_SITE,
                name=FEATURED["contact_name"],
                phone=CONTACT_PHONE,
            ),
        ]
        for enterprise in enterprises[1:]:
            if self.rng.random() < 0.35:
                contacts.append(
                    EnterpriseContact(
                        enterprise=enterprise,
                        kind=EnterpriseContact.Kind.LEGAL_REPRESENTATIVE,
                        name=enterprise.legal_representative,
                        phone=self._phone("139"),
                    )
                )
                if self.rng.random() < 0.3:
                    contacts.append(
                        EnterpriseContact(
                            enterprise=enterprise,
                            kind=EnterpriseContact.Kind.ON_SITE,
                            name=self._person(),
                            phone=self._phone("137"),
                        )
                    )
        EnterpriseContact.objects.bulk_create(contacts, batch_size=250)
        return featured

    # Logins.

    def _users(self, inspector: Inspector, featured: Enterprise) -> None:
        # One hash for every staff login: hashing is the slow part of the load, and they share the password.
        password = make_password(DEMO_PASSWORD)
        users = []
        for username, role, full_name, where in STAFF_USERS:
            user = User(username=username, role=role, full_name=full_name, password=password)
            if role == Role.PLATFORM_ADMIN:
                user.is_superuser = user.is_staff = True
            elif where in self.bodies:
                user.body = self.bodies[where]
            else:
                user.region = self.regions[where]
            user.full_clean()
            users.append(user)
        contact = User(
            username=CONTACT_USERNAME,
            role=Role.ENTERPRISE_CONTACT,
            full_name=FEATURED["contact_name"],
            phone=CONTACT_PHONE,
            enterprise=featured,
        )
        contact.set_unusable_password()
        contact.full_clean()
        users.append(contact)
        User.objects.bulk_create(users)
        inspector.user = next(u for u in users if u.role == Role.INSPECTOR)
        inspector.save(update_fields=["user"])

    def _tasks(self, inspector: Inspector, featured: Enterprise) -> None:
        """The inspection code's story, through the services: a task told to the featured enterprise for today
        (the inspector shows its code), one with its result recorded (to evaluate), one awaiting approval."""
        from jianchama.inspections import services as tasks
        from jianchama.inspections.models import InspectionRecord, Task

        body = inspector.body
        colleague = next(
            p
            for p in body.inspectors.exclude(pk=inspector.pk)
            if p.certificates.valid_on(self.today).exists()
        )
        head = User.objects.get(role=Role.BODY_ADMIN, body=body)
        actor = inspector.user
        items = list(InspectionItem.objects.filter(bodies=body, is_published=True).order_by("code")[:2])
        neighbour = (
            Enterprise.objects.filter(region=featured.region).exclude(pk=featured.pk).order_by("uscc").first()
        )
        plans = self._plans(head, items)
        common = {
            "items": items[:1],
            "inspectors": [inspector, colleague],
            "legal_basis": items[0].legal_basis,
            "window_start": self.today,
            "window_end": _date_after(self.today, 2),
        }

        def approved(enterprise: Enterprise, kind: str, **extra) -> Task:
            task = tasks.create_task(
                actor, enterprise=enterprise, kind=kind, plan=plans[kind], **common, **extra
            )
            tasks.submit_task(actor, task=task)
            return tasks.approve_task(head, task=task)

        approved(featured, "routine")
        done = approved(featured, "special")
        tasks.check_in(actor, task=done)
        tasks.record_result(
            actor,
            task=done,
            outcome=InspectionRecord.Outcome.RECTIFY,
            summary="现场检查发现应急预案未按规定演练，已当场告知整改要求。",
            findings=[
                tasks.FindingInput(
                    item=items[0],
                    entry=entry,
                    result="not_compliant" if n == 0 else "compliant",
                    note="近一年未组织应急演练" if n == 0 else "",
                )
                for n, entry in enumerate(items[0].checklist or [items[0].name])
            ],
            rectify_working_days=10,
            improvement_advice="建议每半年组织一次综合应急演练并留存记录。",
        )
        waiting = tasks.create_task(
            actor,
            enterprise=neighbour,
            kind="complaint",
            reason="12345热线投诉：夜间违规动火作业",
            evidence="热线工单及现场照片3张",
            **common,
        )
        tasks.submit_task(actor, task=waiting)

    # Frequency control (F-21) and triggered inspections (F-28): seed data, validated as the admin would.

    def _frequency_rules(self) -> None:
        from jianchama.inspections.frequency import validate_rule
        from jianchama.inspections.models import Exemption, FrequencyRule

        everything = list(Exemption.values)
        for name, scope, period, limit, action, options in FREQUENCY_RULES:
            extra = dict(options)
            exemptions = extra.pop("exemptions", everything)
            rule = FrequencyRule(
                name=name,
                scope=scope,
                period=period,
                limit=limit,
                action=action,
                exemptions=list(exemptions),
                **extra,
            )
            problems = validate_rule(rule)
            if problems:
                raise DomainError(f"演示数据的频次规则「{name}」有误：" + "；".join(problems))
            rule.save()

    def _trigger_situations(self) -> None:
        from jianchama.inspections.models import TriggerSituation
        from jianchama.inspections.triggers import validate_situation

        for code, name, evidence, approver in TRIGGER_SITUATIONS:
            situation = TriggerSituation(
                field=self.fields[SAFETY], code=code, name=name, evidence_required=evidence, approver=approver
            )
            problems = validate_situation(situation)
            if problems:
                raise DomainError(f"演示数据的启动情形「{name}」有误：" + "；".join(problems))
            situation.save()

    def _plans(self, head: User, items: list[InspectionItem]) -> dict:
        """Plans filed the way the documents say (F-11): the district body's plan is approved by its city-level
        counterpart, then filed with the district justice bureau, then announced. The special plan is filed but
        not yet announced, so the supervisor's list has something to show."""
        from jianchama.plans import services as plans
        from jianchama.plans.models import Plan

        reviewer = User.objects.get(username="cityreviewer")
        bureau = User.objects.get(username="supervisor")
        year_start, year_end = self.today.replace(month=1, day=1), self.today.replace(month=12, day=31)
        made = {}
        for method, title, count, publish in [
            ("routine", "安全生产日常检查计划", 60, True),
            ("special", "危险化学品安全专项检查计划", 20, False),
            ("random", "安全生产“双随机、一公开”抽查计划", 30, True),
        ]:
            plan = plans.create_plan(
                head,
                title=f"{head.body.name}{self.today.year}年{title}",
                period_start=year_start,
                period_end=year_end,
                method=method,
                items=items,
                expected_count=count,
                target_risk_grades=["C", "D"] if method == "random" else [],
            )
            plans.submit_plan(head, plan=plan)
            plans.approve_plan(reviewer, plan=plan, comment="检查事项和频次安排合理，同意报区司法局备案")
            plan = plans.approve_plan(bureau, plan=plan, comment="准予备案")
            if publish:
                plan = plans.publish_plan(head, plan=plan)
            made[method] = plan
        # Next year's plan, submitted and waiting at the city-level reviewer (his home's first to-do).
        next_year = self.today.year + 1
        waiting = plans.create_plan(
            head,
            title=f"{head.body.name}{next_year}年安全生产执法检查工作计划",
            period_start=datetime.date(next_year, 1, 1),
            period_end=datetime.date(next_year, 12, 31),
            method=Plan.Method.OTHER,
            items=items,
            expected_count=40,
            target_risk_grades=[],
        )
        plans.submit_plan(head, plan=waiting)
        return made

    def _draw_story(self, inspector: Inspector) -> None:
        """A random draw (F-14) on the published random plan: committed, revealed, its tasks submitted; anyone
        can re-check it with scripts/verify_draw.py and /draws/<id>.json."""
        from jianchama.plans import draws
        from jianchama.plans.models import Plan

        head = User.objects.get(role=Role.BODY_ADMIN, body=inspector.body)
        plan = Plan.objects.get(body=inspector.body, method=Plan.Method.RANDOM)
        draw = draws.commit_draw(head, plan=plan, enterprise_count=3)
        start = _date_after(self.today, 7)
        draws.reveal_draw(head, draw=draw, window_start=start, window_end=_date_after(start, 4))

    def _joint_and_trigger_story(self, inspector: Inspector, featured: Enterprise) -> None:
        """Two bodies' tasks on one enterprise become one visit with one code (进一次门、查多项事), and a
        triggered inspection names its situation (F-28)."""
        from jianchama.inspections import frequency
        from jianchama.inspections import services as tasks
        from jianchama.inspections.models import TriggerSituation

        body = inspector.body
        head = User.objects.get(role=Role.BODY_ADMIN, body=body)
        colleague = next(
            p
            for p in body.inspectors.exclude(pk=inspector.pk)
            if p.certificates.valid_on(self.today).exists()
        )
        partner = self.bodies["310116-js"]
        partner_head = User.objects.create(
            username="bodyadmin-js",
            role=Role.BODY_ADMIN,
            full_name="金山区建管委管理员",
            body=partner,
            password=make_password(DEMO_PASSWORD),
        )
        partner_inspectors = [
            p for p in partner.inspectors.order_by("pk") if p.certificates.valid_on(self.today).exists()
        ][:2]
        neighbour = (
            Enterprise.objects.filter(region=featured.region).exclude(pk=featured.pk).order_by("uscc")[1]
        )
        start, end = _date_after(self.today, 3), _date_after(self.today, 5)
        own_item = InspectionItem.objects.filter(bodies=body, is_published=True).order_by("code").first()
        partner_item = (
            InspectionItem.objects.filter(bodies=partner, is_published=True).order_by("code").first()
        )
        target = tasks.create_task(
            inspector.user,
            enterprise=neighbour,
            kind="report",
            reason="群众举报：仓库堆放易燃物品",
            evidence="举报登记表及现场照片2张",
            items=[own_item],
            inspectors=[inspector, colleague],
            legal_basis=own_item.legal_basis,
            window_start=start,
            window_end=end,
        )
        tasks.submit_task(inspector.user, task=target)
        source = tasks.create_task(
            partner_head,
            enterprise=neighbour,
            kind="report",
            reason="群众举报：燃气管道私接",
            evidence="举报登记表",
            items=[partner_item],
            inspectors=partner_inspectors,
            legal_basis=partner_item.legal_basis,
            window_start=start,
            window_end=end,
        )
        tasks.submit_task(partner_head, task=source)
        joint = frequency.join_task(partner_head, task=source, into=target)
        tasks.approve_task(head, task=joint)
        tasks.approve_task(partner_head, task=joint)

        situation = TriggerSituation.objects.filter(field=own_item.field).order_by("code").first()
        triggered = tasks.create_task(
            inspector.user,
            enterprise=Enterprise.objects.filter(region=featured.region).order_by("uscc")[5],
            kind="trigger",
            trigger_situation=situation,
            reason="监测平台报警：可燃气体浓度超限",
            evidence="监测预警平台报警记录截图及值班记录",
            items=[own_item],
            inspectors=[inspector, colleague],
            legal_basis=own_item.legal_basis,
            window_start=start,
            window_end=end,
        )
        tasks.submit_task(inspector.user, task=triggered)

    # Supervision (F-30–F-36): guides, planted problems, the monthly rules, the three steps, complaints.

    def _guides(self, inspector: Inspector) -> None:
        """The safety body's compliance guides, written before its tasks are approved so that the enterprise's
        notice carries them (F-36)."""
        from jianchama.registry import guides

        body = inspector.body
        head = User.objects.get(role=Role.BODY_ADMIN, body=body)
        item = InspectionItem.objects.filter(bodies=body, is_published=True).order_by("code").first()
        guides.create_guide(
            head,
            field=item.field,
            item=item,
            title=f"{item.name}合规指引",
            content=GUIDE_TEXT,
            publish=True,
        )
        guides.create_guide(
            head,
            field=item.field,
            title="危险化学品企业接受安全生产检查前自查要点",
            content=FIELD_GUIDE_TEXT,
            publish=True,
        )

    def _supervision_story(self, inspector: Inspector, featured: Enterprise) -> None:
        """Problems planted in the last weeks' records (an emergency inspection never approved, a result
        recorded late and rated poorly, a complaint not handled in time, a code never scanned), found by the
        monthly data rules; the three steps on two of them: the safety body has rectified and reported (the
        bureau's review is waiting), the construction body did not and a decision suspended one of its
        inspectors' certificates, which flags the joint task that relied on him; a complaint from intake to
        feedback, one waiting to be assigned from the portal; a reconsideration lead; the quarter's sampling
        round drawn and one case-file review that found a problem."""
        from jianchama.complaints import services as complaints
        from jianchama.inspections import services as tasks
        from jianchama.inspections.models import Evaluation, InspectionRecord, Task
        from jianchama.supervision import rules, sampling, steps
        from jianchama.supervision.models import Finding, SampledBody
        from jianchama.supervision.models.sampling import Method

        supervisor = User.objects.get(username="supervisor")
        government = User.objects.get(username="districtgov")
        intake = User.objects.get(username="intake")
        contact = User.objects.get(username=CONTACT_USERNAME)
        body = inspector.body
        head = User.objects.get(role=Role.BODY_ADMIN, body=body)
        colleague = next(
            p
            for p in body.inspectors.exclude(pk=inspector.pk).order_by("pk")
            if p.certificates.valid_on(self.today).exists()
        )
        partner = self.bodies["310116-js"]
        partner_head = User.objects.get(username="bodyadmin-js")
        partner_inspectors = [
            p for p in partner.inspectors.order_by("pk") if p.certificates.valid_on(self.today).exists()
        ][:2]
        own_item = InspectionItem.objects.filter(bodies=body, is_published=True).order_by("code").first()
        partner_item = (
            InspectionItem.objects.filter(bodies=partner, is_published=True).order_by("code").first()
        )
        jinshan = list(Enterprise.objects.filter(region=featured.region).order_by("uscc")[10:14])

        def back(task: Task, days: int, **extra) -> None:
            """Move a task made today back `days` days, as if it had happened then (history rows)."""
            then = timezone.now() - datetime.timedelta(days=days)
            day = timezone.localdate(then)
            Task.objects.filter(pk=task.pk).update(
                window_start=day, window_end=day, created_at=then, submitted_at=then, started_at=then, **extra
            )

        # 1. An emergency inspection by the construction body 12 days ago, never approved afterwards.
        emergency = tasks.create_task(
            partner_head,
            enterprise=jinshan[0],
            kind="report",
            reason="群众举报：地下室燃气泄漏气味明显",
            evidence="110联动工单及现场燃气浓度检测记录",
            is_emergency=True,
            items=[partner_item],
            inspectors=partner_inspectors,
            legal_basis=partner_item.legal_basis,
            window_start=self.today,
            window_end=self.today,
        )
        tasks.start_emergency(partner_head, task=emergency)
        started = self.today - datetime.timedelta(days=12)
        back(emergency, 12, approval_due=add_working_days(started, 1))

        # 2. A visit to the featured enterprise 50 days ago whose result was recorded 15 days late, rated poorly
        #    last month (the poor-evaluation rule looks at months that are over).
        late = tasks.create_task(
            inspector.user,
            enterprise=featured,
            kind="complaint",
            reason="12345热线投诉：厂区夜间异味",
            evidence="12345工单",
            items=[own_item],
            inspectors=[inspector, colleague],
            legal_basis=own_item.legal_basis,
            window_start=self.today,
            window_end=self.today,
        )
        tasks.submit_task(inspector.user, task=late)
        tasks.approve_task(head, task=late)
        tasks.check_in(inspector.user, task=late)
        tasks.record_result(
            inspector.user,
            task=late,
            outcome=InspectionRecord.Outcome.NO_PROBLEM,
            summary="现场未发现异味来源，相关记录齐全。",
            findings=[
                tasks.FindingInput(item=own_item, entry=entry, result="compliant")
                for entry in own_item.checklist or [own_item.name]
            ],
        )
        back(late, 50)
        tasks.evaluate(
            contact,
            task=late,
            scores={
                "overall": 2,
                "certificate_shown": 2,
                "rights_told": 3,
                "conduct": 3,
                "efficiency": 1,
                "integrity": 4,
            },
            comment="检查后半个月才告知结果，现场未主动出示执法证件。",
        )
        recorded = timezone.now() - datetime.timedelta(days=35)
        Task.objects.filter(pk=late.pk).update(result_recorded_at=recorded)
        InspectionRecord.objects.filter(task=late).update(recorded_at=recorded)
        # 33 days back is always in a month that is over.
        Evaluation.objects.filter(task=late).update(created_at=timezone.now() - datetime.timedelta(days=33))
        tasks.close_task(head, task=late)

        # 3. A 12345 complaint assigned to the construction body a month ago, not handled.
        overdue = complaints.register_complaint(
            intake,
            source="hotline_12345",
            category="repeated_inspection",
            title="同一周内被燃气管理部门检查两次",
            content="企业反映同一周内两次接受燃气安全检查，检查内容基本相同，影响正常经营。",
            complainant_name="王先生",
            complainant_phone="13900000021",
            enterprise=jinshan[1],
            body=partner,
            received_on=self.today - datetime.timedelta(days=35),
        )
        complaints.assign_complaint(intake, complaint=overdue, body=partner)
        type(overdue).objects.filter(pk=overdue.pk).update(
            handle_by=add_working_days(self.today - datetime.timedelta(days=35), 15)
        )

        # A complaint from intake to feedback, and one from the portal waiting to be assigned.
        handled = complaints.register_complaint(
            intake,
            source="hotline_12345",
            category="disturbing_business",
            title="检查时间安排在生产高峰",
            content="企业反映应急管理部门检查安排在生产高峰时段，希望调整检查时间。",
            complainant_name="李女士",
            complainant_phone="13900000022",
            enterprise=jinshan[2],
            body=body,
        )
        complaints.assign_complaint(intake, complaint=handled, body=body)
        complaints.record_handling(
            head, complaint=handled, result="已与企业沟通，今后检查避开生产高峰并提前告知检查时间。"
        )
        complaints.give_feedback(
            intake, complaint=handled, feedback="已电话告知投诉人办理结果，投诉人表示满意。"
        )
        complaints.register_complaint(
            contact,
            source="portal",
            category="misconduct",
            title="检查人员未出示执法证件",
            content="11月上旬的一次检查中，检查人员未主动出示执法证件，也未告知陈述申辩的权利。",
            enterprise=featured,
            task=late,
        )

        # The observer's meeting at the district's federation of industry and commerce (F-47), and the lead
        # he filed out of it; a visit he made the week before.
        from jianchama.complaints import activities

        observer = User.objects.get(username="observer")
        meeting = activities.record_activity(
            observer,
            kind="meeting",
            held_on=_working_days_before(self.today, 2),
            place="金山区工商业联合会三楼会议室",
            organiser="金山区工商业联合会",
            enterprise_count=14,
            participants="法治观察员2名，区司法局执法监督科1名",
            problems="有企业反映同一季度内应急、市场监管部门先后来查消防通道和台账，内容重复；"
            "个别检查人员未出示检查码，企业不知道能否拒绝；检查结果告知不及时。",
            suggestions="能合并的检查合并进行；检查前通过企业端提前告知；检查后一周内告知结果。",
        )
        activities.record_activity(
            observer,
            kind="visit",
            held_on=_working_days_before(self.today, 7),
            place="金山工业区",
            enterprise_count=3,
            problems="企业对检查码的使用总体满意，希望扫码后能看到检查人员的照片。",
        )
        complaints.register_complaint(
            observer,
            source="observer",
            category="repeated_inspection",
            title="座谈会反映：同一季度内重复检查消防通道和台账",
            content="座谈会上有企业反映，同一季度内应急管理和市场监管部门先后检查消防通道和安全台账，"
            "内容基本相同，请核实是否存在重复检查。",
            body=body,
            activity=meeting,
        )

        # The monthly run finds the planted problems.
        rules.run_rules(supervisor)

        # Step one to three for the construction body's emergency inspection: warned at a meeting 8 working
        # days ago, found not rectified 3 working days ago, recommendation today, an inadequate report,
        # escalated to a decision that suspends one of the two inspectors' certificates.
        finding = Finding.objects.get(rule="emergency_unapproved", task=emergency)
        warned_on = _working_days_before(self.today, 8)
        warning = steps.warn_body(
            supervisor,
            finding=finding,
            channel="meeting",
            content="紧急检查开始后未在1个工作日内补办批准手续，请立即补办并建立紧急检查补批台账。",
            warned_on=warned_on,
        )
        steps.record_warning_response(
            partner_head,
            warning=warning,
            response="收到，将尽快补办。",
            response_on=_working_days_before(self.today, 7),
        )
        steps.record_warning_outcome(
            supervisor,
            warning=warning,
            rectified=False,
            note="复查时仍未补办批准，也未建立补批台账。",
            on=_working_days_before(self.today, 3),
        )
        recommendation = steps.issue_recommendation(
            supervisor,
            finding=finding,
            facts=f"你单位于{self.today - datetime.timedelta(days=12):%Y年%m月%d日}对{jinshan[0].name}"
            "实施紧急检查，检查开始后未在1个工作日内报单位负责人补办批准手续，经预警提醒后仍未整改。",
            legal_basis="《国务院办公厅关于严格规范涉企行政检查的意见》；《关于规范本市涉企行政检查的实施意见》",
            demanded="一、立即补办该次检查的批准手续；二、建立紧急检查补批台账，明确补批责任人；"
            "三、对相关执法人员进行批评教育。",
        )
        steps.acknowledge_recommendation(partner_head, recommendation=recommendation)
        steps.submit_rectification_report(
            partner_head, recommendation=recommendation, text="已口头提醒相关人员注意。"
        )
        steps.review_recommendation(
            supervisor,
            recommendation=recommendation,
            rectified=False,
            note="整改报告未补办批准手续，未建立台账，整改不到位。",
        )
        steps.request_decision(
            supervisor, recommendation=recommendation, note="监督建议书未落实，报请区政府制发监督决定书。"
        )
        sanctioned = partner_inspectors[0]
        steps.issue_decision(
            government,
            recommendation=recommendation,
            facts="经区司法局制发行政执法监督建议书后，你单位未按期补办紧急检查批准手续，整改不到位。",
            legal_basis="《国务院办公厅关于严格规范涉企行政检查的意见》；《关于加强金山区涉企行政检查执法监督的工作方案》",
            demanded="一、15个工作日内完成整改并书面报告；二、主要负责人接受约谈；三、暂停相关执法人员执法证件。",
            measures=[
                steps.MeasureInput("notified_criticism", note="在全区涉企行政执法单位范围内通报批评"),
                steps.MeasureInput("interview", note="约谈金山区建设和管理委员会主要负责人"),
                steps.MeasureInput(
                    "suspend_certificate", inspectors=[sanctioned], note="培训考核合格前暂停使用执法证件"
                ),
            ],
        )

        # The safety body's code never scanned: warned by phone, not rectified, recommendation; the body has
        # signed for it and uploaded its report, which waits for the bureau's review.
        finding = Finding.objects.filter(rule="code_not_scanned", body=body).order_by("pk").first()
        warning = steps.warn_body(
            supervisor,
            finding=finding,
            channel="phone",
            content="检查码未经企业扫码核验即开始检查，请规范亮码、扫码流程。",
            warned_on=_working_days_before(self.today, 6),
        )
        steps.record_warning_outcome(
            supervisor, warning=warning, rectified=False, note="仍有检查未扫码核验。", on=self.today
        )
        recommendation = steps.issue_recommendation(
            supervisor,
            finding=finding,
            facts="你单位执法人员实施涉企行政检查时，未提示企业扫描检查码核验检查任务和执法人员身份，经预警提醒后仍未整改。",
            legal_basis="《上海市涉企行政检查“检查码”应用工作方案》",
            demanded="一、入企检查前须由企业扫码核验；二、对执法人员开展检查码应用培训。",
        )
        steps.acknowledge_recommendation(head, recommendation=recommendation)
        steps.submit_rectification_report(
            head,
            recommendation=recommendation,
            text="已于本周组织全体执法人员开展检查码应用培训，入企前由企业扫码核验已列入检查流程并逐次检查。",
        )

        # The late record's body: warned, not rectified, recommendation, a report that does not answer it;
        # the bureau has asked the district government for a decision, which waits on its home page.
        finding = Finding.objects.filter(rule="late_record").exclude(body=body).order_by("pk").first()
        if finding is not None:
            late_head = User.objects.filter(role=Role.BODY_ADMIN, body=finding.body).order_by("pk").first()
            warning = steps.warn_body(
                supervisor,
                finding=finding,
                channel="phone",
                content="检查结果未在规定期限内录入，请及时录入并说明原因。",
                warned_on=_working_days_before(self.today, 9),
            )
            steps.record_warning_outcome(
                supervisor,
                warning=warning,
                rectified=False,
                note="复查时仍有检查结果逾期未录入。",
                on=_working_days_before(self.today, 4),
            )
            recommendation = steps.issue_recommendation(
                supervisor,
                finding=finding,
                facts="你单位实施涉企行政检查后，未在规定期限内录入检查结果，经预警提醒后仍未整改。",
                legal_basis="《上海市涉企行政检查“检查码”应用工作方案》",
                demanded="一、立即补录逾期的检查结果；二、明确检查结果录入的责任人和时限。",
            )
            if late_head is not None:
                steps.acknowledge_recommendation(late_head, recommendation=recommendation)
                steps.submit_rectification_report(
                    late_head, recommendation=recommendation, text="已提醒执法人员按时录入。"
                )
            steps.review_recommendation(
                supervisor,
                recommendation=recommendation,
                rectified=False,
                note="逾期结果仍未补录，未明确责任人，整改不到位。",
            )
            steps.request_decision(
                supervisor, recommendation=recommendation, note="监督建议书未落实，报请区政府制发监督决定书。"
            )

        # Step one on the overdue complaint: warned by phone today, the body has not yet answered.
        finding = Finding.objects.filter(rule="complaint_overdue").order_by("pk").first()
        if finding is not None:
            steps.warn_body(
                supervisor,
                finding=finding,
                channel="phone",
                content="12345投诉已超过办理期限，请尽快办理并反馈投诉人。",
            )

        # A reconsideration lead, accepted as a finding.
        lead = complaints.register_lead(
            supervisor,
            case_number=f"金府复〔{self.today.year}〕17号",
            body=self.bodies["310116-jt"],
            description="复议审理中发现，该单位对同一企业的检查未附检查依据，检查记录缺少执法人员签名。",
            received_on=self.today,
        )
        complaints.accept_lead(supervisor, lead=lead, title="检查记录缺少检查依据和执法人员签名")
        # One the reconsideration office registered itself this morning, waiting for the bureau's check.
        complaints.register_lead(
            User.objects.get(username="reconsider"),
            case_number=f"金府复〔{self.today.year}〕21号",
            body=self.bodies["310116-jt"],
            description="复议申请人称，该单位检查人员入企时未出示检查码，也未告知检查事项。",
            received_on=self.today,
        )

        # The quarter's sampling round, drawn, and a case-file review that found a problem.
        year, quarter = sampling.quarter_of(self.today)
        sampling_round = sampling.reveal_round(
            supervisor, sampling_round=sampling.commit_round(supervisor, year=year, quarter=quarter)
        )
        sheet = sampling.create_score_sheet(
            supervisor,
            name="行政执法案卷评查评分表",
            method=Method.CASE_FILE_REVIEW,
            items=[
                {"name": "检查计划按时备案并公告", "max": 30},
                {"name": "执法人员持证并出示检查码", "max": 40},
                {"name": "检查记录完整、依据充分", "max": 30},
            ],
        )
        # On-site observation (明察暗访) scored against the 五个严禁 and 八个不得 (seed 003 二（一）4).
        sampling.create_score_sheet(
            supervisor,
            name="明察暗访“五个严禁”“八个不得”评分表",
            method=Method.ONSITE_OBSERVATION,
            items=conduct.observation_score_items(),
        )
        sampled = SampledBody.objects.filter(round=sampling_round).order_by("position").first()
        sampling.record_review(
            supervisor,
            sampled=sampled,
            method=Method.CASE_FILE_REVIEW,
            sheet=sheet,
            scores={
                "检查计划按时备案并公告": 30,
                "执法人员持证并出示检查码": 15,
                "检查记录完整、依据充分": 25,
            },
            problem_items=["执法人员持证并出示检查码"],
            item_notes={"执法人员持证并出示检查码": "抽查的5份案卷中有2份未记录出示检查码"},
            notes="抽查本季度检查案卷5份。",
        )

    def _frequency_story(self, inspector: Inspector, featured: Enterprise) -> None:
        """A draft that breaks a rule: a third routine inspection of the featured enterprise by the same body
        this year. Submitting it shows the refusal naming the two earlier ones, and the exemptions."""
        from jianchama.inspections import services as tasks
        from jianchama.plans.models import Plan

        body = inspector.body
        colleague = next(
            p
            for p in body.inspectors.exclude(pk=inspector.pk)
            if p.certificates.valid_on(self.today).exists()
        )
        plan = Plan.objects.get(body=body, method="routine")
        item = plan.items.order_by("code").first()
        day = min(_date_after(self.today, 7), datetime.date(self.today.year, 12, 31))
        tasks.create_task(
            inspector.user,
            enterprise=featured,
            kind="routine",
            plan=plan,
            items=[item],
            inspectors=[inspector, colleague],
            legal_basis=item.legal_basis,
            window_start=day,
            window_end=day,
        )


# name, scope, period, limit, action, options (exemptions default to all six)
FREQUENCY_RULES: list[tuple[str, str, str, int, str, dict]] = [
    ("同一执法单位对同一企业每年至多2次", "per_body", "year", 2, "refuse", {}),
    (
        "低风险（A级）企业各部门合计每年至多3次",
        "all_bodies",
        "year",
        3,
        "justify",
        {"risk_grade": "A", "exemptions": ["complaint", "referred_case", "recheck"]},
    ),
    ("各部门合计每日超过1次的提示", "all_bodies", "day", 1, "warn", {"exemptions": []}),
    ("各部门合计每周超过2次的提示", "all_bodies", "week", 2, "warn", {"exemptions": []}),
    ("各部门合计每月超过3次的提示", "all_bodies", "month", 3, "warn", {"exemptions": []}),
    (
        "连续3次检查未发现问题的企业当年不再安排检查",
        "no_finding",
        "year",
        3,
        "justify",
        {"exemptions": ["complaint", "referred_case", "licensing", "enterprise_request"]},
    ),
]

# Safety production's trigger situations: code, situation, evidence required, the approver's role.
TRIGGER_SITUATIONS = [
    (
        "safety_verified_complaint",
        "经核实的投诉举报",
        "投诉举报登记记录（12345工单、来信来访记录等）、初步核实情况说明及照片或视频",
        "body_admin",
    ),
    (
        "safety_accident",
        "发生生产安全事故",
        "事故快报或事故信息报告、现场照片或视频、人员伤亡和财产损失情况说明",
        "body_admin",  # 情况紧急的可先行检查，一个工作日内补办审批
    ),
    (
        "safety_monitoring_alarm",
        "监测预警系统报警",
        "监测预警平台的报警记录（报警时间、点位、监测数值）及报警未及时消除的情况说明",
        "body_admin",
    ),
    (
        "safety_major_hazard_report",
        "重大事故隐患举报",
        "举报材料、隐患部位照片或视频、对照重大事故隐患判定标准的初步判定意见",
        "body_admin",
    ),
]


def _organisation_check(body8: str) -> str:
    """GB 11714's check character of an organisation code (weights 3,7,9,10,5,8,4,2 mod 11)."""

    def value(char: str) -> int:
        return int(char) if char.isdigit() else ord(char) - ord("A") + 10

    total = sum(value(c) * w for c, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return {10: "X", 11: "0"}.get(check, str(check))


# --- What the command prints -------------------------------------------------------------------------


def logins() -> list[DemoLogin]:
    """The staff demo logins that exist, in the order of STAFF_USERS."""
    found = {
        u.username: u
        for u in User.objects.filter(username__in=[s[0] for s in STAFF_USERS]).select_related(
            "body", "region"
        )
    }
    result = []
    for username, *_ in STAFF_USERS:
        user = found.get(username)
        if user is None:
            continue
        where = str(user.body or user.region or "")
        note = USER_NOTES.get(username, "")
        where = f"{where}（{note}）" if where and note else where or note
        result.append(DemoLogin(user.get_role_display(), username, user.full_name, where))
    return result


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def summary_lines(result: DemoResult) -> list[str]:
    """The few lines load_demo prints: what is loaded and how to log in."""
    c = result.counts
    head = "演示数据已载入" if result.created else "演示数据此前已载入，本次未做更改"
    lines = [
        f"{head}：{c['districts']} 个区、{c['bodies']} 个执法单位、{c['inspectors']} 名执法人员、"
        f"{c['enterprises']} 家企业、{c['items']} 个检查事项",
        f"登录 {reverse('core:login')}（工作人员密码均为 {DEMO_PASSWORD}）：",
    ]
    staff = logins()
    role_width = max((_width(s.role_label) for s in staff), default=0) + 2
    for s in staff:
        lines.append(f"  {_pad(s.role_label, role_width)}{s.username:<14}{_pad(s.full_name, 8)}{s.where}")
    contact = (
        User.objects.filter(username=CONTACT_USERNAME, role=Role.ENTERPRISE_CONTACT)
        .select_related("enterprise")
        .first()
    )
    if contact is not None:
        where_code = (
            "验证码打印在运行服务器的控制台（默认的控制台短信通道）"
            if settings.SMS_BACKEND.endswith("ConsoleBackend")
            else "验证码通过已配置的短信通道发送"
        )
        lines.append(
            f"  {_pad(contact.get_role_display(), role_width)}手机号 {contact.phone}（{contact.enterprise}），"
            f"在 {reverse('core:phone_login')} 获取验证码"
        )
        lines.append(f"  {_pad('', role_width)}{where_code}")
    return lines
