"""Texts of the date reader: every refusal says why and shows what to type instead."""

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "date.empty": "请输入下次跟进的时间,例如:明天上午10点、下周二下午两点、3天后。",
        "date.empty_past": "请输入沟通的日期,例如:今天、昨天、上周五、3天前。",
        "date.unknown": "没看懂这个时间。可以这样写,例如:明天上午10点、下周二下午两点、3天后、12月3日 14:00。",
        "date.unknown_past": "没看懂这个日期。可以这样写,例如:今天、昨天、周一、上周五、3天前、11月20日。",
        "date.too_long": "内容太长了,请只输入时间,例如:明天上午10点、下周二下午两点。",
        "date.no_such_date": "没有 {date_zh} 这一天。请检查月份和日期,例如:2月28日、3月1日。",
        "date.bad_time": "没有 {time} 这个时间:小时是 0–23,分钟是 0–59。例如:14:00、下午2点半。",
        "date.bad_weekday": "星期只有周一到周日。例如:下周一、本周五、星期天。",
        "date.period_mismatch": "时段和钟点对不上(例如“上午8pm”“晚上3点”)。请写成:下午3点、晚上8点 或 15:00。",
        "date.need_day": "请说明具体是哪一天,例如:3月15日、下个月15号、下周一上午10点。",
        "date.need_time": "没写几点,默认的 {when_zh} 已经过了。请加上时间,例如:今天下午5点、今晚8点。",
        "date.time_passed": "{when_zh} 已经过了。下次跟进要在将来,例如:明天上午10点、下周二下午两点。",
        "date.in_past": "{when_zh} 已经过去了。下次跟进要在将来,例如:明天上午10点、下周二下午两点、3天后。",
        "date.in_future": "{when_zh} 还没到。沟通日期不能在将来,例如:今天、昨天、上周五、3天前。",
        "date.conflict": "这里有两个对不上的时间(例如“明天”和“周五”同时出现),请只写一个,例如:周五下午3点。",
        "date.weekday_mismatch": "{date_zh} 是{weekday_zh},和写的星期几对不上。请检查后重新输入,例如:11月24日 14:00。",
        "date.too_far": "这个时间离现在太远了(超过10年)。请检查后重新输入,例如:明年1月10号。",
        "date.ambiguous": "这个时间有两种理解,请选一个;或者写得更明确,例如:12月3日、下午3点。",
        "date.default_hour_note": "(没写几点,按 {hour} 记录。)",
        "date.vague": "“过几天”“尽快”这类说法没有具体日期。请写明哪一天,例如:3天后、下周一、月底、明天下午3点。",
        "date.no_schedule": "{year}年的放假安排还没公布,算不出节后第一个工作日。请直接写日期,例如:2月15日 上午10点。",
        "date.no_such_lunar_date": "农历没有 {month}月{day} 这一天(农历每月只有29或30天)。请检查后重新输入,例如:正月初八、农历八月十五。",
    },
    "en": {
        "date.empty": "Please type when to follow up, e.g. tomorrow 10am, next Tuesday 2pm, in 3 days.",
        "date.empty_past": "Please type the day it happened, e.g. today, yesterday, last Friday, 3 days ago.",
        "date.unknown": "I couldn't read that as a time. Try e.g. tomorrow 10am, next Tuesday 2pm, in 3 days,"
        " Dec 3 14:00.",
        "date.unknown_past": "I couldn't read that as a date. Try e.g. today, yesterday, Monday, last Friday,"
        " 3 days ago, Nov 20.",
        "date.too_long": "That is too long; please type just the time, e.g. tomorrow 10am or next Tuesday 2pm.",
        "date.no_such_date": "There is no {date_en}. Please check the month and day, e.g. 28 Feb, 1 Mar.",
        "date.bad_time": "{time} is not a time of day: hours go 0-23 and minutes 0-59. E.g. 14:00, 2:30pm.",
        "date.bad_weekday": "There are only seven weekdays, Monday to Sunday. E.g. next Monday, this Friday.",
        "date.period_mismatch": 'The part of day and the hour don\'t match (like "morning 8pm"). Write e.g. 3pm,'
        " 8pm or 15:00.",
        "date.need_day": "Which day exactly? E.g. March 15, the 15th of next month, next Monday 10am.",
        "date.need_time": "No time was given and the default, {when_en}, has already passed. Add a time,"
        " e.g. today 5pm, tonight 8pm.",
        "date.time_passed": "{when_en} has already passed. A follow-up must be in the future, e.g. tomorrow"
        " 10am, next Tuesday 2pm.",
        "date.in_past": "{when_en} is in the past. A follow-up must be in the future, e.g. tomorrow 10am,"
        " next Tuesday 2pm, in 3 days.",
        "date.in_future": "{when_en} hasn't happened yet. The interaction date can't be in the future, e.g."
        " today, yesterday, last Friday, 3 days ago.",
        "date.conflict": 'That names two different times (like "tomorrow" and "Friday"). Please give one,'
        " e.g. Friday 3pm.",
        "date.weekday_mismatch": "{date_en} is a {weekday_en}, not the weekday you typed. Please check it,"
        " e.g. Tue 24 Nov 14:00.",
        "date.too_far": "That is more than 10 years away. Please check it, e.g. Jan 10 next year as 2027-01-10.",
        "date.ambiguous": "That can be read two ways - please pick one, or write it unambiguously, e.g. Dec 3,"
        " 3 Dec, 3pm.",
        "date.default_hour_note": "(No time given, so {hour} is used.)",
        "date.vague": 'Words like "soon" or "in a few days" name no day. Please say which, e.g. in 3 days,'
        " next Monday, end of the month, tomorrow 3pm.",
        "date.no_schedule": "The {year} public-holiday schedule is not published yet, so the first working day"
        " after the holiday is unknown. Please give the date, e.g. 15 Feb 10am.",
        "date.no_such_lunar_date": "There is no lunar {month}/{day} (a lunar month has 29 or 30 days). Please"
        " check it, e.g. 正月初八, 农历八月十五.",
    },
}
