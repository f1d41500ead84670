"""Dense encoders: the embedded offline model the project trains, or a downloaded one.

No Vietnamese sentence-embedding weights can be downloaded on an offline
machine, so the default encoder is a sentence-transformers ``StaticEmbedding``
model trained from the catalogue itself with MultipleNegativesRankingLoss on
(citizen-style query, procedure text) pairs.  It builds in seconds on two
cores.  On a connected machine ``make models`` fetches
``bkai-foundation-models/vietnamese-bi-encoder`` once, at a pinned revision,
into ``models/hf/``; it expects word-segmented input, which ``Encoder``
provides.  Every load is ``local_files_only``: no code path reaches a hub at
run time.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledge_base.features import cached_dense_text, cached_syllables, dense_text, dense_text_of_parts, short_name
from knowledge_base.lexicon import load_lexicon
from knowledge_base.schema import Procedure
from vntext import normalize_query, syllables

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

STATIC_MODEL_ID = "static-vi-catalogue"
BKAI_MODEL_ID = "bkai-foundation-models/vietnamese-bi-encoder"

# Question frames used to turn names and aliases into citizen-style training queries.
_FRAMES = [
    "{x}", "làm {x}", "thủ tục {x}", "{x} cần giấy tờ gì", "{x} hết bao nhiêu tiền",
    "{x} mất bao lâu", "{x} nộp ở đâu", "muốn {x} thì làm sao", "hỏi về {x}", "{x} online được không",
]


class EncoderError(RuntimeError):
    """The configured dense model cannot be loaded (missing files, wrong kind)."""


@dataclass
class Encoder:
    """Wraps a sentence-transformers model with the text preparation it was trained on."""

    model: object  # SentenceTransformer
    model_id: str
    segmented: bool  # bkai-style models expect underthesea word segmentation

    def prepare(self, text: str) -> str:
        if self.segmented:
            from underthesea import word_tokenize

            return word_tokenize(normalize_query(text), format="text")
        return dense_text(text)

    def encode(self, texts: list[str], batch_size: int = 256) -> np.ndarray:
        prepared = dense_texts(texts) if not self.segmented else [self.prepare(t) for t in texts]
        vecs = self.model.encode(  # type: ignore[attr-defined]
            prepared,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def encode_procedures(self, procs: list[Procedure], batch_size: int = 256) -> np.ndarray:
        """``encode([doc_text(p) for p in procs])``; the static model reuses the build's cached syllables."""
        if self.segmented:
            return self.encode([doc_text(p) for p in procs], batch_size)
        vecs = self.model.encode(  # type: ignore[attr-defined]
            [doc_dense_text(p) for p in procs],
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)


def doc_text(proc: Procedure) -> str:
    """What the dense model embeds for a procedure: its identity, not its paperwork."""
    return " ; ".join([proc.name, *proc.aliases, proc.field])


def doc_dense_text(proc: Procedure) -> str:
    """``dense_text(doc_text(proc))`` from the cached syllables of its parts (syllables never span " ; ")."""
    return dense_text_of_parts([proc.name, *proc.aliases, proc.field])


def training_pairs(procedures: list[Procedure], seed: int = 13) -> list[tuple[str, int]]:
    """(query, procedure index) pairs built from names, aliases and the lexicon.

    Held-out evaluation questions are never used here; the pairs come only
    from catalogue fields, so the dev-set figures measure generalisation.
    """
    rng = random.Random(seed)
    lexicon = load_lexicon()
    pairs: list[tuple[str, int]] = []
    # folded once: per procedure this was a million syllable splits at 20k procedures
    officials = [(" ".join(syllables(entry.official)), entry) for entry in lexicon]
    for i, proc in enumerate(procedures):
        names = [short_name(proc.name), *proc.aliases]
        for name in names:
            frames = rng.sample(_FRAMES, 3) if proc.curated else ["{x}"]
            for frame in frames:
                q = frame.format(x=name.lower())
                pairs.append((q, i))
                if proc.curated and rng.random() < 0.5:
                    pairs.append((" ".join(syllables(q)), i))  # typed without diacritics
        # what citizens describe: the documents they hold, the conditions they meet
        if proc.curated:
            for detail in [d.name for d in proc.documents] + proc.conditions:
                pairs.append((detail.lower(), i))
        # colloquial terms whose official wording the name contains
        folded_name = " ".join(cached_syllables(proc.name))
        for official, entry in officials:
            if official in folded_name:
                for term in entry.terms:
                    pairs.append((" ".join(term), i))
    return pairs


def _dense_chunk(texts: list[str]) -> list[str]:
    return [dense_text(t) for t in texts]


def dense_texts(texts: list[str]) -> list[str]:
    """``dense_text`` of many texts, on every core for large catalogues.

    Why: normalising 300k texts (documents and training queries) one by one was most of
    the encoder's training time at 100k procedures.  The workers run plain Python (no torch),
    so forking is safe even in a server that has used torch.
    """
    workers = min(os.cpu_count() or 1, int(os.environ.get("KB_BUILD_WORKERS", "8")))
    if len(texts) < 20000 or workers < 2:
        return _dense_chunk(texts)
    import multiprocessing as mp

    chunk = (len(texts) + workers * 4 - 1) // (workers * 4)
    with mp.get_context("fork").Pool(workers) as pool:
        parts = pool.map(_dense_chunk, [texts[i : i + chunk] for i in range(0, len(texts), chunk)])
    return [t for part in parts for t in part]


def _build_tokenizer(texts: list[str]):  # noqa: ANN202 - tokenizers.Tokenizer
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import WhitespaceSplit

    vocab: dict[str, int] = {"[UNK]": 0}
    for text in texts:
        for tok in text.split():
            vocab.setdefault(tok, len(vocab))
    tok = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = WhitespaceSplit()
    return tok


def train_static(
    procedures: list[Procedure],
    out_dir: Path,
    dim: int = 256,
    epochs: int = 8,
    batch_size: int = 128,
    seed: int = 13,
) -> dict[str, float]:
    """Train the embedded StaticEmbedding model with in-batch-negative MNRL and save it.

    Returns training figures (pairs, seconds, final loss) for the build report.
    """
    t0 = time.perf_counter()
    raw_pairs = training_pairs(procedures, seed)
    # one normalisation per unique text, reusing the syllables the BM25 step computed
    docs = [doc_dense_text(p) for p in procedures]
    pairs = [(cached_dense_text(q), i) for q, i in raw_pairs]

    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    torch.manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny EmbeddingBag steps: threads only add overhead
    tokenizer = _build_tokenizer(docs + [q for q, _ in pairs])
    # Token ids of every unique text, once: tokenising each batch again (a call into the
    # tokenizers thread pool per batch) was a third of the training time at 20k procedures.
    uniq_texts = list(dict.fromkeys(docs + [q for q, _ in pairs]))
    text_ids = {t: np.asarray(e.ids, np.int64) for t, e in
                zip(uniq_texts, tokenizer.encode_batch(uniq_texts, add_special_tokens=False), strict=True)}
    doc_ids = [text_ids[d] for d in docs]
    del uniq_texts
    bag = torch.nn.EmbeddingBag(tokenizer.get_vocab_size(), dim, mode="mean", sparse=True)
    with torch.no_grad():
        bag.weight.normal_(0, 0.1)
        bag.weight[0].zero_()  # [UNK] contributes nothing
    # Lazy Adam on the rows a step touches (what torch's SparseAdam computes, lr 0.05, betas
    # 0.9/0.999, eps 1e-8), over a dense gradient of just those rows: SparseAdam's sparse
    # gradients (coalesce, sparse_mask, sparse adds) were another third of the training time.
    # state[:, 0] is the embedding, state[:, 1] and state[:, 2] Adam's moments.
    state = torch.zeros(tokenizer.get_vocab_size(), 3, dim)
    state[:, 0] = bag.weight.detach()
    del bag
    adam_step = 0
    rng = random.Random(seed)
    loss_val = float("nan")

    # A step budget (KB_ENCODER_MAX_STEPS, default 3000 ≈ 8 epochs of 48k pairs) bounds the cost at
    # 100k procedures, where 8 full epochs over every imported name took most of the 15 minutes; below
    # that size nothing changes.
    max_steps = int(os.environ.get("KB_ENCODER_MAX_STEPS", "3000"))
    epochs = max(1, min(epochs, math.ceil(max_steps * batch_size / max(len(pairs), 1))))
    for _ in range(epochs):
        rng.shuffle(pairs)
        for start in range(0, len(pairs), batch_size):
            batch = pairs[start : start + batch_size]
            # one positive per procedure in a batch, so in-batch negatives are true negatives
            seen: set[int] = set()
            batch = [(q, i) for q, i in batch if not (i in seen or seen.add(i))]
            if len(batch) < 2:
                continue
            ids = [text_ids[b[0]] for b in batch] + [doc_ids[b[1]] for b in batch]
            rows, inverse = np.unique(np.concatenate(ids), return_inverse=True)
            rows_t = torch.from_numpy(rows)
            rows_state = state.index_select(0, rows_t)
            sub = rows_state[:, 0].clone().requires_grad_()
            offsets = torch.tensor([0] + [len(x) for x in ids[:-1]]).cumsum(0)
            emb = torch.nn.functional.embedding_bag(torch.from_numpy(inverse.reshape(-1)), sub, offsets, mode="mean")
            emb = torch.nn.functional.normalize(emb, dim=-1)
            q, d = emb[: len(batch)], emb[len(batch) :]
            logits = 20.0 * q @ d.T
            loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
            loss.backward()
            adam_step += 1
            lazy_adam_rows(rows_state, sub.grad, adam_step)
            state.index_copy_(0, rows_t, rows_state)
            loss_val = float(loss.detach())
    weight = state[:, 0].clone()
    del state
    weight[0].zero_()
    static = StaticEmbedding(tokenizer, embedding_weights=weight)
    torch.set_num_threads(threads)
    model = SentenceTransformer(modules=[static, Normalize()], device="cpu")
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    (out_dir / "MODEL_ID").write_text(STATIC_MODEL_ID + "\n", encoding="utf-8")
    return {"pairs": len(pairs), "seconds": time.perf_counter() - t0, "loss": loss_val}


def lazy_adam_rows(rows: object, grad: object, step: int, lr: float = 0.05, beta1: float = 0.9,
                   beta2: float = 0.999, eps: float = 1e-8) -> None:
    """One step of torch's SparseAdam on some rows of an embedding, in place.

    ``rows``: tensor (n, 3, dim) of the touched rows' [weight, exp_avg, exp_avg_sq] (packed so a
    step gathers and writes back one contiguous block per row); ``grad``: (n, dim), the dense
    gradient of those rows.  The same arithmetic as ``torch.optim._functional.sparse_adam``
    (tests/test_index_speed_parts.py compares them), without building sparse tensors.
    """
    import torch

    with torch.no_grad():
        weight, avg, sq = rows[:, 0], rows[:, 1], rows[:, 2]  # type: ignore[index]
        new_avg = (grad - avg).mul_(1 - beta1).add_(avg)
        new_sq = grad.pow(2).sub_(sq).mul_(1 - beta2).add_(sq)  # type: ignore[attr-defined]
        avg.copy_(new_avg)
        sq.copy_(new_sq)
        step_size = lr * math.sqrt(1 - beta2**step) / (1 - beta1**step)
        weight.add_(new_avg.div_(new_sq.sqrt_().add_(eps)).mul_(-step_size))


def model_fingerprint(model_dir: Path) -> str:
    """Hash of a model directory's weights: part of an index manifest."""
    h = hashlib.sha256()
    for path in sorted(model_dir.rglob("*")):
        if path.is_file() and path.suffix in {".safetensors", ".bin", ".json"}:
            h.update(path.name.encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def load_encoder(model_dir: Path, model_id: str) -> Encoder:
    """Load a local sentence-transformers model; never touches the network."""
    if not (model_dir / "modules.json").exists():
        hint = "make models" if model_id == BKAI_MODEL_ID else "python -m knowledge_base build"
        raise EncoderError(f"Không tìm thấy mô hình nhúng '{model_id}' tại {model_dir}. Hãy chạy: {hint}")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    return Encoder(model=model, model_id=model_id, segmented=model_id != STATIC_MODEL_ID)
