"""Finding the Chromium the robots drive and its launch flags (``find_chromium``, ``launch_args``)."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
from pathlib import Path

import structlog
from playwright.async_api import Playwright

__all__ = ["ENV_CHROMIUM_PATH", "BrowserNotFound", "find_chromium", "is_executable", "launch_args"]


def _log() -> structlog.typing.FilteringBoundLogger:
    return structlog.get_logger(__name__)


ENV_CHROMIUM_PATH = "KAIBAN_CHROMIUM_PATH"
_SYSTEM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
_PATH_CANDIDATES = ("chromium", "chromium-browser")
#: Chromium's headless-only build (Debian's ``chromium-headless-shell``, Playwright's ``chromium-headless-shell``):
#: the same engine without the browser's UI layers. A filing costs ~40 % less CPU in it (bench/chromium_cost.py)
_SYSTEM_SHELLS = ("/usr/bin/chromium-headless-shell",)
_PATH_SHELLS = ("chromium-headless-shell",)


class BrowserNotFound(RuntimeError):
    """No Chromium executable could be found."""


def _is_executable(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _playwright_cache() -> str:
    root = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if root == "0":
        import playwright

        return str(Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers")
    return root or str(Path.home() / ".cache" / "ms-playwright")


def _first_in_cache(patterns: tuple[str, ...]) -> str | None:
    root = _playwright_cache()
    for pattern in patterns:
        for candidate in sorted(glob.glob(os.path.join(root, pattern)), reverse=True):
            if _is_executable(candidate):
                return candidate
    return None


def _bundled_chromium() -> str | None:
    """Playwright's own Chromium, if `playwright install chromium` was ever run (not launched)."""
    return _first_in_cache(
        ("chromium-*/chrome-linux*/chrome", "chromium-*/chrome-mac*/Chromium.app/Contents/MacOS/Chromium")
    )


def _bundled_shell() -> str | None:
    """Playwright's own headless shell (installed with its Chromium since Playwright 1.49)."""
    return _first_in_cache(
        (
            "chromium_headless_shell-*/chrome-*linux*/chrome-headless-shell",
            "chromium_headless_shell-*/chrome-linux*/headless_shell",
        )
    )


def _installed(paths: tuple[str, ...], names: tuple[str, ...]) -> str | None:
    for candidate in paths:
        if _is_executable(candidate):
            return candidate
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_chromium(playwright: Playwright | None = None, *, headless: bool = True) -> str | None:
    """Path of the Chromium to drive, or None.

    Order: ``$KAIBAN_CHROMIUM_PATH``; then, for a headless browser, a headless shell (Playwright's, then
    ``/usr/bin/chromium-headless-shell`` or ``chromium-headless-shell`` on ``PATH``); then the full browser:
    Playwright's bundled Chromium if installed (asked of a running ``playwright`` when given, else looked up in
    its browser cache, never launched), ``/usr/bin/chromium``, ``chromium`` on ``PATH``. A headed browser
    (``headless=False``, for watching a robot) is never a headless shell.
    """
    configured = os.environ.get(ENV_CHROMIUM_PATH)
    if configured:
        resolved = configured if _is_executable(configured) else shutil.which(configured)
        if resolved:
            return resolved
        _log().warning("browser.configured_chromium_missing", env=ENV_CHROMIUM_PATH, path=configured)
    if headless:
        shell = _bundled_shell() or _installed(_SYSTEM_SHELLS, _PATH_SHELLS)
        if shell:
            return shell
    if playwright is not None:
        with contextlib.suppress(Exception):
            running = playwright.chromium.executable_path
            if running and _is_executable(running):
                return running
    return _bundled_chromium() or _installed(_SYSTEM_CANDIDATES, _PATH_CANDIDATES)


# Playwright starts Chromium with a --disable-features list of its own, and Chromium honours only the LAST
# --disable-features switch: ours repeats Playwright's (of the locked version, as its driver passes it;
# tests/bots/test_chromium_flags.py compares it with the command line Playwright gives Chromium) and adds kaiban's.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
# RenderDocument: Chromium builds a new frame (renderer frame, widget, compositor frame sink) for every
# navigation, even to a page of the same site; a robot filing loads six to eight pages of one portal. Without
# it a page load cost about 35 ms of Chromium CPU against 58 here, a filing 570 ms against 888
# (BENCHMARKS.md, "RenderDocument"). What a page shows and does is the same.
KAIBAN_DISABLED_FEATURES = ("RenderDocument",)
DISABLE_FEATURES_FLAG = "--disable-features=" + ",".join(PLAYWRIGHT_DISABLED_FEATURES + KAIBAN_DISABLED_FEATURES)


def launch_args() -> list[str]:
    """Chromium flags for a headless server (``--no-sandbox`` only when running as root)."""
    args = [
        DISABLE_FEATURES_FLAG,
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-gpu",
        "--no-first-run",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(0, "--no-sandbox")
    return args


is_executable = _is_executable


def main(argv: list[str] | None = None) -> int:
    """``python -m bots.browser --check``: say which Chromium the robots will use (exit 1 if none)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(description="Which Chromium the robots use")
    parser.add_argument("--check", action="store_true", help="exit 1 when no Chromium is found")
    parser.parse_args(argv)
    path = find_chromium()
    if path is None:
        print("no Chromium found: set KAIBAN_CHROMIUM_PATH, or install Debian's `chromium`", file=sys.stderr)
        return 1
    print(f"chromium: {path}")
    return 0
