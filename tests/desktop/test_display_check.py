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
