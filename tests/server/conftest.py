"""Fixtures: the bundled bard-mini loaded once, served by `glasslm serve` for the session (serving.py)."""
import pytest
import torch

import engine
from serving import BARD, RunningServer


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    # bard-mini is many times slower when torch's threads fight the server's and other work for two cores.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bard():
    model = engine.load(str(BARD), device="cpu", precision="fp32")
    yield model
    model.close()


@pytest.fixture(scope="session")
def served(bard):
    running = RunningServer(bard)
    yield running
    running.stop()


@pytest.fixture
def start_server():
    started = []

    def start(model, **options):
        running = RunningServer(model, **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
