"""Chinese pieces of the date reader: numerals, traditional forms and the token patterns.

Patterns run on text that `flows.dates` has already normalised (NFKC, lower case, traditional
characters mapped, Chinese numerals turned into ASCII digits), so they only need ASCII digits.
"""

from __future__ import annotations

# Traditional characters people type on a Taiwan/Hong Kong keyboard, mapped to the simplified
# ones the patterns use. Only characters that occur in date phrases.
TRADITIONAL = str.maketrans(
    {
        "點": "点",
        "週": "周",
        "後": "后",
        "號": "号",
        "個": "个",
        "禮": "礼",
        "鐘": "钟",
        "時": "时",
        "兩": "两",
        "這": "这",
        "間": "间",
        "裡": "里",
        "裏": "里",
        "頭": "头",
        "鍾": "钟",
    }
)

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}
NUMERAL_CHARS = frozenset(_DIGITS) | frozenset(_UNITS)


def numeral_value(run: str) -> str | None:
    """A run of Chinese numeral characters as ASCII digits ("二十五" -> "25", "二〇二六" -> "2026").

    Runs without 十/百/千 are read digit by digit, which also covers years and "零五" minutes.
    Returns None for runs that are not a well-formed number ("十十"), so they are left alone.
    """
    if not any(ch in _UNITS for ch in run):
        return "".join(str(_DIGITS[ch]) for ch in run)
    total = 0
    digit: int | None = None
    last_unit = 10_000
    for ch in run:
        if ch in _DIGITS:
            if digit is not None and digit != 0:
                return None
            digit = _DIGITS[ch]
        else:
            unit = _UNITS[ch]
            if unit >= last_unit:
                return None
            total += (1 if digit is None else digit) * unit
            digit = None
            last_unit = unit
    if digit is not None:
        total += digit
    return str(total)


# Relative days. Longer words come first so that 大后天 is not read as 后天.
REL_DAYS: dict[str, tuple[int, str | None]] = {
    "大后天": (3, None),
    "大前天": (-3, None),
    "后天": (2, None),
    "前天": (-2, None),
    "今天": (0, None),
    "今日": (0, None),
    "今儿": (0, None),
    "明天": (1, None),
    "明日": (1, None),
    "明儿": (1, None),
    "昨天": (-1, None),
    "昨日": (-1, None),
    "今早": (0, "morning"),
    "今晚": (0, "evening"),
    "今夜": (0, "evening"),
    "明早": (1, "morning"),
    "明晚": (1, "evening"),
    "昨晚": (-1, "evening"),
    "昨早": (-1, "morning"),
}
REL_DAY = "|".join(sorted(REL_DAYS, key=len, reverse=True))

PERIODS: dict[str, str] = {
    "凌晨": "dawn",
    "清晨": "morning",
    "早上": "morning",
    "早晨": "morning",
    "上午": "morning",
    "中午": "noon",
    "午后": "afternoon",
    "下午": "afternoon",
    "傍晚": "dusk",
    "晚上": "evening",
    "晚间": "evening",
    "夜里": "evening",
    "夜间": "evening",
}
# After lunch is its own part of the day: 13:00 when no hour is given, afternoon hours otherwise.
PERIODS.update(
    {"午饭后": "afterlunch", "午饭以后": "afterlunch", "吃完午饭": "afterlunch", "午休后": "afterlunch"}
)
PERIOD = "|".join(sorted(PERIODS, key=len, reverse=True))

# 本周/这周 = this Monday-to-Sunday week, 下周 = the next one, 上周 = the one before.
WEEK_SHIFTS: dict[str, int] = {
    "下下个": 2,
    "下下": 2,
    "下个": 1,
    "下": 1,
    "上上个": -2,
    "上上": -2,
    "上个": -1,
    "上": -1,
    "本": 0,
    "这个": 0,
    "这一": 0,
    "这": 0,
}
WEEK_MOD = "|".join(sorted(WEEK_SHIFTS, key=len, reverse=True))

MONTH_SHIFTS: dict[str, int] = {
    "下个月": 1,
    "下月": 1,
    "次月": 1,
    "本月": 0,
    "这个月": 0,
    "这月": 0,
    "上个月": -1,
    "上月": -1,
}
MONTH_REL = "|".join(sorted(MONTH_SHIFTS, key=len, reverse=True))

YEAR_SHIFTS: dict[str, int] = {"明年": 1, "今年": 0, "去年": -1, "后年": 2, "前年": -2}
YEAR_REL = "|".join(YEAR_SHIFTS)

# Units of "3天后" style offsets: (unit, multiplier).
OFFSET_UNITS: dict[str, tuple[str, int]] = {
    "刻钟": ("minute", 15),
    "分钟": ("minute", 1),
    "分": ("minute", 1),
    "小时": ("minute", 60),
    "钟头": ("minute", 60),
    "天": ("day", 1),
    "日": ("day", 1),
    "周": ("day", 7),
    "星期": ("day", 7),
    "礼拜": ("day", 7),
    "月": ("month", 1),
    "年": ("month", 12),
}
OFFSET_UNIT = "|".join(sorted(OFFSET_UNITS, key=len, reverse=True))
AFTER_WORDS = ("之后", "以后", "过后", "后")
OFFSET_DIR = "之后|以后|过后|之前|以前|后|前"

# What may follow 后/前 as an amount of days, weeks, months or years (后3天, 前1周, 后2个月); 月 needs
# 个, as in 3个月后, and nothing may follow that makes it a date or a time (后3天 is not 后3日下午…).
POST_AMOUNT = (
    r"\d{1,5}\s*(?:天|日(?!\s*\d)|周(?!\s*[\d日天末])|星期(?!\s*[\d日天])|礼拜(?!\s*[\d日天])|个\s*月|年)"
)

# Holidays by name -> the key `flows.dates` dates them by (solar, lunar or solar term). Numerals
# are already digits here: 大年初一 is 大年初1.
HOLIDAYS: dict[str, str] = {
    "元旦节": "new_year",
    "元旦": "new_year",
    "春节": "spring",
    "过年": "spring",
    "大年初1": "spring",
    "除夕": "eve",
    "大年30": "eve",
    "年30": "eve",
    "元宵节": "lantern",
    "元宵": "lantern",
    "清明节": "qingming",
    "清明": "qingming",
    "劳动节": "labour",
    "端午节": "dragon",
    "端午": "dragon",
    "中秋节": "mid_autumn",
    "中秋": "mid_autumn",
    "国庆节": "national",
    "国庆": "national",
    "圣诞节": "christmas",
    "圣诞": "christmas",
    "平安夜": "christmas_eve",
}
HOLIDAY = "|".join(sorted(HOLIDAYS, key=len, reverse=True))
LUNAR_MONTHS = {"正": 1, "冬": 11, "腊": 12}
# 月初 = the 1st, 月中/中旬 = the 15th, 月底/月末 = the last day (the rule is in the help text).
MONTH_PARTS: dict[str, str] = {"初": "start", "中旬": "mid", "中": "mid", "底": "end", "末": "end"}

# Token patterns, as (kind, regex). Group names are prefixed by the kind so that they stay unique
# once every pattern is joined into one alternation.
PATTERNS: list[tuple[str, str]] = [
    (  # 下个月第一个周一, 12月最后一个星期五 (numerals are digits here: 第1个周1)
        "zh_nth",
        rf"(?:(?P<zh_nth_mr>{MONTH_REL})|(?<!\d)(?P<zh_nth_m>\d{{1,2}})\s*月)\s*(?:的\s*)?"
        r"(?:第\s*(?P<zh_nth_n>[1-4])|(?P<zh_nth_last>最后)\s*1?)\s*个\s*(?:周|星期|礼拜)\s*(?P<zh_nth_wd>\d|[日天])",
    ),
    (
        "zh_holiday",
        rf"(?P<zh_hol_w>{HOLIDAY})(?:\s*(?P<zh_hol_after>之后|以后|过后|后)(?!\s*{POST_AMOUNT}))?",
    ),
    (
        "zh_lunar",
        r"(?:(?P<zh_lun_pre>农历|阴历)\s*(?P<zh_lun_m1>\d{1,2})\s*月|(?P<zh_lun_m2>[正冬腊])\s*月"
        r"|(?<!\d)(?P<zh_lun_m3>\d{1,2})\s*月(?=\s*[初廿]))"
        r"\s*(?:初\s*(?P<zh_lun_d1>\d{1,2})|廿\s*(?P<zh_lun_d2>\d)|(?P<zh_lun_d3>\d{1,2}))(?!\d)(?:\s*[日号])?",
    ),
    (
        "zh_mpart",
        rf"(?:(?P<zh_mp_mr>{MONTH_REL})|(?<!\d)(?P<zh_mp_m>\d{{1,2}})\s*月|月)\s*(?P<zh_mp_p>中旬|初|中|底|末)"
        r"(?!\s*[午\d])",
    ),
    (
        "zh_ymd",
        rf"(?:(?<!\d)(?P<zh_ymd_y>\d{{4}})\s*年\s*|(?P<zh_ymd_yr>{YEAR_REL})\s*)?"
        rf"(?:(?<!\d)(?P<zh_ymd_m>\d{{1,2}})\s*月(?!\s*[前后])|(?P<zh_ymd_mr>{MONTH_REL}))"
        r"\s*(?:(?P<zh_ymd_d>\d{1,2})\s*[日号])?",
    ),
    ("zh_year", rf"(?:(?<!\d)(?P<zh_year_y>\d{{4}})\s*年|(?P<zh_year_r>{YEAR_REL}))(?!\s*[前后])"),
    (
        "zh_offset",
        r"(?<!\d)(?P<zh_off_n>\d{1,5}|半)\s*(?P<zh_off_ge>个)?\s*(?P<zh_off_half>半)?\s*(?:个\s*)?"
        rf"(?P<zh_off_unit>{OFFSET_UNIT})\s*(?P<zh_off_half2>半)?\s*(?P<zh_off_dir>{OFFSET_DIR})",
    ),
    (  # 下周一之后两周, 国庆后三天, 春节前一周: an offset from the day phrase before it
        "zh_post",
        rf"(?P<zh_post_dir>之后|以后|过后|后|之前|以前|前)\s*(?={POST_AMOUNT})(?P<zh_post_n>\d{{1,5}})\s*"
        r"(?P<zh_post_ge>个)?\s*(?P<zh_post_unit>天|日|周|星期|礼拜|月|年)",
    ),
    ("zh_day", r"(?<!\d)(?P<zh_day_d>\d{1,2})\s*[日号]"),
    ("zh_rel", rf"(?P<zh_rel_w>{REL_DAY})"),
    (
        "zh_week",
        rf"(?P<zh_week_mod>{WEEK_MOD})?\s*(?:周|星期|礼拜)\s*(?P<zh_week_wd>\d{{1,2}}|[日天末])"
        rf"|(?P<zh_week_mod2>{WEEK_MOD})\s*(?:周|星期|礼拜)",
    ),
    ("zh_period", rf"(?P<zh_period_w>{PERIOD})"),
    (
        "zh_cha",
        r"差\s*(?:(?P<zh_cha_q>[123])\s*刻|(?P<zh_cha_m>\d{1,2})\s*分(?:钟)?)\s*(?P<zh_cha_h>\d{1,2})\s*[点时]",
    ),
    (
        "zh_time",
        r"(?<!\d)(?P<zh_time_h>\d{1,2})\s*[点时]\s*(?:钟\s*)?"
        r"(?:差\s*(?:(?P<zh_time_lq>[123])\s*刻|(?P<zh_time_lm>\d{1,2})\s*分(?:钟)?)"
        r"|(?P<zh_time_q>[123])\s*刻|(?P<zh_time_half>半)|整|(?P<zh_time_m>\d{1,2})(?!\d)\s*分?)?",
    ),
    ("zh_now", r"现在|刚刚|刚才|此刻"),
]

# Words that may stand between or after the date parts without changing their meaning.
FILLERS = (
    "的",
    "在",
    "于",
    "到",
    "左右",
    "大概",
    "大约",
    "约",
    "再跟进",
    "跟进",
    "再联系",
    "联系",
    "回访",
    "再",
    "见",
    "吧",
    "那就",
    "就",
    "我看",
    "定在",
    "改到",
    "改成",
)

# Words that do not name a day; an answer made of them (and no clear date) is refused as vague.
VAGUE = (
    "过几天",
    "几天后",
    "过些天",
    "过段时间",
    "改天",
    "回头",
    "有空",
    "尽快",
    "近期",
    "最近",
    "以后再说",
    "几周后",
)
