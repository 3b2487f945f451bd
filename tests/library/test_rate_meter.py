"""Download speed and time left (`RateMeter`), on an injected clock: no real time passes."""
from engine.library import RateMeter
from engine.library.units import human_duration, human_size


def test_speed_is_measured_over_windows_and_smoothed():
    now = [0.0]
    meter = RateMeter(clock=lambda: now[0], window_s=0.5, smoothing=0.5)
    assert meter.speed == 0 and meter.eta(1000) is None  # unknown until a window has passed
    now[0] = 0.25
    meter.add(1_000_000)
    assert meter.speed == 0
    now[0] = 1.0
    meter.add(1_000_000)  # 2 MB in 1 s
    assert meter.speed == 2_000_000 and meter.eta(6_000_000) == 3.0
    now[0] = 2.0
    meter.add(4_000_000)  # 4 MB/s now, smoothed with the 2 MB/s before
    assert meter.speed == 3_000_000


def test_units_read_as_people_read_them():
    assert [human_size(n) for n in (0, 999, 1500, 2_500_000, 7.25e9)] == ["0 B", "999 B", "1.5 KB", "2.5 MB", "7.2 GB"]
    assert [human_duration(s) for s in (None, 4.4, 75, 7260)] == ["?", "4 s", "1 min 15 s", "2 h 01 min"]
