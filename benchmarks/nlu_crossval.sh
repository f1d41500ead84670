#!/usr/bin/env bash
# NLU cross-validation (3 folds): intent precision/recall/F1 per intent and macro F1.
# Target (issue 4): macro intent F1 >= 0.90.  Takes about 3 x the training time.
set -euo pipefail
cd "$(dirname "$0")/../bot"
export RASA_TELEMETRY_ENABLED=false PYTHONPATH="$PWD/..:$PWD"
out="${1:-$(mktemp -d)}"
../.venv-rasa/bin/rasa test nlu --nlu data/nlu.yml --config config.yml --cross-validation --folds "${FOLDS:-3}" \
  --out "$out" >"$out/log.txt" 2>&1
../.venv-ml/bin/python - "$out" <<'PY'
import json, sys, pathlib
rep = json.loads((pathlib.Path(sys.argv[1]) / "intent_report.json").read_text())
print("| intent | precision | recall | F1 | support |\n|---|---|---|---|---|")
for name, r in sorted(rep.items()):
    if isinstance(r, dict) and "f1-score" in r and name not in {"macro avg", "weighted avg", "micro avg"}:
        print(f"| {name} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1-score']:.3f} | {r['support']} |")
print(f"\nmacro F1 = {rep['macro avg']['f1-score']:.3f}, accuracy = {rep.get('accuracy', float('nan')):.3f}")
PY
