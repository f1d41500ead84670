"""rasa-sdk action server: answers citizens from the procedure knowledge base."""
