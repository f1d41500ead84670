"""Conversation records and the analytics pages (issue 12, deliverables 1 and 2)."""
