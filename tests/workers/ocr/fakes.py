"""The fake engines of the test suite, all here: scripted readings, and the real engine failing or interrupted."""

from __future__ import annotations

from collections.abc import Callable

from PIL import Image

from workers.ocr.engines import OcrEngine, Orientation, Recognition, RecognizeOptions, get_engine


class ScriptedEngine:
    """A fake engine: the first recognition returns `first`, every later one `later` (word, confidence)."""

    name = "scripted"

    def __init__(self, first: list[tuple[str, float]], later: list[tuple[str, float]]) -> None:
        self.readings, self.calls = [first, later], 0

    def version(self) -> str:
        return "0"

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition:
        words = self.readings[min(self.calls, len(self.readings) - 1)]
        self.calls += 1
        rows = [f"5\t1\t1\t1\t1\t{n}\t{10 * n}\t5\t9\t20\t{conf}\t{word}" for n, (word, conf) in enumerate(words, 1)]
        text = " ".join(word for word, _ in words)
        return Recognition(text=text, hocr_page="", tsv="\n".join(rows), mean_confidence=0.0)

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None:
        return None  # too little text for OSD: the pipeline tries turns and retries by confidence alone


class SequenceEngine(ScriptedEngine):
    """A fake engine whose recognitions follow `readings` in turn, the last repeated."""

    def __init__(self, readings: list[list[tuple[str, float]]]) -> None:
        super().__init__(readings[0], readings[-1])
        self.readings = readings


class ModelEngine(ScriptedEngine):
    """A fake engine whose recognitions depend on the model asked for (`by_lang`), and whose OSD names `script`;
    `langs` records the models it read with."""

    def __init__(self, by_lang: dict[str, list[tuple[str, float]]], script: str) -> None:
        super().__init__([], [])
        self.by_lang, self.script, self.langs = by_lang, script, list[str]()

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition:
        self.langs.append(options.lang)
        self.readings = [self.by_lang[options.lang]]
        return super().recognize(image, options)

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None:
        return Orientation(rotate=0, confidence=5.0, script=self.script, script_confidence=30.0)


class HookedEngine:
    """The real engine of this process, calling `before_recognize` before each recognition: it may raise, or
    cancel or delete the job while its page is being read."""

    def __init__(self, before_recognize: Callable[[], None]) -> None:
        self.real: OcrEngine = get_engine()
        self.name = self.real.name
        self.before_recognize = before_recognize

    def version(self) -> str:
        return self.real.version()

    def recognize(self, image: Image.Image, options: RecognizeOptions) -> Recognition:
        self.before_recognize()
        return self.real.recognize(image, options)

    def detect_orientation(self, image: Image.Image, dpi: int | None) -> Orientation | None:
        return self.real.detect_orientation(image, dpi)


class FlakyEngine(HookedEngine):
    """The real engine, failing its first `failures` calls the way a crashing binding would."""

    def __init__(self, failures: int) -> None:
        super().__init__(self._maybe_crash)
        self.failures = failures

    def _maybe_crash(self) -> None:
        if self.failures:
            self.failures -= 1
            raise RuntimeError("engine crashed")
