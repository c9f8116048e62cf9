"""Why an answer was refused, with an example of a good one (keys raised by flows/validators.py)."""

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "v.phone.not_number": "这不像电话号码,请只输入数字,例如 13812345678 或 010-12345678。",
        "v.phone.mobile_short": "手机号应为11位数字,你输入了{count}位,例如 13812345678。",
        "v.phone.mobile_long": "手机号应为11位数字,你输入了{count}位,例如 13812345678。",
        "v.phone.mobile_invalid": "没有这个号段的手机号,请核对,例如 13812345678。",
        "v.phone.no_area_code": "座机号请加区号,例如 010-12345678 或 0755-88889999。",
        "v.phone.landline_invalid": "座机号的区号或位数不对,例如 010-12345678 或 0755-88889999。",
        "v.phone.invalid": (
            "这不是有效的电话号码。手机如 13812345678,座机如 010-12345678,"
            "境外号码请带国家/地区代码,例如 +852 2123 4567。"
        ),
        "v.email.no_at": "邮箱地址缺少 @,例如 zhangsan@qq.com(只写 qq.com 不够)。",
        "v.email.many_at": "邮箱地址只能有一个 @,例如 zhangsan@qq.com。",
        "v.email.no_local": "@ 前面缺少用户名,例如 zhangsan@qq.com。",
        "v.email.domain_no_dot": "@ 后面需要完整的域名,例如 zhangsan@company.com(不是 customer@company)。",
        "v.email.bad_domain": "邮箱域名不对,请核对 @ 后面的部分,例如 zhangsan@qq.com。",
        "v.email.invalid": "邮箱格式不正确,不能有空格或特殊符号,例如 zhangsan@qq.com。",
        "v.uscc.length": "统一社会信用代码应为18位,你输入了{count}位,例如 91110000600037341L。",
        "v.uscc.chars": (
            "统一社会信用代码只含数字和大写字母(不含 I、O、Z、S、V),这些字符不对:{chars}。"
            "例如 91110000600037341L。"
        ),
        "v.uscc.department": "统一社会信用代码第1位是登记管理部门代码,不能为0,例如 91110000600037341L。",
        "v.uscc.region": "统一社会信用代码第3至8位应为数字(行政区划码),例如 91110000600037341L。",
        "v.uscc.checksum": "统一社会信用代码校验位不符,可能有字符输错,请对照营业执照核对,例如 91110000600037341L。",
        "v.company.bad_chars": "企业名称不能含表情或特殊符号,例如 阿里巴巴集团控股有限公司。",
        "v.company.too_short": "企业名称至少{min}个字,你输入了{count}个字,请填工商注册全称,例如 阿里巴巴集团控股有限公司。",
        "v.company.too_long": "企业名称最多{max}个字,你输入了{count}个字,例如 阿里巴巴集团控股有限公司。",
        "v.company.short_name": (
            "请填写工商注册全称(以有限公司、集团、厂、医院等结尾),而不是简称,"
            "例如 阿里巴巴集团控股有限公司,而不是 阿里。"
        ),
        "v.company.no_name": "只有公司类型,缺少字号,请填写完整名称,例如 阿里巴巴集团控股有限公司 或 Acme Trading Ltd。",
        "v.company.no_legal_form": "英文企业名称请带上公司类型,例如 Acme Trading Ltd 或 Example Inc。",
        "v.person.digits": "姓名不能含数字,例如 张伟 或 John Smith。",
        "v.person.bad_chars": "姓名只能含文字(少数民族姓名可用间隔号 ·),不能有表情或符号,例如 张伟 或 阿卜杜·热西提。",
        "v.person.mixed_script": "姓名请只用中文或只用英文,例如 张伟 或 Wei Zhang。",
        "v.person.too_short": "姓名至少{min}个字,你输入了{count}个字,例如 张伟。",
        "v.person.too_long": "姓名最多{max}个字,你输入了{count}个字,例如 张伟。",
        "v.person.title": "请填写真实姓名,而不是称呼,例如 王建国,而不是 王总 或 李先生。",
        "v.text.empty": "内容不能为空,请输入文字,例如:电话沟通了报价,客户希望下周安排演示。",
        "v.text.too_short": (
            "内容至少需要{min}个字,目前{count}个字。请写具体些,例如:电话沟通了报价,客户希望下周安排产品演示。"
        ),
        "v.text.too_long": "内容最多{max}个字,目前{count}个字,请精简一些。",
        "v.channel_time.empty": "请填写方便联系的时间,例如 工作日上午9-11点。",
        "v.channel_time.too_long": "联系时间最多{max}个字,目前{count}个字,例如 工作日上午9-11点。",
        "v.tags.empty": "请输入至少一个标签,多个标签用逗号或空格分隔,例如 VIP客户,高风险客户。",
        "v.tags.too_long": "标签“{tag}”太长,每个标签最多{max}个字,例如 VIP客户。",
        "v.tags.too_many": "最多{max}个标签,你输入了{count}个,例如 VIP客户,高风险客户。",
        "v.birthday.format": "没看懂这个日期,请写成年月日或月日,例如 1990-05-03、5月3日 或 05-03。",
        "v.birthday.impossible": "没有{month}月{day}日这一天,请核对,例如 5月3日。",
        "v.birthday.future": "生日不能在将来,例如 1990-05-03 或 5月3日。",
        "v.birthday.too_old": "{year}年太早了,请核对年份,例如 1990-05-03;不清楚年份可只写 5月3日。",
        "v.birthday.lunar": "请填写公历(阳历)生日,例如 1990-05-03 或 5月3日。",
        "v.address.bad_chars": "地址不能含表情或特殊符号,例如 广东省深圳市南山区科苑路15号。",
        "v.address.too_long": "地址最多{max}个字,目前{count}个字,例如 广东省深圳市南山区科苑路15号。",
        "v.address.too_short": "地址太短({count}个字,至少{min}个),请写街道和门牌号,例如 221B Baker Street, London。",
        "v.address.no_city": "地址缺少城市,请从省市写起,例如 广东省深圳市南山区科苑路15号。",
        "v.address.no_district": "地址缺少区/县,例如 北京市朝阳区建国路88号。",
        "v.address.no_number": "地址缺少门牌号,例如 广东省深圳市南山区科苑路15号。",
        "v.address.no_street": "地址缺少街道或路名,例如 广东省深圳市南山区科苑路15号。",
    },
    "en": {
        "v.phone.not_number": "That does not look like a phone number; type digits only, e.g. 13812345678 or 010-12345678.",
        "v.phone.mobile_short": "A mobile number has 11 digits, you typed {count}, e.g. 13812345678.",
        "v.phone.mobile_long": "A mobile number has 11 digits, you typed {count}, e.g. 13812345678.",
        "v.phone.mobile_invalid": "No mobile number starts like that; please check it, e.g. 13812345678.",
        "v.phone.no_area_code": "A landline needs its area code, e.g. 010-12345678 or 0755-88889999.",
        "v.phone.landline_invalid": (
            "The area code or the number of digits of this landline is wrong, e.g. 010-12345678 or 0755-88889999."
        ),
        "v.phone.invalid": (
            "That is not a valid phone number. Mobile e.g. 13812345678, landline e.g. 010-12345678, "
            "numbers outside mainland China with their country code, e.g. +852 2123 4567."
        ),
        "v.email.no_at": "An e-mail address needs an @, e.g. zhangsan@qq.com (qq.com alone is not enough).",
        "v.email.many_at": "An e-mail address has exactly one @, e.g. zhangsan@qq.com.",
        "v.email.no_local": "The name before the @ is missing, e.g. zhangsan@qq.com.",
        "v.email.domain_no_dot": (
            "The part after the @ must be a full domain, e.g. zhangsan@company.com (not customer@company)."
        ),
        "v.email.bad_domain": "The domain after the @ is not valid, e.g. zhangsan@qq.com.",
        "v.email.invalid": "That e-mail address is not valid (no spaces or special symbols), e.g. zhangsan@qq.com.",
        "v.uscc.length": "A Unified Social Credit Code has 18 characters, you typed {count}, e.g. 91110000600037341L.",
        "v.uscc.chars": (
            "A Unified Social Credit Code has only digits and capital letters except I, O, Z, S, V; "
            "these are not allowed: {chars}. E.g. 91110000600037341L."
        ),
        "v.uscc.department": (
            "The first character of the code (registration department) cannot be 0, e.g. 91110000600037341L."
        ),
        "v.uscc.region": "Characters 3 to 8 of the code are the region code (digits), e.g. 91110000600037341L.",
        "v.uscc.checksum": (
            "The check character does not match, so a character is probably mistyped; "
            "please compare with the business licence, e.g. 91110000600037341L."
        ),
        "v.company.bad_chars": "A company name cannot contain emoji or symbols, e.g. Alibaba Group Holding Limited.",
        "v.company.too_short": (
            "A company name has at least {min} characters, you typed {count}; "
            "use the full registered name, e.g. 阿里巴巴集团控股有限公司."
        ),
        "v.company.too_long": "A company name has at most {max} characters, you typed {count}, e.g. Acme Trading Ltd.",
        "v.company.short_name": (
            "Please type the full registered name (ending in 有限公司, 集团, 厂, 医院 …), not a short name, "
            "e.g. 阿里巴巴集团控股有限公司 rather than 阿里."
        ),
        "v.company.no_name": (
            "That is only the legal form; please give the whole name, e.g. 阿里巴巴集团控股有限公司 or Acme Trading Ltd."
        ),
        "v.company.no_legal_form": "Please include the legal form of the company, e.g. Acme Trading Ltd or Example Inc.",
        "v.person.digits": "A name cannot contain digits, e.g. 张伟 or John Smith.",
        "v.person.bad_chars": (
            "A name has letters only (· may join the parts of a minority name), no emoji or symbols, "
            "e.g. John Smith or 阿卜杜·热西提."
        ),
        "v.person.mixed_script": "Please write the name in Chinese or in Latin letters, not both, e.g. 张伟 or Wei Zhang.",
        "v.person.too_short": "A name has at least {min} characters, you typed {count}, e.g. John Smith or 张伟.",
        "v.person.too_long": "A name has at most {max} characters, you typed {count}, e.g. John Smith.",
        "v.person.title": "Please type the real name, not a form of address, e.g. 王建国 rather than 王总 or 李先生.",
        "v.text.empty": 'Please type some text, e.g. "Called about the quote; they want a demo next week."',
        "v.text.too_short": (
            "Please write at least {min} characters (now {count}), e.g. "
            '"Called about the quote; they want a product demo next week."'
        ),
        "v.text.too_long": "At most {max} characters (now {count}); please shorten it.",
        "v.channel_time.empty": "Please type when they prefer to be contacted, e.g. weekdays 9-11am.",
        "v.channel_time.too_long": "At most {max} characters (now {count}), e.g. weekdays 9-11am.",
        "v.tags.empty": "Please type at least one tag; separate tags with commas or spaces, e.g. VIP, high-risk.",
        "v.tags.too_long": 'The tag "{tag}" is too long: at most {max} characters per tag, e.g. VIP.',
        "v.tags.too_many": "At most {max} tags, you typed {count}, e.g. VIP, high-risk.",
        "v.birthday.format": "I could not read that date; write the day and month, with or without the year, e.g. 1990-05-03, 05-03 or 3 May.",
        "v.birthday.impossible": "Month {month} has no day {day}; please check it, e.g. 05-03.",
        "v.birthday.future": "A birthday cannot be in the future, e.g. 1990-05-03 or 3 May.",
        "v.birthday.too_old": "The year {year} is too early; please check it, e.g. 1990-05-03, or leave it out: 3 May.",
        "v.birthday.lunar": "Please give the Gregorian (not lunar) birthday, e.g. 1990-05-03 or 3 May.",
        "v.address.bad_chars": "An address cannot contain emoji or symbols, e.g. 221B Baker Street, London.",
        "v.address.too_long": "An address has at most {max} characters (now {count}), e.g. 221B Baker Street, London.",
        "v.address.too_short": (
            "That address is too short ({count} characters, at least {min}); "
            "give the street and number, e.g. 221B Baker Street, London."
        ),
        "v.address.no_city": "The city is missing; start with province and city, e.g. 广东省深圳市南山区科苑路15号.",
        "v.address.no_district": "The district or county is missing, e.g. 北京市朝阳区建国路88号.",
        "v.address.no_number": "The street number is missing, e.g. 广东省深圳市南山区科苑路15号 or 221B Baker Street.",
        "v.address.no_street": "The street name is missing, e.g. 广东省深圳市南山区科苑路15号 or 221B Baker Street.",
    },
}
