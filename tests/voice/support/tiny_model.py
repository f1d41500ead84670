"""Build a tiny, fully deterministic Kaldi model that the real vosk library can load.

Why this exists: no Vietnamese Vosk model can be downloaded in CI, yet the phone
gateway must be tested against the real ``vosk`` shared library (feature
extraction, nnet3 evaluation, WFST decoding, endpointing, partial results).  So
the test-suite writes its own model directory:

* ``am/final.mdl`` -- a *text* Kaldi file: a transition model with trivial HMM
  topologies followed by an nnet3 network (one ``FixedAffineComponent`` and a
  ``LogSoftmaxComponent``) whose weights are designed by hand, not trained;
* ``conf/mfcc.conf`` and ``conf/model.conf``;
* ``graph/HCLG.fst`` -- a small decoding graph written in OpenFst's binary
  ``vector`` format by :func:`write_vector_fst` (no OpenFst tools needed);
  or, with ``runtime_graph=True``, ``graph/HCLr.fst`` + ``graph/Gr.fst`` (the
  layout of vosk's small models, with which vosk builds grammar-restricted
  decoders at run time);
* ``graph/words.txt`` and ``graph/phones/word_boundary.int``.

All files are in the formats Kaldi and OpenFst themselves write (text
``TransitionModel``/``Nnet3``/``AmNnetSimple``, topology in Kaldi's text
syntax, HMMs in the *reordered* form that Kaldi's word aligner expects), so
the real library loads them without special cases.

Acoustic design.  The MFCCs are computed with as many cepstra as mel bins and no
liftering, so the DCT is orthonormal and the affine layer can undo it exactly
(``log_mel = D.T @ mfcc``).  On the recovered log mel energies the layer scores:

* pdf 0, silence: constant 0;
* pdf 1, "garbage" (loud, broadband sound such as speech): mean log energy of
  the telephone band minus a threshold set above line noise (about -50 dBFS)
  and below vowels -> decodes to ``[unk]``;
* pdf 2.., one per *tone word*: the log energy of one mel bin minus the mean of
  bins three and four places away on each side (a narrow-band "peakiness"
  measure), minus a threshold.  A pure sine at that bin's centre frequency
  scores about 12 nats of contrast, real speech stays below about 7 after
  three frames, silence at 0.

Each tone word has a five-state left-to-right HMM, so it needs at least 50 ms of
tone; a word insertion penalty sits on the word arc, and small graph costs
break the ties between alignments (see :func:`build_hclg`).  A tone burst between
silences therefore decodes to exactly one known word, silence decodes to
nothing, and real speech decodes to ``[unk]`` (or nothing when quiet).

Run ``python -m tests.voice.support.tiny_model DEST`` to write the model by hand.
"""

from __future__ import annotations

import argparse
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

#: Words the tiny model knows, each bound to the centre frequency of a mel bin.
#: "không" doubles as the digit zero, as it does in spoken Vietnamese.
TONE_WORDS: tuple[str, ...] = (
    "có", "không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín",
)
UNK_WORD = "[unk]"

SAMPLE_RATE = 16000
NUM_MEL_BINS = 40
LOW_FREQ = 20.0
HIGH_FREQ = 7600.0
FIRST_TONE_BIN = 8
TONE_BIN_STEP = 2
#: Mel bins averaged for the garbage (speech energy) score: ~330-3360 Hz.
BAND_BINS = tuple(range(5, 29))

TONE_SCALE = 3.0  # nats of logit per nat of contrast above the threshold
TONE_THRESHOLD = 9.0  # contrast (nats) a frame needs before it looks like a tone
GARBAGE_SCALE = 1.5
GARBAGE_THRESHOLD = 15.0  # mean band log-energy: above line noise (~ -50 dBFS), below vowels
WORD_PENALTY = 2.0  # graph cost on every word arc
SILENCE_ENTRY_COST = 4.0  # > lattice beam: one silence phone per pause
LATER_STATE_LOOP_COST = 1.0  # frames prefer the first HMM state of a word
TONE_HMM_STATES = 5  # minimum tone length in 10 ms frames
GARBAGE_HMM_STATES = 3

FST_MAGIC = 2125659606
VECTOR_FST_VERSION = 2
K_EXPANDED = 0x1
K_MUTABLE = 0x2


def _mel(freq: float) -> float:
    """Kaldi's mel scale (natural log, 1127 factor)."""
    return 1127.0 * math.log(1.0 + freq / 700.0)


def _inverse_mel(mel: float) -> float:
    return 700.0 * (math.exp(mel / 1127.0) - 1.0)


def mel_bin_centres(
    num_bins: int = NUM_MEL_BINS, low: float = LOW_FREQ, high: float = HIGH_FREQ
) -> list[float]:
    """Centre frequency (Hz) of each of Kaldi's triangular mel bins."""
    lo, hi = _mel(low), _mel(high)
    delta = (hi - lo) / (num_bins + 1)
    return [_inverse_mel(lo + (b + 1) * delta) for b in range(num_bins)]


def tone_frequencies() -> dict[str, float]:
    """Map each tone word to the frequency (Hz) that the tiny model hears as it."""
    centres = mel_bin_centres()
    return {
        word: centres[FIRST_TONE_BIN + i * TONE_BIN_STEP]
        for i, word in enumerate(TONE_WORDS)
    }


def tone_burst(
    word: str,
    *,
    sample_rate: int = 8000,
    lead_s: float = 0.3,
    tone_s: float = 0.4,
    tail_s: float = 0.8,
    amplitude: int = 8000,
) -> np.ndarray:
    """Int16 PCM: silence, a sine at ``word``'s frequency, silence again.

    The edges are ramped over 5 ms so the burst carries no broadband click that
    could be mistaken for speech.
    """
    freq = tone_frequencies()[word]
    n_tone = int(tone_s * sample_rate)
    t = np.arange(n_tone) / sample_rate
    tone = amplitude * np.sin(2 * np.pi * freq * t)
    ramp = min(int(0.005 * sample_rate), n_tone // 2)
    if ramp:
        env = np.linspace(0.0, 1.0, ramp)
        tone[:ramp] *= env
        tone[-ramp:] *= env[::-1]
    lead = np.zeros(int(lead_s * sample_rate))
    tail = np.zeros(int(tail_s * sample_rate))
    return np.concatenate([lead, tone, tail]).round().astype(np.int16)


# --------------------------------------------------------------------------
# Kaldi text serialisation helpers
# --------------------------------------------------------------------------


def _fmt(x: float) -> str:
    return repr(float(x)) if x != int(x) else str(int(x))


def _text_vector(values: np.ndarray | list[float]) -> str:
    """Kaldi ``Vector::Write`` text form: `` [ a b c ]``."""
    body = " ".join(_fmt(v) for v in values)
    return f" [ {body} ]\n" if body else " [ ]\n"


def _text_matrix(mat: np.ndarray) -> str:
    """Kaldi ``Matrix::Write`` text form: one row per line inside brackets."""
    rows = "".join("\n  " + " ".join(_fmt(v) for v in row) + " " for row in mat)
    return " [" + rows + "]\n"


def kaldi_dct_matrix(n: int) -> np.ndarray:
    """Kaldi's orthonormal DCT-II (``ComputeDctMatrix``) of size n x n."""
    mat = np.zeros((n, n))
    mat[0, :] = math.sqrt(1.0 / n)
    for k in range(1, n):
        for j in range(n):
            mat[k, j] = math.sqrt(2.0 / n) * math.cos(math.pi / n * (j + 0.5) * k)
    return mat


# --------------------------------------------------------------------------
# Model layout
# --------------------------------------------------------------------------


@dataclass
class _Phone:
    """One phone: its id, HMM length, pdf id and (for word phones) the word id."""

    phone_id: int
    num_states: int
    pdf: int
    word_id: int | None
    boundary: str


@dataclass
class TinyModelLayout:
    """Ids shared by the transition model, the nnet and the graph."""

    words: list[str] = field(default_factory=list)
    phones: list[_Phone] = field(default_factory=list)

    @property
    def num_pdfs(self) -> int:
        return max(p.pdf for p in self.phones) + 1

    def tuples(self) -> list[tuple[int, int, int]]:
        """(phone, hmm_state, pdf) triples, sorted as Kaldi requires."""
        out = [
            (p.phone_id, s, p.pdf) for p in self.phones for s in range(p.num_states)
        ]
        return sorted(out)

    def transition_ids(self) -> dict[tuple[int, int], tuple[int, int]]:
        """Map (phone, hmm_state) -> (self-loop tid, forward tid).

        Every emitting state has exactly two transitions, listed self-loop
        first in the topology, so Kaldi numbers them consecutively from 1.
        """
        ids: dict[tuple[int, int], tuple[int, int]] = {}
        tid = 1
        for phone, state, _pdf in self.tuples():
            ids[(phone, state)] = (tid, tid + 1)
            tid += 2
        return ids


def default_layout() -> TinyModelLayout:
    """Phone 1 = silence, phone 2 = garbage ([unk]), then one phone per tone word."""
    words = ["<eps>", UNK_WORD, *TONE_WORDS]
    phones = [
        _Phone(1, 1, 0, None, "nonword"),
        _Phone(2, GARBAGE_HMM_STATES, 1, words.index(UNK_WORD), "singleton"),
    ]
    for i, word in enumerate(TONE_WORDS):
        phones.append(_Phone(3 + i, TONE_HMM_STATES, 2 + i, words.index(word), "singleton"))
    return TinyModelLayout(words=words, phones=phones)


def _topology_text(layout: TinyModelLayout) -> str:
    """HMM topology: a left-to-right chain per HMM length, each state self-looping."""
    by_len: dict[int, list[int]] = {}
    for p in layout.phones:
        by_len.setdefault(p.num_states, []).append(p.phone_id)
    out = ["<Topology> \n"]
    for n_states, phone_ids in sorted(by_len.items()):
        out.append("<TopologyEntry> \n<ForPhones> \n")
        out.append(" ".join(str(x) for x in phone_ids) + " \n</ForPhones> \n")
        for s in range(n_states):
            out.append(
                f"<State> {s} <PdfClass> 0 <Transition> {s} 0.5 "
                f"<Transition> {s + 1} 0.5 </State> \n"
            )
        out.append(f"<State> {n_states} </State> \n</TopologyEntry> \n")
    out.append("</Topology> \n")
    return "".join(out)


def _transition_model_text(layout: TinyModelLayout) -> str:
    tuples = layout.tuples()
    lines = ["<TransitionModel> \n", _topology_text(layout), f"<Triples> {len(tuples)} \n"]
    lines.extend(f"{ph} {st} {pdf} \n" for ph, st, pdf in tuples)
    lines.append("</Triples> \n<LogProbs> \n")
    n_tids = 2 * len(tuples)
    log_half = math.log(0.5)
    lines.append(_text_vector([0.0] + [log_half] * n_tids))
    lines.append("</LogProbs> \n</TransitionModel> \n")
    return "".join(lines)


def acoustic_weights(layout: TinyModelLayout) -> tuple[np.ndarray, np.ndarray]:
    """Affine weights mapping MFCCs to per-pdf logits (see module docstring)."""
    n = NUM_MEL_BINS
    scores = np.zeros((layout.num_pdfs, n))
    bias = np.zeros(layout.num_pdfs)
    # pdf 1: garbage -- loud broadband energy in the telephone band.
    scores[1, list(BAND_BINS)] = GARBAGE_SCALE / len(BAND_BINS)
    bias[1] = -GARBAGE_SCALE * GARBAGE_THRESHOLD
    for i in range(len(TONE_WORDS)):
        pdf = 2 + i
        b = FIRST_TONE_BIN + i * TONE_BIN_STEP
        scores[pdf, b] += TONE_SCALE
        for off in (-4, -3, 3, 4):
            scores[pdf, b + off] -= TONE_SCALE / 4.0
        bias[pdf] = -TONE_SCALE * TONE_THRESHOLD
    # MFCC = D @ log_mel, D orthonormal, so log_mel = D.T @ MFCC.
    weights = scores @ kaldi_dct_matrix(n)
    return weights, bias


def _nnet_text(layout: TinyModelLayout) -> str:
    weights, bias = acoustic_weights(layout)
    n_out = layout.num_pdfs
    return "".join(
        [
            "<Nnet3> \n",
            f"input-node name=input dim={NUM_MEL_BINS}\n",
            "component-node name=affine component=affine input=input\n",
            "component-node name=log_softmax component=log_softmax input=affine\n",
            "output-node name=output input=log_softmax objective=linear\n",
            "\n",
            "<NumComponents> 2 \n",
            "<ComponentName> affine <FixedAffineComponent> <LinearParams>",
            _text_matrix(weights),
            "<BiasParams>",
            _text_vector(bias),
            "</FixedAffineComponent> \n",
            f"<ComponentName> log_softmax <LogSoftmaxComponent> <Dim> {n_out} ",
            "<ValueAvg>",
            _text_vector([]),
            "<DerivAvg>",
            _text_vector([]),
            "<Count> 0 </LogSoftmaxComponent> \n",
            "</Nnet3> \n",
            "<LeftContext> 0 <RightContext> 0 <Priors>",
            _text_vector([]),
        ]
    )


# --------------------------------------------------------------------------
# OpenFst binary writer
# --------------------------------------------------------------------------

Arc = tuple[int, int, float, int]  # ilabel, olabel, weight (tropical cost), nextstate


def _fst_string(s: str) -> bytes:
    raw = s.encode("ascii")
    return struct.pack("<i", len(raw)) + raw


def write_vector_fst(
    path: Path, start: int, finals: dict[int, float], arcs: list[list[Arc]]
) -> None:
    """Write a StdArc ``VectorFst`` in OpenFst's binary format.

    Layout (OpenFst ``FstHeader`` then ``VectorFst::WriteFst``): magic int32,
    fst type and arc type as length-prefixed strings, version int32, flags
    int32, properties uint64, start/num-states/num-arcs int64; then per state
    its final weight (float32, +inf when not final), its arc count (int64) and
    each arc as ilabel int32, olabel int32, weight float32, nextstate int32.
    Only the "expanded" and "mutable" property bits are claimed, so OpenFst
    computes any other property it needs instead of trusting a guess.
    """
    num_arcs = sum(len(a) for a in arcs)
    out = bytearray()
    out += struct.pack("<i", FST_MAGIC)
    out += _fst_string("vector")
    out += _fst_string("standard")
    out += struct.pack("<i", VECTOR_FST_VERSION)
    out += struct.pack("<i", 0)  # flags: no symbol tables, not aligned
    out += struct.pack("<Q", K_EXPANDED | K_MUTABLE)
    out += struct.pack("<qqq", start, len(arcs), num_arcs)
    for state, state_arcs in enumerate(arcs):
        out += struct.pack("<f", finals.get(state, math.inf))
        out += struct.pack("<q", len(state_arcs))
        for ilabel, olabel, weight, nextstate in state_arcs:
            out += struct.pack("<iifi", ilabel, olabel, weight, nextstate)
    path.write_bytes(bytes(out))


def read_vector_fst(path: Path) -> tuple[int, dict[int, float], list[list[Arc]]]:
    """Parse what :func:`write_vector_fst` writes; used by the tests as a check."""
    data = path.read_bytes()
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        size = struct.calcsize(fmt)
        vals = struct.unpack_from(fmt, data, pos)
        pos += size
        return vals

    def take_str() -> str:
        (n,) = take("<i")
        nonlocal pos
        s = data[pos : pos + n].decode("ascii")
        pos += n
        return s

    (magic,) = take("<i")
    if magic != FST_MAGIC:
        raise ValueError("not an OpenFst binary file")
    if take_str() != "vector" or take_str() != "standard":
        raise ValueError("not a standard vector FST")
    take("<iiQ")
    start, num_states, _num_arcs = take("<qqq")
    finals: dict[int, float] = {}
    arcs: list[list[Arc]] = []
    for s in range(num_states):
        (final,) = take("<f")
        if math.isfinite(final):
            finals[s] = final
        (narcs,) = take("<q")
        arcs.append([take("<iifi") for _ in range(narcs)])  # type: ignore[misc]
    return start, finals, arcs


def build_hclg(
    layout: TinyModelLayout, word_penalty: float = WORD_PENALTY
) -> tuple[int, dict[int, float], list[list[Arc]]]:
    """A loop grammar ``(silence | word)*`` expanded down to transition ids.

    State 0 is the start and the only final state.  Every phone is a chain
    of HMM states in Kaldi's *reordered* form (the form ``add-self-loops
    --reorder=true`` produces and the word aligner expects): each emitting
    state contributes its forward transition-id first, then any number of
    its self-loop ids.  A word enters its chain through an epsilon-input arc
    that carries the word label and the insertion penalty; every chain
    returns to state 0 through an epsilon arc once its last state is done.

    Costs break ties between alignments that the acoustics cannot tell
    apart (all states of a phone share one pdf): starting a silence phone
    costs more than the lattice beam, so a pause is one silence phone rather
    than any of its 2^N segmentations, and self-loops of the later HMM
    states cost a little, so the frames of a word go to its first state.
    Without this the lattice determiniser explodes on long silences.
    """
    tids = layout.transition_ids()
    arcs: list[list[Arc]] = [[]]

    def new_state() -> int:
        arcs.append([])
        return len(arcs) - 1

    for phone in layout.phones:
        if phone.word_id is None:
            entry = 0
            entry_cost = SILENCE_ENTRY_COST
        else:
            entry = new_state()
            arcs[0].append((0, phone.word_id, word_penalty, entry))
            entry_cost = 0.0
        state = entry
        for s in range(phone.num_states):
            loop, fwd = tids[(phone.phone_id, s)]
            after = new_state()
            loop_cost = 0.0 if s == 0 else LATER_STATE_LOOP_COST
            arcs[state].append((fwd, 0, entry_cost if s == 0 else 0.0, after))
            arcs[after].append((loop, 0, loop_cost, after))
            state = after
        arcs[state].append((0, 0, 0.0, 0))
    return 0, {0: 0.0}, arcs


MFCC_CONF = f"""--sample-frequency={SAMPLE_RATE}
--use-energy=false
--num-mel-bins={NUM_MEL_BINS}
--num-ceps={NUM_MEL_BINS}
--low-freq={int(LOW_FREQ)}
--high-freq={int(HIGH_FREQ)}
--cepstral-lifter=0
--dither=0
--allow-downsample=true
"""

MODEL_CONF = """--min-active=20
--max-active=200
--beam=13.0
--lattice-beam=2.0
--acoustic-scale=1.0
--frame-subsampling-factor=1
--frames-per-chunk=10
--endpoint.silence-phones=1
--endpoint.rule2.min-trailing-silence=0.5
--endpoint.rule3.min-trailing-silence=1.0
--endpoint.rule4.min-trailing-silence=2.0
"""


def build_g(layout: TinyModelLayout) -> tuple[int, dict[int, float], list[list[Arc]]]:
    """Word-loop grammar for the runtime-graph layout: any word, any order."""
    loop = [
        (wid, wid, WORD_PENALTY, 0)
        for wid, word in enumerate(layout.words)
        if word != "<eps>"
    ]
    return 0, {0: 0.0}, [loop]


def build_tiny_model(dest: Path, *, runtime_graph: bool = False) -> Path:
    """Write the whole model directory under ``dest`` and return it.

    With ``runtime_graph=False`` (the default) the graph is a precompiled
    ``graph/HCLG.fst``, as in vosk's big models; vosk then ignores grammars.
    With ``runtime_graph=True`` it writes ``graph/HCLr.fst`` (HCL: phones to
    words, no word constraints), ``graph/Gr.fst`` (a word loop) and an empty
    ``graph/disambig_tid.int``, the layout of vosk's *small* models, so
    ``KaldiRecognizer(model, rate, '["có", "không", "[unk]"]')`` builds a
    grammar-restricted decoder at run time.
    """
    dest = Path(dest)
    layout = default_layout()
    (dest / "am").mkdir(parents=True, exist_ok=True)
    (dest / "conf").mkdir(parents=True, exist_ok=True)
    (dest / "graph" / "phones").mkdir(parents=True, exist_ok=True)
    (dest / "am" / "final.mdl").write_text(
        _transition_model_text(layout) + _nnet_text(layout), encoding="ascii"
    )
    (dest / "conf" / "mfcc.conf").write_text(MFCC_CONF, encoding="ascii")
    (dest / "conf" / "model.conf").write_text(MODEL_CONF, encoding="ascii")
    (dest / "graph" / "words.txt").write_text(
        "".join(f"{w} {i}\n" for i, w in enumerate(layout.words)), encoding="utf-8"
    )
    (dest / "graph" / "phones" / "word_boundary.int").write_text(
        "".join(f"{p.phone_id} {p.boundary}\n" for p in layout.phones), encoding="ascii"
    )
    for stale in ("HCLG.fst", "HCLr.fst", "Gr.fst", "disambig_tid.int"):
        (dest / "graph" / stale).unlink(missing_ok=True)
    if runtime_graph:
        write_vector_fst(dest / "graph" / "HCLr.fst", *build_hclg(layout, word_penalty=0.0))
        write_vector_fst(dest / "graph" / "Gr.fst", *build_g(layout))
        (dest / "graph" / "disambig_tid.int").write_text("", encoding="ascii")
    else:
        write_vector_fst(dest / "graph" / "HCLG.fst", *build_hclg(layout))
    (dest / "README.txt").write_text(
        "Tiny deterministic Kaldi model generated by tests.voice.support.tiny_model.\n"
        "Tone words and frequencies (Hz):\n"
        + "".join(f"  {w}: {f:.1f}\n" for w, f in tone_frequencies().items()),
        encoding="utf-8",
    )
    return dest


def main() -> None:
    """CLI: write the model to a directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path)
    parser.add_argument(
        "--runtime-graph",
        action="store_true",
        help="write HCLr.fst + Gr.fst (grammar-capable) instead of HCLG.fst",
    )
    args = parser.parse_args()
    print(build_tiny_model(args.dest, runtime_graph=args.runtime_graph))


if __name__ == "__main__":
    main()
