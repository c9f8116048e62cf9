"""English pieces of the date reader: word tables and the token patterns.

Patterns run on normalised, lower-cased text (see `flows.dates`). Word boundaries are written as
`(?<![a-z])`/`(?![a-z])` rather than `\\b` because a Chinese character next to an English word
("明天10am") counts as a word character for `\\b`.
"""

from __future__ import annotations

MONTHS: dict[str, int] = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
MONTH = "(?:" + "|".join(sorted(MONTHS, key=len, reverse=True)) + ")(?![a-z])"

WEEKDAYS: dict[str, int] = {
    "monday": 0,
    "mon": 0,
    "tuesday": 1,
    "tues": 1,
    "tue": 1,
    "wednesday": 2,
    "weds": 2,
    "wed": 2,
    "thursday": 3,
    "thurs": 3,
    "thur": 3,
    "thu": 3,
    "friday": 4,
    "fri": 4,
    "saturday": 5,
    "sat": 5,
    "sunday": 6,
    "sun": 6,
}
# Typos seen on phone keyboards; each still names one weekday only.
WEEKDAYS.update(
    {
        "mondy": 0,
        "monady": 0,
        "tuseday": 1,
        "teusday": 1,
        "tuesdy": 1,
        "tuesay": 1,
        "wednsday": 2,
        "wendsday": 2,
        "wensday": 2,
        "wedensday": 2,
        "wednesay": 2,
        "thursay": 3,
        "thurday": 3,
        "thrusday": 3,
        "thusday": 3,
        "firday": 4,
        "fridy": 4,
        "frday": 4,
        "saturady": 5,
        "satruday": 5,
        "sundy": 6,
    }
)
WEEKDAY = "(?:" + "|".join(sorted(WEEKDAYS, key=len, reverse=True)) + ")(?![a-z])"
# Abbreviations that are also ordinary English words: on their own in a note they are not dates.
WEAK_WEEKDAYS = frozenset({"sat", "sun", "wed"})

# "next" = that weekday in the next Monday-to-Sunday week, like 下周X; "last" = the most recent one
# before today, which is what "I met them last Friday" means on a Sunday; "this" = the nearest one.
WEEKDAY_MODS: dict[str, str] = {
    "this coming": "this",
    "coming": "this",
    "this": "this",
    "next": "next",
    "nxt": "next",
    "nex": "next",
    "last": "last",
    "past": "last",
    "previous": "last",
}
WEEKDAY_MOD = "|".join(m.replace(" ", r"\s+") for m in sorted(WEEKDAY_MODS, key=len, reverse=True))

REL_DAYS: dict[str, tuple[int, str | None]] = {
    "today": (0, None),
    "tonight": (0, "evening"),
    "tomorrow": (1, None),
    "tomorow": (1, None),
    "tommorow": (1, None),
    "tommorrow": (1, None),
    "tmrw": (1, None),
    "tmr": (1, None),
    "tmrow": (1, None),
    "tmorrow": (1, None),
    "tomorrw": (1, None),
    "tomrrow": (1, None),
    "tomoro": (1, None),
    "tomorro": (1, None),
    "2moro": (1, None),
    "2morrow": (1, None),
    "yesterday": (-1, None),
    "yday": (-1, None),
}
REL_DAY = "|".join(sorted(REL_DAYS, key=len, reverse=True))

NUMBER_WORDS: dict[str, int] = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
NUMBER = r"\d{1,5}|" + "|".join(sorted(NUMBER_WORDS, key=len, reverse=True))

HOUR_WORD = (
    "(?:"
    + "|".join(w for w in sorted(NUMBER_WORDS, key=len, reverse=True) if w not in ("a", "an"))
    + ")(?![a-z])"
)

# Offset units: prefix of the unit word -> (unit, multiplier).
UNITS: dict[str, tuple[str, int]] = {
    "minute": ("minute", 1),
    "min": ("minute", 1),
    "hour": ("minute", 60),
    "hr": ("minute", 60),
    "day": ("day", 1),
    "week": ("day", 7),
    "wk": ("day", 7),
    "fortnight": ("day", 14),
    "month": ("month", 1),
    "year": ("month", 12),
    "yr": ("month", 12),
}
UNIT = r"(?:minutes?|mins?|hours?|hrs?|days?|weeks?|wks?|fortnights?|months?|years?|yrs?)(?![a-z])"

PERIODS: dict[str, str] = {
    "morning": "morning",
    "afternoon": "afternoon",
    "evening": "evening",
    "night": "evening",
    "after lunch": "afterlunch",
}
HOLIDAYS: dict[str, str] = {
    "new year's day": "new_year",
    "new years day": "new_year",
    "new year day": "new_year",
    "new year's eve": "new_year_eve",
    "new years eve": "new_year_eve",
    "christmas day": "christmas",
    "christmas": "christmas",
    "xmas": "christmas",
    "christmas eve": "christmas_eve",
    "xmas eve": "christmas_eve",
    "chinese new year": "spring",
    "lunar new year": "spring",
    "spring festival": "spring",
    "cny": "spring",
    "national day": "national",
    "mid-autumn festival": "mid_autumn",
    "mid-autumn": "mid_autumn",
    "mid autumn": "mid_autumn",
    "dragon boat festival": "dragon",
    "labour day": "labour",
    "labor day": "labour",
}
HOLIDAY = "|".join(h.replace(" ", r"\s+").replace("'", "'?") for h in sorted(HOLIDAYS, key=len, reverse=True))
MONTH_PARTS: dict[str, str] = {
    "start": "start",
    "beginning": "start",
    "mid": "mid",
    "middle": "mid",
    "end": "end",
}
# Times of day said as words: end of (business) day = 17:00, first thing = 09:00.
DAY_WORDS: dict[str, tuple[int, str]] = {"eod": (5, "pm"), "cob": (5, "pm"), "first thing": (9, "am")}
AMPM = r"(?:[ap]\.\s?m\.|[ap]\.\s?m|[ap]\s?m)(?![a-z])"
# "the first Monday of next month": which one in the month; "last" counts from the end.
NTH: dict[str, int] = {
    "first": 1,
    "1st": 1,
    "second": 2,
    "2nd": 2,
    "third": 3,
    "3rd": 3,
    "fourth": 4,
    "4th": 4,
    "last": -1,
}
NTH_WORD = "|".join(sorted(NTH, key=len, reverse=True))
MONTH_MODS: dict[str, int] = {"this": 0, "the": 0, "next": 1, "nxt": 1, "last": -1}
# Units that move a day phrase on ("2 weeks from tomorrow"); a clock offset from a day is not a thing.
FROM_UNIT = r"(?:days?|weeks?|wks?|fortnights?|months?|years?|yrs?)(?![a-z])"

PATTERNS: list[tuple[str, str]] = [
    (
        "en_nth",
        rf"(?<![a-z])(?:the\s+)?(?P<en_nth_o>{NTH_WORD})\s+(?P<en_nth_w>{WEEKDAY})\s+(?:of|in)\s+"
        rf"(?:(?:the\s+)?(?P<en_nth_mod>this|next|nxt|last|the)\s+month(?![a-z])|(?P<en_nth_mon>{MONTH}))",
    ),
    (
        "en_iso",
        r"(?<![\d/.-])(?P<en_iso_y>\d{4})[-/.](?P<en_iso_m>\d{1,2})[-/.](?P<en_iso_d>\d{1,2})(?![\d/.-])(?:t(?=\d))?",
    ),
    (
        "en_num",
        r"(?<![\d/.-])(?P<en_num_a>\d{1,2})(?P<en_num_sep>[/-])(?P<en_num_b>\d{1,2})"
        r"(?:(?P=en_num_sep)(?P<en_num_y>\d{4}|\d{2}))?(?![\d/-])",
    ),
    (
        "en_mdy",
        rf"(?<![a-z])(?P<en_mdy_mon>{MONTH})\.?\s*(?:the\s+)?(?P<en_mdy_d>\d{{1,2}})(?:st|nd|rd|th)?(?![\d:a-z])"
        r"(?:\s*,?\s*(?P<en_mdy_y>\d{4})(?![\d:]))?",
    ),
    (
        "en_dmy",
        r"(?<![\d.:/-])(?:(?<![a-z])the\s+)?(?P<en_dmy_d>\d{1,2})(?:st|nd|rd|th)?\s*(?:of\s+)?"
        rf"(?P<en_dmy_mon>{MONTH})\.?(?:\s*,?\s*(?P<en_dmy_y>\d{{4}})(?![\d:]))?",
    ),
    (
        "en_month",
        rf"(?<![a-z])(?:(?:in|of)\s+)?(?P<en_month_mon>{MONTH})(?:\s*,?\s*(?P<en_month_y>\d{{4}}))?",
    ),
    (
        "en_hol",
        rf"(?<![a-z])(?:(?P<en_hol_after>after)\s+(?:the\s+)?)?(?P<en_hol_w>{HOLIDAY})(?:\s+(?:holidays?|break))?"
        r"(?![a-z])",
    ),
    (
        "en_mpart",
        r"(?<![a-z])(?:(?:the\s+)?(?P<en_mp_p>start|beginning|middle|mid|end)(?:\s*-\s*|\s+)(?:of\s+)?(?:the\s+)?"
        r"(?:(?P<en_mp_mod>this|next|nxt|last)\s+)?month|(?P<en_mp_mid>mid)\s*-?\s*month|(?P<en_mp_eom>eom))"
        r"(?![a-z])",
    ),
    (
        "en_ord",
        r"(?<![a-z\d])(?:the\s+)?(?P<en_ord_d>\d{1,2})(?:st|nd|rd|th)(?![a-z])"
        r"(?:\s+(?:of\s+)?(?:the\s+)?(?P<en_ord_mod>this|next|nxt|last)\s+month(?![a-z]))?",
    ),
    (  # "in 1 day and 2 hours", "2 weeks 3 days ago": a sum of units (read as one offset)
        "en_sum",
        rf"(?<![a-z\d])(?P<en_sum_in>in\s+)?(?P<en_sum_body>(?:{NUMBER})\s*{UNIT}(?:\s*,?\s*(?:and\s+)?(?:{NUMBER})\s*{UNIT})+)"
        r"(?:\s+(?P<en_sum_dir>ago|from\s+now|later|hence)(?![a-z]))?",
    ),
    (
        "en_in",
        rf"(?<![a-z])(?:in|within|after)\s+(?P<en_in_n>{NUMBER}|half\s+an?|an?\s+half)\s*(?P<en_in_unit>{UNIT})"
        r"(?P<en_in_half>\s+and\s+a\s+half(?![a-z]))?(?:\s+(?:from\s+now|later|time))?"
        r"(?!\s+(?:from|after|before)\s+\S)",  # "in 2 weeks from Monday" is en_from's
    ),
    (
        "en_ago",
        rf"(?<![a-z\d])(?P<en_ago_n>{NUMBER})\s*(?P<en_ago_unit>{UNIT})\s+"
        # "3 days before"/"3 days after" with nothing after them: 3 days ago / later (with a day
        # phrase after them they are "en_from" below)
        r"(?P<en_ago_dir>ago|from\s+now|later|hence|(?:before|after)(?!\s*[a-z\d\u3400-\u9fff]))(?![a-z])",
    ),
    # "2 weeks from tomorrow", "a week after Friday": an offset from the day phrase that follows
    (
        "en_from",
        rf"(?<![a-z\d])(?:in\s+)?(?:(?:(?P<en_from_n>{NUMBER})\s*(?P<en_from_unit>{FROM_UNIT})|(?P<en_from_fn>fortnight))"
        r"\s+(?P<en_from_dir>from(?![a-z])|(?:after|before)(?![a-z])(?=\s+\S)"
        rf"|on(?=\s+(?:(?:next|this)\s+)?(?:{WEEKDAY}|{REL_DAY})))"  # "a week on Friday" (British)
        # "the day after Friday"; "the day after tomorrow" is a day of its own (en_rel)
        rf"|(?P<en_from_day>the\s+day)\s+(?P<en_from_dd>after|before)(?=\s+\S)(?!\s+(?:{REL_DAY})(?![a-z])))",
    ),
    (
        "en_tonight",
        r"(?<![a-z])tonight\s+(?:at\s+|@\s*)?(?P<en_tn_h>\d{1,2})(?![\d:./])"
        r"(?!\s*(?:a\.?\s?m|p\.?\s?m|o'?\s*clock))",
    ),
    ("en_fortnight", r"(?<![a-z])a\s+fortnight(?:'?s\s+time)?(?:\s+from\s+(?:now|today))?(?![a-z])"),
    # "2 weeks", "3 days", "48 hours" said alone: in that long (ago, for an interaction);
    # "a fortnight" stays en_fortnight's, a follow-up only, as before
    ("en_bare", rf"(?<![a-z\d])(?P<en_bare_n>{NUMBER})\s*(?P<en_bare_unit>{UNIT})(?!\s*[a-z\d])"),
    (
        "en_rel",
        rf"(?<![a-z])(?P<en_rel_w>(?:the\s+)?day\s+after\s+tomorrow|(?:the\s+)?day\s+before\s+yesterday|{REL_DAY})"
        r"(?![a-z])",
    ),
    (
        "en_week",
        r"(?<![a-z])(?:(?P<en_week_mod>this|next|nxt|last|previous)\s+(?:week|wk)|(?P<en_week_zh>next|nxt)\s*(?=周|星期|礼拜)|(?P<en_week_after>the\s+week\s+after\s+next"
        r"|week\s+after\s+next))(?![a-z])",
    ),
    (
        "en_wd",
        rf"(?<![a-z])(?:(?P<en_wd_mod>{WEEKDAY_MOD})\s+)?(?P<en_wd_w>{WEEKDAY})\.?"
        r"(?:\s+(?P<en_wd_plus>week)(?![a-z])|\s+(?P<en_wd_an>after\s+next)(?![a-z]))?",
    ),
    (
        "en_later",
        r"(?<![a-z])(?:(?:this|next|last)\s+(?:month|year))(?![a-z])",
    ),
    (
        "en_weekend",
        r"(?<![a-z])(?:(?P<en_we_mod>this|next|nxt|last|the)\s+)?week\s*-?\s*end(?![a-z])",
    ),
    (
        "en_ap",
        rf"(?:(?<![a-z])(?:after|before)\s+)?(?<![\d:.])(?P<en_ap_h>\d{{1,2}})(?:[:.](?P<en_ap_m>\d{{2}}))?\s*(?P<en_ap_ap>{AMPM})",
    ),
    # "half past three", "quarter to 10", "ten am", "at ten", "ten o'clock": hours said as words
    (
        "en_past",
        rf"(?<![a-z\d])(?P<en_past_q>half|(?:a\s+)?quarter|\d{{1,2}}|{HOUR_WORD})(?:\s+minutes?)?\s+"
        rf"(?P<en_past_dir>past|to)\s+(?P<en_past_h>\d{{1,2}}|{HOUR_WORD})(?![a-z\d:])"
        rf"(?:\s*(?P<en_past_ap>{AMPM}))?",
    ),
    (
        "en_hw",
        rf"(?<![a-z])(?:(?:at|@|around|about)\s*)?(?P<en_hw_h>{HOUR_WORD})\s*"
        rf"(?:(?P<en_hw_ap>{AMPM})|(?P<en_hw_oc>o'?\s*clock)(?![a-z]))"
        # "at ten" only where a time fits: at the end, before a stop or a day ("at one point" is no time)
        rf"|(?<![a-z])(?:at|@|around|about)\s+(?P<en_hw_at>{HOUR_WORD})"
        rf"(?=\s*$|\s*[,.;!?]|\s+(?:{REL_DAY}|today|tonight|on|in|this|next|{WEEKDAY}))",
    ),
    ("en_col", r"(?<![\d:.])(?P<en_col_h>\d{1,2}):(?P<en_col_m>\d{2})(?::\d{2})?(?![\d:])"),
    ("en_oclock", r"(?<![\d:])(?P<en_oc_h>\d{1,2})\s*o'?\s*clock(?![a-z])"),
    # "after 3pm tomorrow", "before noon": the time itself, as dateparser read them
    ("en_word", r"(?<![a-z])(?:(?:after|before)\s+)?(?P<en_word_w>noon|midday|midnight)(?![a-z])"),
    (
        "en_dayword",
        r"(?<![a-z])(?P<en_dw_w>eod|cob|first\s+thing|end\s+of\s+(?:the\s+)?(?:business\s+|working\s+|work\s+)?day"
        r"|close\s+of\s+business)(?![a-z])(?:\s+in\s+the\s+morning)?",
    ),
    (
        "en_eow",
        r"(?<![a-z])(?:eow|end\s+of\s+(?:the\s+)?(?:(?P<en_eow_mod>this|next|nxt)\s+)?(?:work\s*)?week)(?![a-z])",
    ),
    ("en_dot", r"(?<![\d:./])(?P<en_dot_h>\d{1,2})\.(?P<en_dot_m>\d{2})(?![\d./])"),
    (
        "en_at",
        r"(?<![a-z])(?:at|@|around|about)\s*(?P<en_at_h>\d{1,2})(?![\d:/.])"
        rf"(?!\s*(?:a\.?\s?m|p\.?\s?m|o'?\s*clock|[点时号日月]|st|nd|rd|th|{UNIT}))",
    ),
    (
        "en_period",
        r"(?<![a-z])(?:(?:this|in\s+the|at)\s+)?(?P<en_period_w>morning|afternoon|evening|night|after\s+lunch)(?![a-z])",
    ),
    ("en_now", r"(?<![a-z])(?:right\s+now|just\s+now|now)(?![a-z])"),
]

FILLERS = (
    "from",  # "from tomorrow" = tomorrow, as dateparser read it
    "starting",
    "at",
    "on",
    "the",
    "of",
    "by",
    "around",
    "about",
    "approx",
    "ish",
    "please",
    "pls",
    "follow up",
    "follow-up",
    "followup",
    "call",
    "meet",
    "again",
    "back",
)

# Words that do not name a day; an answer made of them (and no clear date) is refused as vague.
VAGUE = (
    "soon",
    "asap",
    "a.s.a.p",
    "sometime",
    "some time",
    "later",
    "a few days",
    "few days",
    "couple of days",
    "couple of weeks",
    "couple weeks",
    "few weeks",
    "when possible",
    "whenever",
    "at some point",
    "shortly",
)
