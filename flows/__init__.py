"""Conversation engine, field types and flow declarations. No Telegram, no SQL here."""
