"""Run every benchmark in order; each writes bench/results/<name>.json. ``make bench``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("sample_throughput.py", "features_speed.py", "model_quality.py", "allocation_speed.py", "bandit_regret.py",
           "ope_obd.py", "session_features_speed.py", "pricing_quality.py", "auction_speed.py", "mmm_recovery.py",
           "market_speed.py", "rl_training.py", "dead_tracking_server.py")

if __name__ == "__main__":
    for script in SCRIPTS:
        print(f"== {script}", flush=True)
        subprocess.run([sys.executable, str(HERE / script)], cwd=HERE, check=True)
