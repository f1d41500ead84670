"""``UndertheseaTokenizer``: Vietnamese word segmentation as a Rasa 3.6 graph component.

Rasa's whitespace tokenizer would split "căn cước" into two unrelated
tokens and treat "can cuoc" (typed without diacritics) as different words.
This tokenizer normalises with ``vntext`` (NFC, abbreviations, tone
placement), groups syllables into words with underthesea, and stores the
accent-folded word as the token's lemma, so featurizers with
``use_lemma: true`` see the same features with or without diacritics.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.segmentation import nfc_text, segment, split_at_boundaries


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class UndertheseaTokenizer(Tokenizer):
    """Segments Vietnamese text into words; lemmas are accent-folded."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "use_word_segmentation": True,
        }

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self._word_tokenize = None
        if config.get("use_word_segmentation", True):
            from underthesea import word_tokenize

            self._word_tokenize = word_tokenize

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UndertheseaTokenizer:
        return cls(config)

    @staticmethod
    def required_packages() -> List[str]:
        return ["underthesea"]

    def process(self, messages: List[Message]) -> List[Message]:
        """Bring user text to NFC before tokenising: NFD input must not change the intent."""
        for message in messages:
            text = message.get(TEXT)
            if isinstance(text, str):
                fixed = nfc_text(text)
                if fixed != text:
                    message.set(TEXT, fixed)
        return super().process(messages)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            text = example.get(TEXT)
            if isinstance(text, str) and nfc_text(text) != text and not example.get("entities"):
                example.set(TEXT, nfc_text(text))
        return super().process_training_data(training_data)

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        text: str | None = message.get(attribute)
        if not text:
            return []
        words = segment(text, self._word_tokenize)
        entities = message.get("entities") or []
        if attribute == TEXT and entities:
            bounds = {e["start"] for e in entities} | {e["end"] for e in entities}
            words = split_at_boundaries(text, words, bounds)
        tokens = [Token(w.text, w.start, w.end, lemma=w.folded) for w in words]
        return self._apply_token_pattern(tokens)
