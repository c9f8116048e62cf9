"""Texts for what the assistant does when something went wrong on the way: lost replies, redeliveries,
edited messages, group chats."""

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "bot.private_only": "为了保护客户信息,我只在私聊中工作。请点这里和我私聊:{link}",
        "bot.private_only_nolink": "为了保护客户信息,我只在私聊中工作。请在 Telegram 里搜索本机器人,和我私聊。",
        "bot.already_received": "这条消息我已经收到过了。",
        "bot.already_saved": "这条消息我已经收到过了,记录已保存:",
        "bot.question_again": "我不确定你是否看到了上一个问题,再发一次:",
        "bot.edit_not_applied": "修改之前的消息不会被采用。如需更正,请直接发一条新消息。",
        "flow.corrected": "✏️ 已更正{field}:{value}",
        "flow.correction_refused": "✏️ {field}的更正没有采用:{reason}",
        "flow.correction_not_applied": "这条更正对应的问题已经不在当前录入里了,没有采用。",
        "flow.correction_use_edit": "这一项请在核对页用“修改某项”更改。",
        "bot.busy": "⏳ 数据库暂时没有响应,这一步没有保存。你之前的回答都还在,请稍后再发一次。",
    },
    "en": {
        "bot.private_only": "To keep customer data private I only work in a private chat. Talk to me here: {link}",
        "bot.private_only_nolink": (
            "To keep customer data private I only work in a private chat. Find this bot in Telegram and "
            "write to it directly."
        ),
        "bot.already_received": "I had already received that message.",
        "bot.already_saved": "I had already received that message; it was saved:",
        "bot.question_again": "I am not sure my last question reached you, so here it is again:",
        "bot.edit_not_applied": "Edits to earlier messages are not applied. Send the correction as a new message.",
        "flow.corrected": "✏️ Corrected {field}: {value}",
        "flow.correction_refused": "✏️ The correction of {field} was not applied: {reason}",
        "flow.correction_not_applied": "That correction is for a question no longer in this entry; not applied.",
        "flow.correction_use_edit": "Change this one with “Edit a field” on the summary.",
        "bot.busy": (
            "⏳ The database did not answer in time, so this step was not saved. Your earlier answers are "
            "kept: please send it again in a moment."
        ),
    },
}
