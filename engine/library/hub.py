"""Planning a download from the Hugging Face Hub, and the Hub's errors as one sentence each.

`plan_pull` asks the Hub (through huggingface_hub, honouring HF_ENDPOINT, HF_TOKEN and
HF_HUB_OFFLINE) what a repository holds and picks only what glasslm needs: config, tokenizer
and safetensors files, or the one GGUF file asked for. It refuses, before anything is
downloaded, a repository of pickle weights, one whose architecture the engine cannot run
(config.json is read from the Hub, not saved), and one with several GGUF files and none chosen
(`ChooseFile` lists them). It downloads nothing itself (download.py does).
"""
from __future__ import annotations

import importlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..checkpoint import PICKLE_SUFFIXES
from .errors import ChooseFile, LibraryError
from .paths import hf_hub_cache
from .units import human_size

SIDE_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
              "special_tokens_map.json", "chat_template.jinja", "model.safetensors.index.json")
REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
TRUE_VALUES = ("1", "ON", "YES", "TRUE")


@dataclass(frozen=True)
class RemoteFile:
    name: str  # path inside the repository
    size: int | None  # bytes, as the Hub lists it


@dataclass(frozen=True)
class PullPlan:
    repo_id: str
    revision: str  # the branch, tag or commit asked for ("main" when none was)
    commit: str  # the commit every file comes from
    kind: str  # "safetensors" (a model folder) | "gguf" (one file)
    files: tuple[RemoteFile, ...]
    endpoint: str
    cache_dir: Path
    token: str | None = field(default=None, repr=False)

    @property
    def total_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)

    @property
    def storage(self) -> Path:
        return self.cache_dir / ("models--" + self.repo_id.replace("/", "--"))

    @property
    def snapshot(self) -> Path:
        return self.storage / "snapshots" / self.commit

    @property
    def model_path(self) -> Path:
        """What engine.load opens once downloaded: the snapshot folder, or the GGUF file in it."""
        return self.snapshot / self.files[0].name if self.kind == "gguf" else self.snapshot


def hub_endpoint(endpoint: str | None = None) -> str:
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE"), os.environ.get("TRANSFORMERS_OFFLINE"))
    return constants.HF_HUB_OFFLINE or any((v or "").upper() in TRUE_VALUES for v in flags)


def plan_pull(repo_id: str, file: str | None = None, revision: str | None = None, *, endpoint: str | None = None,
              cache_dir: Path | None = None, token: str | None = None) -> PullPlan:
    """What to download; LibraryError (one sentence) when the repository cannot give glasslm a model."""
    from huggingface_hub import HfApi

    repo_id = repo_id.strip().strip("/")
    if not REPO_ID.match(repo_id) or ".." in repo_id:
        raise LibraryError(f"{repo_id!r} is not a Hub repository id; give owner/name, "
                           "e.g. HuggingFaceTB/SmolLM2-135M-Instruct")
    endpoint, cache_dir = hub_endpoint(endpoint), Path(cache_dir or hf_hub_cache())
    if offline():
        raise LibraryError(f"HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to download {repo_id} "
                           "(glasslm models lists what is already on this machine)")
    try:
        info = HfApi(endpoint=endpoint).model_info(repo_id, revision=revision, files_metadata=True, token=token)
    except Exception as err:  # noqa: BLE001 - every Hub or network failure becomes one sentence
        raise hub_error(err, repo_id, revision, endpoint) from None
    commit = info.sha or revision or "main"
    siblings = {s.rfilename: (s.size if s.size is not None else (s.lfs.size if s.lfs else None))
                for s in info.siblings or []}
    kind, names = _choose(repo_id, siblings, file)
    plan = PullPlan(repo_id, revision or "main", commit, kind, tuple(RemoteFile(n, siblings[n]) for n in names),
                    endpoint, cache_dir, token)
    if kind == "safetensors":
        _check_config(plan)
    return plan


def _choose(repo_id: str, siblings: dict[str, int | None], file: str | None) -> tuple[str, list[str]]:
    top = [n for n in siblings if "/" not in n]
    ggufs = [n for n in siblings if n.lower().endswith(".gguf")]
    if file:
        if file not in siblings:
            listed = f"; its GGUF files: {', '.join(ggufs[:12])}" if ggufs else ""
            raise LibraryError(f"{repo_id} has no file {file}{listed}")
        if not file.lower().endswith(".gguf"):
            raise LibraryError(f"--file takes one of {repo_id}'s .gguf files, and {file} is not one "
                               "(leave --file out to download the safetensors model)")
        return "gguf", [file]
    weights = [n for n in top if n.endswith(".safetensors")]
    if weights and "config.json" in top:
        if any(n.startswith("model") for n in weights):  # skip a second copy such as consolidated.safetensors
            weights = [n for n in weights if n.startswith("model")]
        if "tokenizer.json" not in top:
            raise LibraryError(f"{repo_id} has no tokenizer.json, which glasslm needs; nothing was downloaded")
        return "safetensors", [n for n in SIDE_FILES if n in top] + sorted(weights)
    if len(ggufs) == 1:
        return "gguf", ggufs
    if ggufs:
        lines = "\n".join(f"  {n}  ({human_size(siblings[n])})" for n in ggufs)
        raise ChooseFile(f"{repo_id} holds {len(ggufs)} GGUF files; choose one with --file NAME:\n{lines}",
                         tuple(RemoteFile(n, siblings[n]) for n in ggufs))
    pickles = [n for n in top if Path(n).suffix in PICKLE_SUFFIXES]
    if pickles:
        raise LibraryError(f"{repo_id} holds only pickle weights ({pickles[0]}), which glasslm never loads because "
                           "unpickling can run code; nothing was downloaded. Look for a safetensors or GGUF "
                           "version of this model")
    raise LibraryError(f"{repo_id} has no model weights glasslm can use (no .safetensors or .gguf files)")


def _check_config(plan: PullPlan) -> None:
    """Read config.json from the Hub (not into the cache) and refuse an architecture the engine cannot run."""
    from huggingface_hub import hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    from ..config import ModelConfig
    from ..errors import EngineError

    url = hf_hub_url(plan.repo_id, "config.json", revision=plan.commit, endpoint=plan.endpoint)
    try:
        response = get_session().get(url, headers=build_hf_headers(token=plan.token), follow_redirects=True)
        hf_raise_for_status(response)
        config = json.loads(response.content)
    except ValueError:
        raise LibraryError(f"{plan.repo_id}'s config.json is not valid JSON; nothing was downloaded") from None
    except Exception as err:  # noqa: BLE001
        raise hub_error(err, plan.repo_id, plan.revision, plan.endpoint) from None
    try:
        ModelConfig.from_dict(config if isinstance(config, dict) else {})
    except EngineError as err:
        raise LibraryError(f"{plan.repo_id} is a model glasslm cannot run ({err}); nothing was downloaded") from None


def transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level errors of the HTTP library huggingface_hub uses (httpx or its successor)."""
    from huggingface_hub.utils import get_session

    library = importlib.import_module(type(get_session()).__module__.split(".")[0])
    return (library.TransportError,)


def hub_error(err: BaseException, repo_id: str, revision: str | None, endpoint: str) -> LibraryError:
    """One sentence, saying what to do, for anything huggingface_hub or the network raised."""
    from huggingface_hub import get_token
    from huggingface_hub.errors import (
        EntryNotFoundError, GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    page = f"{endpoint}/{repo_id}"
    if isinstance(err, LibraryError):
        return err
    if isinstance(err, GatedRepoError):
        if get_token():
            return LibraryError(f"{repo_id} is gated and your token has no access to it yet: accept its license at "
                                f"{page} with the account the token belongs to (some repos also wait for approval), "
                                "then run the command again")
        return LibraryError(f"{repo_id} is gated: accept its license at {page} (signed in), create a read token at "
                            f"{endpoint}/settings/tokens, set HF_TOKEN to it (or run `hf auth login`), "
                            "then run the command again")
    if isinstance(err, RepositoryNotFoundError):
        return LibraryError(f"{repo_id} is not on the Hub ({endpoint}): check the name (owner/name); a private "
                            "repository answers the same way without a token that can read it (set HF_TOKEN)")
    if isinstance(err, RevisionNotFoundError):
        return LibraryError(f"{repo_id} has no revision {revision!r}; give a branch, tag or commit it has "
                            "(or leave --revision out for main)")
    if isinstance(err, EntryNotFoundError):
        return LibraryError(f"{repo_id} has no such file at revision {revision or 'main'}")
    if isinstance(err, OfflineModeIsEnabled):
        return LibraryError("HF_HUB_OFFLINE is set, so nothing is downloaded; unset it to download "
                            f"{repo_id}")
    if isinstance(err, HfHubHTTPError) and getattr(err, "response", None) is not None:
        status = err.response.status_code
        if status == 401:
            return LibraryError(f"the Hub refused the token (401) for {repo_id}: check HF_TOKEN, or unset it "
                                "for a public repository")
        if status == 403:
            return LibraryError(f"the Hub refused access to {repo_id} (403): check that your token may read it")
        if status == 429:
            return LibraryError("the Hub is rate-limiting requests (429); wait a few minutes and run it again")
        if status >= 500:
            return LibraryError(f"the Hub answered {status} for {repo_id}; it may be down, try again later")
        return LibraryError(f"the Hub answered {status} for {repo_id}")
    if isinstance(err, transport_errors() + (ConnectionError, TimeoutError)):
        return LibraryError(f"cannot reach {endpoint} ({_reason(err)}): check your connection, or set "
                            "HF_HUB_OFFLINE=1 to work only with the models already on this machine")
    if isinstance(err, OSError):
        return LibraryError(f"download of {repo_id} failed: {err.strerror or err}")
    return LibraryError(f"download of {repo_id} failed ({type(err).__name__}: {err})")


def _reason(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:120]


def cached_model(repo_id: str, file: str | None = None, revision: str | None = None,
                 cache_dir: Path | None = None) -> Path | None:
    """The model already complete in the cache for that revision (what offline use can open), else None."""
    from .folder_facts import folder_facts

    storage = Path(cache_dir or hf_hub_cache()) / ("models--" + repo_id.strip().strip("/").replace("/", "--"))
    revision = revision or "main"
    commit = revision
    ref = storage / "refs" / revision
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
    snapshot = storage / "snapshots" / commit
    if file:
        return snapshot / file if (snapshot / file).is_file() else None
    if (snapshot / "config.json").is_file() and not folder_facts(snapshot).incomplete:
        return snapshot
    return None
