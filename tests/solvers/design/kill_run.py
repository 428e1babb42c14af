"""The small training run that ``test_train_auction.py`` kills with SIGKILL and resumes.

Run as ``python -m tests.solvers.design.kill_run CHECKPOINT`` (the child process), or call :func:`run`.
"""

import sys

import jax

STEPS = 2000  # the child runs ~10 steps per millisecond: long enough to be killed mid-run


def draw(key, n):
    return jax.random.uniform(key, (n, 2, 1))


def run(checkpoint=None, steps=STEPS):
    from mechanisms import RegretNet
    from solvers import train_auction

    rule = RegretNet(2, 1, hidden=(8,))
    return train_auction(rule, draw, key=jax.random.key(3), steps=steps, batch_size=16, misreport_steps=3,
                         log_every=10, support=(0.0, 1.0), checkpoint=checkpoint, progress=False)


if __name__ == "__main__":
    jax.config.update("jax_enable_x64", True)  # as tests/conftest.py: the same random draws
    run(sys.argv[1])
