"""Rasa event brokers: ``recording.ConversationRecorder`` keeps masked turn records for the analytics."""
