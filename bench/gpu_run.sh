#!/usr/bin/env bash
# One call on the GPU machine: install the wheels carried in .whl (the image lacks diffusers),
# then run the named parts, each logged to $OUT/<part>.log with its own time limit.
#   bash bench/gpu_run.sh tests speed-offload speed-fp8 editing
#   bash bench/gpu_run.sh tests-speed,editing     # some of tests/gpu/test_gpu_*.py
set -u
python3 -m pip install -q --no-index --no-deps .whl/*.whl 2>&1 | tail -2
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export FRAMECRAFT_MODELS_DIR=${FRAMECRAFT_MODELS_DIR:-/tmp/fc-models}
for part in "$@"; do
  started=$(date +%s)
  case "$part" in
    tests) timeout 420 python3 -m pytest --noconftest -p no:django -p no:cacheprovider \
             -p no:logging -o addopts="" -q -rf --tb=short tests/gpu \
             --ignore=tests/gpu/test_multi_gpu.py ;;
    tests-*) files=(); names=${part#tests-}; for name in ${names//,/ }; do files+=("tests/gpu/test_gpu_$name.py"); done
             timeout 300 python3 -m pytest --noconftest -p no:django -p no:cacheprovider \
             -p no:logging -o addopts="" -q -rf --tb=short "${files[@]}" ;;
    speed-offload) timeout ${OFFLOAD_LIMIT:-380} python3 bench/speed.py --parts offload \
                     --offload-steps "${OFFLOAD_STEPS:-25}" ;;
    speed-fp8) timeout 330 python3 bench/speed.py --parts fp8 ;;
    speed) timeout 580 python3 bench/speed.py ;;
    # issue 23: whole 50-step 1.3B jobs, plain / Quality / Quality + fp8 in one process
    speed-23) timeout ${SPEED23_LIMIT:-380} python3 bench/speed.py --parts plain,quality,fp8 \
                --steps 50 --fp8-steps 50 ;;
    # issue 23: a restarted worker's first compiled job, cold and with the compile cache
    restart) timeout ${RESTART_LIMIT:-580} python3 bench/compile_restart.py \
               --variants "${RESTART_VARIANTS:-fp8-global,fp8,fp8-untuned,fp8-mega}" \
               --deadline $(( ${RESTART_LIMIT:-580} - 15 )) ;;
    # issue 23: one 1.3B CFG step profiled, attention backends, CFG batched or not
    profile) timeout ${PROFILE_LIMIT:-180} python3 bench/step_profile.py \
               --budget $(( ${PROFILE_LIMIT:-180} - 25 )) ;;
    editing-low-vram) timeout ${EDIT_LIMIT:-500} python3 bench/editing.py --low-vram-only \
                        --steps "${EDIT_STEPS:-20}" --no-write ;;
    editing) timeout ${EDIT_LIMIT:-500} python3 bench/editing.py --steps "${EDIT_STEPS:-20}" --no-write ;;
    *) echo "unknown part $part" ;;
  esac > "$OUT/${part//,/_}.log" 2>&1
  echo "== $part: rc $? in $(( $(date +%s) - started ))s"
  tail -n 25 "$OUT/${part//,/_}.log"
done
