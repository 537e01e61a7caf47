"""The service's own model directory: tessdata_best models fetched by pinned digest, Tesseract's others linked."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from ocr_api.cli import main
from workers.ocr import models, tesseract
from workers.ocr.settings import OcrSettings, get_ocr_settings


def _tarball(lang: str, model: bytes) -> bytes:
    """An npm tarball laid out as @tesseract.js-data/LANG's: package/4.0.0_best_int/LANG.traineddata.gz."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        data = gzip.compress(model)
        info = tarfile.TarInfo(f"package/4.0.0_best_int/{lang}.traineddata.gz")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


@pytest.fixture
def own_dir(tmp_path: Path) -> Path:
    """A stand-in for Tesseract's own directory: a fast eng, a deu, osd and a configs folder."""
    own = tmp_path / "own"
    (own / "configs").mkdir(parents=True)
    for name in ("eng", "deu", "osd"):
        (own / f"{name}.traineddata").write_bytes(f"packaged {name}".encode())
    return own


@pytest.fixture
def pinned_eng(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """eng pinned to a local tarball (file:// address) instead of the npm registry; returns the tarball."""
    tarball = _tarball("eng", b"best eng")
    path = tmp_path / "eng-1.0.0.tgz"
    path.write_bytes(tarball)
    monkeypatch.setitem(models.BEST_INT, "eng", models.Pinned(path.as_uri(), _integrity(tarball)))
    return tarball


def test_install_unpacks_the_best_model_and_links_the_others(tmp_path: Path, own_dir: Path, pinned_eng: bytes) -> None:
    service = tmp_path / "service"
    assert models.install(["eng"], service, own_dir) == ["eng"]
    assert (service / "eng.traineddata").read_bytes() == b"best eng"
    assert not (service / "eng.traineddata").is_symlink()
    assert (service / "deu.traineddata").resolve() == (own_dir / "deu.traineddata").resolve()
    assert (service / "osd.traineddata").read_bytes() == b"packaged osd"
    assert (service / "configs").is_dir()
    assert models.own_models(service) == ["eng"]
    # Tesseract's own English model stays readable beside the best one, as the vote's second model
    assert (service / "eng_fast.traineddata").read_bytes() == b"packaged eng"
    assert not (service / "deu_fast.traineddata").exists()  # deu is Tesseract's own: no second one


def test_a_download_that_does_not_match_its_digest_is_refused_and_changes_nothing(
    tmp_path: Path, own_dir: Path, pinned_eng: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = tmp_path / "service"
    models.install(["eng"], service, own_dir)
    # a newer pin (another tarball), whose download comes back tampered with
    newer = _tarball("eng", b"newer best eng")
    monkeypatch.setitem(models.BEST_INT, "eng", models.Pinned("https://registry.example/eng-2.tgz", _integrity(newer)))
    tampered = _tarball("eng", b"something else")
    with pytest.raises(models.ModelInstallError, match="sha512"):
        models.install(["eng"], service, own_dir, fetch=lambda url, timeout: tampered)
    assert (service / "eng.traineddata").read_bytes() == b"best eng"
    assert models.install(["eng"], service, own_dir, fetch=lambda url, timeout: newer) == ["eng"]
    assert (service / "eng.traineddata").read_bytes() == b"newer best eng"


def test_installing_again_fetches_nothing(tmp_path: Path, own_dir: Path, pinned_eng: bytes) -> None:
    service = tmp_path / "service"
    models.install(["eng"], service, own_dir)

    def offline(url: str, timeout: float) -> bytes:
        raise OSError("Name or service not known")

    assert models.install(["eng"], service, own_dir, fetch=offline) == ["eng"]  # install.sh run again, offline
    (service / "eng.traineddata").unlink()  # the file gone: fetched again
    with pytest.raises(models.ModelInstallError, match="could not download"):
        models.install(["eng"], service, own_dir, fetch=offline)


def test_an_unreachable_registry_and_an_unknown_language_say_what_went_wrong(tmp_path: Path, own_dir: Path) -> None:
    def offline(url: str, timeout: float) -> bytes:
        raise OSError("Name or service not known")

    with pytest.raises(models.ModelInstallError, match=r"could not download .*registry\.npmjs\.org"):
        models.install(["eng"], tmp_path / "service", own_dir, fetch=offline)
    with pytest.raises(models.ModelInstallError, match="no best model pinned for klingon"):
        models.install(["klingon"], tmp_path / "service", own_dir)


def test_links_follow_tesseracts_own_directory(tmp_path: Path, own_dir: Path, pinned_eng: bytes) -> None:
    service = tmp_path / "service"
    models.install(["eng"], service, own_dir)
    (own_dir / "deu.traineddata").unlink()  # apt-get remove tesseract-ocr-deu
    (own_dir / "spa.traineddata").write_bytes(b"packaged spa")  # apt-get install tesseract-ocr-spa
    models.link_own_models(service, own_dir)
    assert not (service / "deu.traineddata").is_symlink()
    assert (service / "spa.traineddata").read_bytes() == b"packaged spa"
    assert (service / "eng.traineddata").read_bytes() == b"best eng"  # never replaced by a link


def test_workers_read_from_the_service_directory_unless_told_otherwise(
    tmp_path: Path, own_dir: Path, pinned_eng: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = tmp_path / "service"
    monkeypatch.setattr(models, "service_dir", lambda: service)
    monkeypatch.setattr(tesseract, "own_tessdata_dir", lambda: own_dir)
    monkeypatch.delenv("TESSDATA_PREFIX", raising=False)
    monkeypatch.delenv("OCR_TESSDATA_DIR", raising=False)

    def resolved() -> Path:
        get_ocr_settings.cache_clear()
        tesseract.tessdata_dir.cache_clear()
        try:
            return tesseract.tessdata_dir()
        finally:
            get_ocr_settings.cache_clear()
            tesseract.tessdata_dir.cache_clear()

    assert resolved() == own_dir  # nothing installed: Tesseract's own
    models.install(["eng"], service, own_dir)
    assert resolved() == service
    monkeypatch.setenv("OCR_TESSDATA_DIR", str(own_dir))
    assert resolved() == own_dir
    monkeypatch.setenv("OCR_TESSDATA_DIR", "")  # an empty variable is unset, not the working directory
    assert OcrSettings().tessdata_dir is None
    monkeypatch.delenv("OCR_TESSDATA_DIR")
    monkeypatch.setenv("TESSDATA_PREFIX", str(tmp_path))
    assert resolved() == tmp_path


def test_the_command_installs_and_reports(
    tmp_path: Path,
    own_dir: Path,
    pinned_eng: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(tesseract, "own_tessdata_dir", lambda: own_dir)
    main(["models", "install", "--dir", str(tmp_path / "service")])
    out = capsys.readouterr()
    assert f"best models in {tmp_path / 'service'}: eng" in out.out
    with pytest.raises(SystemExit) as exit_:
        main(["models", "install", "xx", "--dir", str(tmp_path / "service")])
    assert exit_.value.code == 1
    assert "no best model pinned for xx (known: eng, deu, fra)" in capsys.readouterr().err


def test_status_into_a_reader_that_goes_away_is_no_traceback() -> None:
    """`ocr-service models status | head -1`: exit 141 as SIGPIPE would, nothing on stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocr_api.cli", "models", "status"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before it writes: its first write meets a pipe with no reader
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141 and err == "", err
