# Two commands: `make run` (set up and chat) and `make test` (set up and test).
SHELL := /bin/bash
.DEFAULT_GOAL := help
export RASA_TELEMETRY_ENABLED := false
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONPATH := $(CURDIR):$(CURDIR)/bot

ML := .venv-ml/bin/python
RASA := .venv-rasa/bin/rasa

.PHONY: help setup index train run chat test lint bench models serve-actions serve-rasa admin

help:
	@echo "make run    - cài đặt, lập chỉ mục, huấn luyện (khi dữ liệu đổi) và chạy trợ lý trên 127.0.0.1:5005"
	@echo "make test   - cài đặt và chạy toàn bộ kiểm thử"
	@echo "make chat   - trò chuyện trong terminal với trợ lý đang chạy"
	@echo "make bench  - chạy các benchmark (in bảng số liệu)"
	@echo "make models - (máy có mạng) tải mô hình bkai và Vosk; ghi mã băm lần tải đầu, các lần sau phải khớp"
	@echo "make admin  - chỉ chạy trang quản trị danh mục (http://127.0.0.1:8090/admin/, xem docs/admin.md)"

setup:
	@bash scripts/setup_env.sh

index: setup
	@$(ML) -m knowledge_base build --if-stale

train: setup
	@bash scripts/train_bot.sh

run: index train
	@bash scripts/run.sh

chat:
	@$(ML) scripts/chat.py

admin: setup
	@$(ML) -m knowledge_base db init && $(ML) -m admin serve

test:
	@bash scripts/test.sh

lint: setup
	@.venv-ml/bin/ruff check .

bench: index
	@$(ML) benchmarks/search_quality.py
	@$(ML) benchmarks/search_latency.py
	@$(ML) benchmarks/dialogue_latency.py
	@$(ML) benchmarks/voice_latency.py
	@$(ML) benchmarks/conversations.py --split all
	@$(ML) benchmarks/conversations.py --out-of-scope
	@$(ML) benchmarks/widget_socketio.py
	@$(ML) benchmarks/zalo_webhook.py
	@$(ML) benchmarks/admin_publish.py
	@bash benchmarks/nlu_crossval.sh

models: setup
	@$(ML) scripts/fetch_models.py

.PHONY: prod prod-down
prod: index train  ## the production topology natively: PostgreSQL, Redis, nginx, 2 Rasa + 2 action servers (docs/deploy.md)
	@bash scripts/prod_up.sh
prod-down:
	@bash scripts/prod_down.sh
