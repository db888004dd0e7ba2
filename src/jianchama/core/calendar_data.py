"""The official holiday schedules as the maintained `chinesecalendar` library knows them."""

from __future__ import annotations

import datetime
from collections import defaultdict

from chinese_calendar import constants

LIBRARY_SOURCE = "chinesecalendar 库（国务院办公厅节假日安排）"

HOLIDAY_NAMES = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "中国人民抗日战争暨世界反法西斯战争胜利70周年纪念日",
}


def library_schedule() -> dict[int, list[tuple[datetime.date, str, str]]]:
    """Year → [(date, "holiday" | "workday", Chinese name)] for every year the library covers."""
    years: dict[int, list[tuple[datetime.date, str, str]]] = defaultdict(list)
    for day, name in constants.holidays.items():
        years[day.year].append((day, "holiday", HOLIDAY_NAMES.get(str(name), str(name))))
    for day, name in constants.workdays.items():
        years[day.year].append((day, "workday", HOLIDAY_NAMES.get(str(name), str(name)) + "调休"))
    return {year: sorted(rows) for year, rows in sorted(years.items())}
