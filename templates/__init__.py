"""Sceptre template handlers, one per stack: ``sceptre_handler(sceptre_user_data) -> str``."""
