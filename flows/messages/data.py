"""Texts of team data in and out: backups, export, import, quality numbers, privacy (issue 13)."""

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "help.backup": "立即备份数据库和附件(管理员)",
        "data.backup_started": "🗄 正在备份数据库和附件…",
        "data.backup_done": "✅ 备份完成:{name}({size_mb} MB,{files} 个附件)。保留最近 7 天每天一份、12 个月每月一份{removed}。",
        "data.backup_removed": ",这次清理了 {count} 份旧备份",
        "data.backup_failed": "❌ 备份没有完成:{reason}",
    },
    "en": {
        "help.backup": "back up the database and attachments now (admins)",
        "data.backup_started": "🗄 Backing up the database and attachments…",
        "data.backup_done": "✅ Backup written: {name} ({size_mb} MB, {files} attachments). One a day is kept for 7 days and one a month for 12 months{removed}.",
        "data.backup_removed": "; {count} older backups were removed",
        "data.backup_failed": "❌ The backup did not complete: {reason}",
    },
}
