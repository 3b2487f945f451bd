"""Where models live on this machine, and where glasslm keeps its library files.

Read from the environment at call time (so a different HOME, HF_HOME or OLLAMA_MODELS takes
effect at once, tests included): the Hugging Face cache, LM Studio's, Ollama's and GPT4All's
model folders on Linux, macOS and Windows, and glasslm's own cache and config folders. It only
names paths; it does not check that they exist or read anything in them, except GPT4All's
settings file, which may name a models folder the user chose.
"""
from __future__ import annotations

import configparser
import os
import sys
from pathlib import Path

APP = "glasslm"


def user_cache_dir() -> Path:
    """glasslm's cache folder: $XDG_CACHE_HOME/glasslm, ~/Library/Caches/glasslm, %LOCALAPPDATA%\\glasslm\\Cache."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / APP
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / APP / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / APP


def user_config_dir() -> Path:
    """glasslm's settings folder: $XDG_CONFIG_HOME/glasslm, ~/Library/Application Support/glasslm, %APPDATA%\\glasslm."""
    home = Path.home()
    if sys.platform == "darwin":
        return home / "Library" / "Application Support" / APP
    if os.name == "nt":
        return Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming") / APP
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / APP


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache, resolved as huggingface_hub resolves it (HF_HUB_CACHE, HF_HOME, XDG)."""
    explicit = os.environ.get("HF_HUB_CACHE") or os.environ.get("HUGGINGFACE_HUB_CACHE")
    if explicit:
        return _expand(explicit)
    hf_home = os.environ.get("HF_HOME")
    if hf_home:
        return _expand(hf_home) / "hub"
    return _expand(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")) / "huggingface" / "hub"


def lmstudio_dirs() -> list[Path]:
    """LM Studio's models folder (0.3 and later), then the one older versions used."""
    home = Path.home()
    return [home / ".lmstudio" / "models", home / ".cache" / "lm-studio" / "models"]


def ollama_dirs() -> list[Path]:
    """$OLLAMA_MODELS when set, else ~/.ollama/models (and the Linux service's store under /usr/share/ollama)."""
    explicit = os.environ.get("OLLAMA_MODELS")
    if explicit:
        return [_expand(explicit)]
    dirs = [Path.home() / ".ollama" / "models"]
    if sys.platform.startswith("linux"):
        dirs.append(Path("/usr/share/ollama/.ollama/models"))
    return dirs


def gpt4all_dirs() -> list[Path]:
    """GPT4All's default models folder, and the one its settings name when the user moved it."""
    home = Path.home()
    if sys.platform == "darwin":
        data, config = home / "Library" / "Application Support", home / ".config"
    elif os.name == "nt":
        local = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        data, config = local, Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        data = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
    dirs = [data / "nomic.ai" / "GPT4All"]
    chosen = _gpt4all_setting(config / "nomic.ai" / "GPT4All.ini")
    if chosen is not None and chosen not in dirs:
        dirs.append(chosen)
    return dirs


def _gpt4all_setting(ini: Path) -> Path | None:
    """GPT4All keeps a moved models folder as `modelPath` in its Qt settings file."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(ini, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    for section in parser.sections():
        value = parser[section].get("modelPath") or parser[section].get("modelpath")
        if value:
            return _expand(value.strip().strip('"'))
    return None


def _expand(path: str) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(path)))
