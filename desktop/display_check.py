"""`python -m desktop.display_check`: before `make run`, check that Qt can open a window here.

With no display at all it says so (and suggests xvfb-run). On X11 (QT_QPA_PLATFORM unset or
xcb) it checks that the system libraries Qt's xcb platform plugin needs can be loaded, and
names the Debian/Ubuntu packages to install when one is missing. Exit status 0 means go
ahead. It does not import Qt (a missing library would crash that import instead of
explaining it).
"""
from __future__ import annotations

import ctypes
import os
import sys

XCB_LIBRARIES = {  # library -> Debian/Ubuntu package
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}
ALL_PACKAGES = " ".join(XCB_LIBRARIES.values())


def missing_libraries(load=ctypes.CDLL) -> list[str]:
    missing = []
    for library in XCB_LIBRARIES:
        try:
            load(library)
        except OSError:
            missing.append(library)
    return missing


def local_x_server_missing(display: str, socket_dir: str) -> bool:
    """True when DISPLAY names a local X server (":N" or ":N.S") whose socket does not exist."""
    host, _, number = display.partition(":")
    number = number.split(".")[0]
    if host or not number.isdigit() or not os.path.isdir(socket_dir):
        return False  # remote or unusual displays: let Qt try
    return not os.path.exists(os.path.join(socket_dir, f"X{number}"))


def check(env=None, load=ctypes.CDLL, platform: str = sys.platform,
          x11_socket_dir: str = "/tmp/.X11-unix") -> tuple[bool, str]:
    """(ok, message): whether the app can open a window with this environment."""
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return True, ""
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa and not qpa.startswith("xcb"):
        return True, ""  # offscreen, wayland, vnc...: Qt reports its own problems
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        return False, ("glasslm needs a display but none is set (no DISPLAY or WAYLAND_DISPLAY). Run it in a desktop "
                       "session, over ssh -X, or headless with: xvfb-run -s \"-screen 0 1400x900x24\" make run")
    if not env.get("DISPLAY"):
        return True, ""  # Wayland only: Qt uses its wayland plugin, not xcb
    missing = missing_libraries(load)
    if missing:
        packages = " ".join(dict.fromkeys(XCB_LIBRARIES[m] for m in missing))
        return False, (f"Qt's X11 (xcb) platform plugin cannot start: missing system libraries "
                       f"{', '.join(missing)} (packages: {packages}). Install them with:\n"
                       f"  sudo apt-get install {ALL_PACKAGES}")
    if local_x_server_missing(env["DISPLAY"], x11_socket_dir):
        return False, (f"DISPLAY is {env['DISPLAY']} but no X server is running there. Start your desktop session, "
                       "fix DISPLAY, or run headless with: xvfb-run -s \"-screen 0 1400x900x24\" make run")
    return True, ""


def main() -> int:
    ok, message = check()
    if not ok:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
