"""`python -m desktop.display_check`: no display, missing xcb libraries, and the all-clear."""
from __future__ import annotations

from desktop.display_check import ALL_PACKAGES, check


def loads_all(name):
    return object()


def test_no_display_says_so_and_suggests_xvfb():
    ok, message = check({}, loads_all, "linux")
    assert not ok and "no DISPLAY" in message and "xvfb-run" in message


def test_a_missing_xcb_library_names_the_packages():
    def missing_cursor(name):
        if name == "libxcb-cursor.so.0":
            raise OSError(name)

    ok, message = check({"DISPLAY": ":0"}, missing_cursor, "linux")
    assert not ok and "libxcb-cursor.so.0" in message and f"sudo apt-get install {ALL_PACKAGES}" in message


def test_a_local_display_with_no_x_server_says_so(tmp_path):
    (tmp_path / "X0").touch()  # a running server's socket
    assert check({"DISPLAY": ":0"}, loads_all, "linux", str(tmp_path)) == (True, "")
    ok, message = check({"DISPLAY": ":7.0"}, loads_all, "linux", str(tmp_path))
    assert not ok and "no X server is running" in message and "xvfb-run" in message
    assert check({"DISPLAY": "remote:7"}, loads_all, "linux", str(tmp_path)) == (True, "")  # not ours to judge


def test_all_present_or_not_x11_is_fine(tmp_path):
    (tmp_path / "X0").touch()
    assert check({"DISPLAY": ":0"}, loads_all, "linux", str(tmp_path)) == (True, "")
    assert check({"QT_QPA_PLATFORM": "offscreen"}, loads_all, "linux") == (True, "")
    assert check({"WAYLAND_DISPLAY": "wayland-0"}, loads_all, "linux") == (True, "")
    assert check({}, loads_all, "darwin") == (True, "")


def test_a_qt_platform_that_cannot_start_is_named(tmp_path):
    plugins = ["offscreen", "xcb", "wayland", "minimal"]
    ok, message = check({"QT_QPA_PLATFORM": "bogus"}, loads_all, "linux", platforms=plugins)
    assert not ok and "'bogus'" in message and "offscreen, xcb, wayland, minimal" in message
    ok, message = check({"QT_QPA_PLATFORM": "xcb"}, loads_all, "linux", platforms=plugins, command="glasslm app")
    assert not ok and "DISPLAY is not set" in message and "glasslm app" in message
    ok, message = check({"QT_QPA_PLATFORM": "wayland", "XDG_RUNTIME_DIR": str(tmp_path)}, loads_all, "linux",
                        platforms=plugins)
    assert not ok and "no Wayland compositor" in message
    (tmp_path / "wayland-0").touch()
    assert check({"QT_QPA_PLATFORM": "wayland-egl", "XDG_RUNTIME_DIR": str(tmp_path)}, loads_all, "linux",
                 platforms=plugins) == (True, "")
    assert check({"QT_QPA_PLATFORM": "xcb;offscreen"}, loads_all, "linux", platforms=plugins) == (True, "")


def test_glasslm_app_itself_checks_the_display_before_qt_loads(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["GLASSLM_DB"] = str(tmp_path / "h.db")
    done = subprocess.run([sys.executable, "-m", "desktop.cli", "app"], cwd=Path(__file__).resolve().parents[2],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "needs a display but none is set" in done.stderr and "xvfb-run" in done.stderr and "glasslm app" in done.stderr
    assert not (tmp_path / "h.db").exists()


def test_glasslm_app_refuses_empty_paths():
    from desktop.app import parse_args, start_problem

    assert "--db is empty" in start_problem(parse_args(["--db", ""]), {"QT_QPA_PLATFORM": "offscreen"})
    assert "--model is empty" in start_problem(parse_args(["--model", " "]), {"QT_QPA_PLATFORM": "offscreen"})
    assert start_problem(parse_args([]), {"QT_QPA_PLATFORM": "offscreen"}) == ""
