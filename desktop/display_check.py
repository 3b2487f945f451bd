"""Check that Qt can open a window here, before Qt itself aborts with its own message.

Run by `glasslm app` (desktop/app.py) before it imports Qt, and by `make run` as
`python -m desktop.display_check`. With no display at all it says so (and suggests xvfb-run).
On X11 (QT_QPA_PLATFORM unset or xcb) it checks that the system libraries Qt's xcb platform
plugin needs can be loaded, and names the Debian/Ubuntu packages to install when one is
missing; for Wayland it checks that the compositor's socket exists; a QT_QPA_PLATFORM that
names no installed platform plugin is named as such (a "xcb;offscreen" fallback list passes
when any entry would work). Exit status 0 means go ahead. It does not import Qt (a missing
library would crash that import instead of explaining it).
"""
from __future__ import annotations

import ctypes
import glob
import importlib.util
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


def available_platforms() -> list[str] | None:
    """Names of the Qt platform plugins installed with PySide6 (None when they cannot be found)."""
    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.origin:
        return None
    folder = os.path.join(os.path.dirname(spec.origin), "Qt", "plugins", "platforms")
    names = [os.path.basename(p)[len("libq"):].split(".")[0] for p in glob.glob(os.path.join(folder, "libq*"))]
    return sorted(names) or None


def check(env=None, load=ctypes.CDLL, platform: str = sys.platform, x11_socket_dir: str = "/tmp/.X11-unix",
          command: str = "make run", platforms: list[str] | None = None) -> tuple[bool, str]:
    """(ok, message): whether the app can open a window with this environment.

    `command` is what the headless hint tells the person to run under xvfb-run; `platforms`
    the installed plugin names (default: found next to PySide6).
    """
    env = os.environ if env is None else env
    if not platform.startswith("linux"):
        return True, ""
    qpa = env.get("QT_QPA_PLATFORM", "").strip()
    if not qpa:
        if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
            return False, ("glasslm needs a display but none is set (no DISPLAY or WAYLAND_DISPLAY). Run it in a "
                           "desktop session, over ssh -X, or headless with: "
                           f"xvfb-run -s \"-screen 0 1400x900x24\" {command}")
        if not env.get("DISPLAY"):
            return True, ""  # Wayland only: Qt uses its wayland plugin, not xcb
        return _check_xcb(env, load, x11_socket_dir, command)
    names = [part.split(":")[0].strip() for part in qpa.split(";") if part.strip()]
    platforms = available_platforms() if platforms is None else platforms
    first_problem = ""
    for name in names:  # Qt tries a ";"-separated list in order
        ok, message = _check_platform(name, env, load, x11_socket_dir, command, platforms)
        if ok:
            return True, ""
        first_problem = first_problem or message
    return False, first_problem


def _check_platform(name: str, env, load, x11_socket_dir: str, command: str,
                    platforms: list[str] | None) -> tuple[bool, str]:
    if name == "xcb":
        if not env.get("DISPLAY"):
            return False, ("QT_QPA_PLATFORM is xcb but DISPLAY is not set. Run it in a desktop session, over ssh -X, "
                           f"or headless with: xvfb-run -s \"-screen 0 1400x900x24\" {command}")
        return _check_xcb(env, load, x11_socket_dir, command)
    if platforms is not None and name not in platforms and not name.startswith("wayland"):  # one file, several names
        return False, (f"QT_QPA_PLATFORM names {name!r}, which is not a Qt platform plugin installed here "
                       f"(available: {', '.join(platforms)}); unset it or choose one of those")
    if name.startswith("wayland"):
        socket = env.get("WAYLAND_DISPLAY") or "wayland-0"
        if not os.path.isabs(socket):
            socket = os.path.join(env.get("XDG_RUNTIME_DIR", ""), socket)
        if not os.path.exists(socket):
            return False, (f"QT_QPA_PLATFORM is {name} but no Wayland compositor is listening ({socket} does not "
                           "exist). Start your desktop session, fix WAYLAND_DISPLAY, or run headless with: "
                           f"QT_QPA_PLATFORM=xcb xvfb-run -s \"-screen 0 1400x900x24\" {command}")
    return True, ""  # offscreen, minimal, vnc, eglfs...: chosen on purpose; Qt reports its own problems


def _check_xcb(env, load, x11_socket_dir: str, command: str) -> tuple[bool, str]:
    missing = missing_libraries(load)
    if missing:
        packages = " ".join(dict.fromkeys(XCB_LIBRARIES[m] for m in missing))
        return False, (f"Qt's X11 (xcb) platform plugin cannot start: missing system libraries "
                       f"{', '.join(missing)} (packages: {packages}). Install them with:\n"
                       f"  sudo apt-get install {ALL_PACKAGES}")
    if local_x_server_missing(env["DISPLAY"], x11_socket_dir):
        return False, (f"DISPLAY is {env['DISPLAY']} but no X server is running there. Start your desktop session, "
                       f"fix DISPLAY, or run headless with: xvfb-run -s \"-screen 0 1400x900x24\" {command}")
    return True, ""


def main() -> int:
    ok, message = check()
    if not ok:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
