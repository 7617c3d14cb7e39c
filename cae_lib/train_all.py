"""Train (or find cached) every run a book build of a profile loads: one command on a GPU.

``python -m cae_lib.train_all --profile paper`` trains, for both models, every seed of the
profile (:data:`cae_lib.config.PROFILE_SEEDS`) and the upsampling ablation (the first seed with
each other upsampling mode) into ``artifacts/runs/``; copy that folder next to the book and
``make book PROFILE=paper`` builds every chapter from it without retraining.
"""

from __future__ import annotations

import argparse
import sys

from .cache import run_dir
from .config import PROFILES
from .report import format_duration
from .study import load_study


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cae_lib.train_all", description=__doc__.split("\n")[0])
    parser.add_argument("--profile", default="paper", choices=list(PROFILES), help="default: paper")
    parser.add_argument("--device", default=None, help="auto (default: CUDA when present), cpu or cuda")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per model (default: the profile's)")
    parser.add_argument("--artifacts-dir", default=None, help="default: $CAE_ARTIFACTS_DIR, else artifacts/")
    parser.add_argument("--data-dir", default=None, help="default: $CAE_DATA_DIR, else data/")
    args = parser.parse_args(argv)
    study = load_study(args.profile, args.data_dir, args.artifacts_dir, seeds=args.seeds, device=args.device)
    for run in study.all_runs():
        cfg = run.config
        print(
            f"{cfg.model} (seed {cfg.seed}, upsample {cfg.upsample}): test MSE {run.test_mse:.5f}, "
            f"trained in {format_duration(run.train_seconds)} on {run.env['device_name']} "
            f"-> {run_dir(cfg, args.artifacts_dir)}"
        )
    # The per-seed numbers the intro and numbers chapters report (a linear probe per run: about a
    # minute each on a 2-core CPU) are cached beside each run now, so the book build does not
    # sit silent computing them. The default probe length is the chapters' default.
    print(f"Scoring each seed's model (test error, noise, linear probe) for {len(study.seeds)} seed(s)...")
    study.headline()
    print(f"Build the book from these: make book PROFILE={args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
