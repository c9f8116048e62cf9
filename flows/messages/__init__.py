"""Message catalogs, one module per area, each a MESSAGES = {"en": {...}, "zh": {...}} mapping."""
