"""bots.captcha: kaiban's decoding of ddddocr's model, restricted to a portal's alphabet; offline."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bots.captcha import DEFAULT_RULES, CaptchaReading, CaptchaRules, _beam_search, captcha_reader
from simulators.portal.captchas import new_captcha

ROOT = Path(__file__).resolve().parents[2]


def table(rules: CaptchaRules, columns: list[str]) -> np.ndarray:
    """A probability table: each column sure of one character ('-' is the blank), a little doubt elsewhere."""
    out = np.full((len(columns), len(rules.alphabet) + 1), 0.01)
    for i, ch in enumerate(columns):
        out[i, 0 if ch == "-" else rules.alphabet.index(ch) + 1] = 1.0
    return out / out.sum(axis=1, keepdims=True)


def test_the_decoding_collapses_repeats_keeps_a_doubled_character_and_allows_only_the_portals_lengths():
    rules = CaptchaRules(alphabet="ABCD", lengths=(4, 5))
    best = _beam_search(table(rules, list("AA-B-BCC")), rules, 16, 5)
    assert best[0][0] == "ABBC"  # AA is one A; B-B is two
    probabilities = [p for _, p in best]
    assert probabilities == sorted(probabilities, reverse=True) and len(set(t for t, _ in best)) == len(best)
    four = CaptchaRules(alphabet="ABCD", lengths=(4,))
    texts = [t for t, _ in _beam_search(table(four, list("AA-B-BCCD")), four, 16, 5)]
    assert texts and all(len(t) == 4 for t in texts)  # ABBCD has five characters: not this portal's


def test_the_best_untried_answer_skips_the_refused_ones():
    reading = CaptchaReading((("K7QP", 0.6), ("K7OP", 0.2), ("K7QR", 0.1)), ms=1.0)
    assert reading.best_untried(set()) == "K7QP"
    assert reading.best_untried({"K7QP"}) == "K7OP"
    assert reading.best_untried({"K7QP", "K7OP", "K7QR"}) is None


def test_rules_refuse_what_cannot_be_a_captcha():
    for bad in ({"alphabet": ""}, {"alphabet": "AAB"}, {"alphabet": "abc"}, {"alphabet": "AB", "stretches": (0.0,)}):
        with pytest.raises(ValueError):
            CaptchaRules(**bad)
    assert CaptchaRules(alphabet="abc", case_sensitive=True).alphabet == "abc"


def test_every_reading_is_of_the_portals_alphabet_and_lengths():
    reader = captcha_reader()
    assert captcha_reader() is reader  # one model per process
    right = 0
    for seed in range(20):
        captcha = new_captcha("image", random.Random(seed))
        reading = reader.read(captcha.png, DEFAULT_RULES)
        assert reading.candidates and reading.ms > 0
        for text, p in reading.candidates:
            assert set(text) <= set(DEFAULT_RULES.alphabet) and len(text) in (4, 5) and 0 <= p <= 1
        right += reading.best == captcha.answer
    assert right >= 17  # a sanity check; accuracy is the bench's (make bench)


def test_loading_the_model_and_reading_need_no_network():
    """In a fresh process whose sockets refuse to connect or resolve: import, load, read."""
    script = textwrap.dedent(
        """
        import random, socket

        def refuse(*args, **kwargs):
            raise RuntimeError("network use attempted")

        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        try:
            socket.create_connection(("127.0.0.1", 9))
        except RuntimeError:
            print("guarded")

        from bots.captcha import captcha_reader
        from simulators.portal.captchas import new_captcha

        captcha = new_captcha("image_hard", random.Random(3))
        reading = captcha_reader().read(captcha.png)
        print("candidates", len(reading.candidates))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "guarded" in done.stdout
    assert int(done.stdout.split()[-1]) > 0
