"""``NotVietnameseGuard``: keyboard noise, emoji and other languages become ``nlu_fallback``.

DIET always picks one of the trained intents, so "asdkjh qwe" used to come out as
``affirm`` and was taken for a yes/no answer.  This component runs after the
classifiers and overrides the intent when ``vntext.is_gibberish`` says the text is
not Vietnamese at all; ``action_fallback`` then asks the citizen to rephrase.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from vntext import is_gibberish

FALLBACK_INTENT = "nlu_fallback"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class NotVietnameseGuard(GraphComponent):
    """Overrides the predicted intent with ``nlu_fallback`` for text that is not Vietnamese."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_vietnamese_share": 0.7}

    def __init__(self, config: Dict[str, Any]) -> None:
        self.min_share = float(config.get("min_vietnamese_share", 0.7))

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> NotVietnameseGuard:
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not is_gibberish(text, self.min_share):
                continue
            message.data[INTENT] = {INTENT_NAME_KEY: FALLBACK_INTENT, PREDICTED_CONFIDENCE_KEY: 1.0}
            ranking = message.get(INTENT_RANKING_KEY) or []
            message.data[INTENT_RANKING_KEY] = [message.data[INTENT], *ranking]
        return messages
