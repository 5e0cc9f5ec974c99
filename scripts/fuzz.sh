#!/usr/bin/env bash
# Runs each cargo fuzz target for SECONDS (default 600) one after another.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# cargo fuzz needs nightly compiler features; RUSTC_BOOTSTRAP=1 enables
# them on the stable toolchain. New inputs go to fuzz/corpus/TARGET
# (ignored by git); the committed seeds in fuzz/seeds/TARGET are read too,
# and the test suite replays them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(authorization_header form_and_basic token_classifier settings)
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
export RUSTC_BOOTSTRAP=1
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "fuzzing $target for $seconds s"
    cargo fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1
done
