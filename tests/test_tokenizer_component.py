"""UndertheseaTokenizer inside Rasa 3.6 itself (run in the Rasa environment)."""

from __future__ import annotations

import json
import os
import subprocess
import unicodedata

from tests.servers import REPO

SCRIPT = r"""
import json, sys
from rasa.shared.nlu.training_data.message import Message
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from components.tokenizer import UndertheseaTokenizer
tok = UndertheseaTokenizer.create({**UndertheseaTokenizer.get_default_config()}, None, None, None)
registered = DefaultV1Recipe._from_registry("components.tokenizer.UndertheseaTokenizer") is not None
out = []
for text in json.loads(sys.argv[1]):
    m = Message(data={"text": text})
    tok.process([m])
    out.append({"text": m.get("text"), "tokens": [(t.text, t.lemma, t.start, t.end) for t in m.get("text_tokens")]})
print(json.dumps({"registered": registered, "out": out}, ensure_ascii=False))
"""


def run(texts: list[str]) -> dict:
    env = dict(os.environ, PYTHONPATH=f"{REPO}:{REPO / 'bot'}", RASA_TELEMETRY_ENABLED="false")
    res = subprocess.run(
        [str(REPO / ".venv-rasa/bin/python"), "-c", SCRIPT, json.dumps(texts)],
        capture_output=True, text=True, env=env, timeout=180, check=True,
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_component_tokenizes_and_normalises():
    nfd = unicodedata.normalize("NFD", "làm căn cước ko đc")
    result = run(["làm căn cước ko đc", nfd, "lam can cuoc"])
    assert result["registered"]
    a, b, c = result["out"]
    assert [t[0] for t in a["tokens"]] == ["làm", "căn_cước", "không", "được"]
    assert b["text"] == "làm căn cước ko đc"  # NFD made NFC before tokenising
    assert [t[0] for t in b["tokens"]] == [t[0] for t in a["tokens"]]
    assert [t[1] for t in c["tokens"]] == ["lam", "can", "cuoc"]
    assert [t[1] for t in a["tokens"]][1] == "can_cuoc"
