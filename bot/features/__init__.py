"""The features, in the order /help lists them. Adding a command: a function in a feature (or a new
module here) and, for a new module, one line in this list."""

from __future__ import annotations

from bot.feature import Feature
from bot.features import (
    backup,
    cards,
    contacts,
    conversation,
    customers,
    deals,
    export,
    files,
    followups,
    handover,
    history,
    imports,
    lists,
    merge,
    notes,
    privacy,
    reminder_buttons,
    requests,
    settings,
    stats,
    team,
    transfers,
)

FEATURES: tuple[Feature, ...] = (
    customers.FEATURE,
    contacts.FEATURE,
    followups.FEATURE,
    notes.FEATURE,
    cards.FEATURE,
    files.FEATURE,
    lists.FEATURE,
    history.FEATURE,
    deals.FEATURE,
    team.FEATURE,
    transfers.FEATURE,
    handover.FEATURE,
    requests.FEATURE,
    merge.FEATURE,
    reminder_buttons.FEATURE,
    conversation.FEATURE,
    settings.FEATURE,
    backup.FEATURE,
    export.FEATURE,
    imports.FEATURE,
    stats.FEATURE,
    privacy.FEATURE,
)
