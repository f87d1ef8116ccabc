#!/usr/bin/env bash
# usage: bench/compare.sh [--peers LIST] [NAME...]     (no names = every workload of shared/bench/README.md)
#   --peers pytorch (default)  FlexNet beside PyTorch: columns workload, flexnet, pytorch, ratio (as before)
#   --peers all                the same as --peers pytorch,torchsharp,onnxruntime
#   --peers A,B,...            any of pytorch, torchsharp, onnxruntime: columns workload, flexnet, one per peer,
#                              best (the best peer's value), ratio (FlexNet over the best peer)
# Runs FlexNet's benchmark (bench/run.sh) and the peers one after the other on this machine and prints, per
# name, the values and the ratio oriented so that > 1 means FlexNet is faster: latencies (µs/call, µs/step, ms)
# ratio = peer/flexnet; rates ratio = flexnet/peer; `%` rows print the values with ratio = flexnet/peer (an
# accuracy a peer prints as a fraction is shown in %). Missing figures print n/a.
# PyTorch runs under /usr/bin/python3 with the `tuned` profile, sourced from <shared>/bench/pytorch/profile.sh (the
# one rule every script that runs PyTorch as a peer follows; this script fails if that file is absent), and the
# OpenBLAS core it leaves in effect is checked (never Prescott). TorchSharp and ONNX Runtime run through their
# runners <shared>/bench/torchsharp/run.sh and <shared>/bench/onnxruntime/run.sh.
# FLEXNET_SHARED overrides the shared folder (default: <repo>/../shared). Details of every run go to stderr.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
shared=${FLEXNET_SHARED:-$repo/../shared}
pydir=$shared/bench/pytorch
profile=$pydir/profile.sh
PY=${PY:-/usr/bin/python3}

peers=pytorch
multi=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --peers) peers="${2:?--peers needs a value: all or a list of pytorch,torchsharp,onnxruntime}"; multi=1; shift 2 ;;
    --peers=*) peers="${1#*=}"; multi=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) args+=("$1"); shift ;;
  esac
done
[ "$peers" = all ] && peers=pytorch,torchsharp,onnxruntime
peer_list=$(echo "$peers" | tr ',' ' ')
for p in $peer_list; do
  case "$p" in pytorch|torchsharp|onnxruntime) ;; *) echo "compare.sh: unknown peer '$p' (pytorch, torchsharp, onnxruntime or all)" >&2; exit 2 ;; esac
done
# --peers pytorch alone prints the classic two-column table
[ "$peer_list" = pytorch ] && multi=0
has_peer() { [[ " $peer_list " == *" $1 "* ]]; }

if has_peer pytorch && [ ! -f "$profile" ]; then
  echo "compare.sh: $profile not found. The PyTorch peer must run with the shared tuned profile (the one rule" >&2
  echo "  for tuning the peer); put the shared folder beside the repository or set FLEXNET_SHARED to it." >&2
  exit 2
fi

all_names="gemm_1024 gemm_256 gemm_64 mlp_train mlp_train_connect mlp_1epoch_test_acc cnn_train lstm_train lstm_cell_loop_train
feedback_train mlp_infer_latency mlp_infer_latency_onnx_export mlp_infer_batch small_rnn_step_latency onnx_export_feedback_ms"
if [ ${#args[@]} -gt 0 ]; then names="${args[*]}"; else names=$(echo $all_names); fi

# the PyTorch script (or TorchSharp family) of a workload name
script_of() {
  case "$1" in
    gemm_*) echo gemm ;;
    mlp_train|mlp_train_connect|mlp_1epoch_test_acc) echo mlp_train ;;
    cnn_train) echo cnn_train ;;
    lstm_train|lstm_cell_loop_train) echo lstm_train ;;
    feedback_train) echo feedback_train ;;
    mlp_infer_*) echo mlp_infer ;;
    small_rnn_step_latency) echo small_rnn ;;
    *) echo "" ;;
  esac
}
family_of_torchsharp() {
  case "$1" in
    lstm_cell_loop_train) echo "" ;;   # TorchSharp's runner has the fused LSTM only
    *) script_of "$1" ;;
  esac
}

tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
: >"$tmp/flexnet"; : >"$tmp/pytorch"; : >"$tmp/torchsharp"; : >"$tmp/onnxruntime"

# ---- FlexNet
if ! bash "$repo/bench/run.sh" --list >"$tmp/known" 2>"$tmp/build.err"; then
  cat "$tmp/build.err" >&2
  echo "compare.sh: FlexNet benchmark does not build; FlexNet values are n/a" >&2
  : >"$tmp/known"
fi
fx_names=""
for n in $names; do
  if grep -qx -- "$n" "$tmp/known"; then fx_names="$fx_names $n"; fi
done
if [ -n "$fx_names" ]; then
  echo "# ---- FlexNet:$fx_names ($(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null | sed 's/^/load average /'))" >&2
  dotnet "$repo/bench/FlexNet.Bench/bin/Release/net10.0/FlexNet.Bench.dll" $fx_names >"$tmp/flexnet" || \
    echo "# FlexNet benchmark exited with an error" >&2
fi

# ---- PyTorch (tuned profile from shared/bench/pytorch/profile.sh)
if has_peer pytorch; then
  torch_ok=1
  if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "compare.sh: PyTorch is not importable with $PY (apt-get install python3-torch); PyTorch values are n/a" >&2
    torch_ok=0
  fi
  if [ $torch_ok = 1 ]; then
    scripts=""
    for n in $names; do
      s=$(script_of "$n")
      if [ -n "$s" ] && [[ " $scripts " != *" $s "* ]]; then scripts="$scripts $s"; fi
    done
    (
      cd "$pydir" || exit 1
      # shellcheck source=/dev/null
      . "$profile"
      core=$(OPENBLAS_VERBOSE=2 "$PY" -c 'import torch; torch.mm(torch.ones(2,2), torch.ones(2,2))' 2>&1 | sed -n 's/^Core: //p' | head -1)
      echo "# ---- PyTorch (profile tuned from $profile; OpenBLAS core ${core:-unknown}, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}, ATEN_CPU_CAPABILITY=$ATEN_CPU_CAPABILITY):$scripts" >&2
      if [ "$core" = Prescott ]; then
        echo "compare.sh: OpenBLAS runs its Prescott (SSE3) kernels even with the tuned profile: a handicapped peer; PyTorch values are n/a" >&2
        exit 1
      fi
      if [ -n "$scripts" ]; then "$PY" env_info.py >&2; fi
      for s in $scripts; do
        timeout 600 "$PY" "$s.py" || echo "# $s.py FAILED" >&2
      done
    ) >"$tmp/pytorch"
  fi
fi

# ---- TorchSharp (shared/bench/torchsharp/run.sh FAMILY,...)
if has_peer torchsharp; then
  fams=""
  for n in $names; do
    s=$(family_of_torchsharp "$n")
    if [ -n "$s" ] && [[ ",$fams," != *",$s,"* ]]; then fams="${fams:+$fams,}$s"; fi
  done
  if [ -n "$fams" ]; then
    if [ ! -f "$shared/bench/torchsharp/run.sh" ]; then
      echo "compare.sh: $shared/bench/torchsharp/run.sh not found; TorchSharp values are n/a" >&2
    else
      echo "# ---- TorchSharp: $fams" >&2
      timeout 1800 bash "$shared/bench/torchsharp/run.sh" "$fams" >"$tmp/torchsharp" || echo "# TorchSharp runner FAILED" >&2
    fi
  fi
fi

# ---- ONNX Runtime (inference only: shared/bench/onnxruntime/run.sh THREADS)
if has_peer onnxruntime && [[ " $names " == *" mlp_infer_"* ]]; then
  if [ ! -f "$shared/bench/onnxruntime/run.sh" ]; then
    echo "compare.sh: $shared/bench/onnxruntime/run.sh not found; ONNX Runtime values are n/a" >&2
  else
    echo "# ---- ONNX Runtime: mlp_infer_latency mlp_infer_batch" >&2
    timeout 900 bash "$shared/bench/onnxruntime/run.sh" 2 >"$tmp/onnxruntime" || echo "# ONNX Runtime runner FAILED" >&2
  fi
fi

# ---- table
value_of() { awk -v n="$2" '$1 == n { print $2; exit }' "$tmp/$1"; }
unit_of() { awk -v n="$2" '$1 == n { $1 = ""; $2 = ""; sub(/^ +/, ""); print; exit }' "$tmp/$1"; }
is_lower() { case "$1" in "µs/call"|"µs/step"|ms|us|"us/call"|"us/step") return 0 ;; *) return 1 ;; esac; }
# ratio flexnet vs peer, > 1 = FlexNet faster (or more accurate)
ratio() {
  awk -v f="$1" -v p="$2" -v lower="$3" 'BEGIN {
    if (lower) { r = (f > 0) ? p / f : -1 } else { r = (p > 0) ? f / p : -1 }
    if (r < 0) print "n/a"; else printf "%.2f", r }'
}

if [ $multi = 0 ]; then
  printf '%-24s %18s %18s %8s\n' "workload" "flexnet" "pytorch" "ratio"
  for n in $names; do
    fx=$(value_of flexnet "$n"); fu=$(unit_of flexnet "$n")
    py=$(value_of pytorch "$n"); pu=$(unit_of pytorch "$n")
    unit=${fu:-$pu}
    r=n/a
    if [ -n "$fx" ] && [ -n "$py" ]; then
      if is_lower "$unit"; then r=$(ratio "$fx" "$py" 1); else r=$(ratio "$fx" "$py" 0); fi
    fi
    printf '%-24s %18s %18s %8s\n' "$n" "${fx:-n/a}${fx:+ $fu}" "${py:-n/a}${py:+ $pu}" "$r"
  done
  exit 0
fi

printf '%-24s %-12s %12s' "workload" "unit" "flexnet"
for p in $peer_list; do printf ' %12s' "$p"; done
printf ' %12s %8s\n' "best_peer" "ratio"
for n in $names; do
  fx=$(value_of flexnet "$n"); unit=$(unit_of flexnet "$n")
  lower=0
  best=""; bestp=""
  row=""
  for p in $peer_list; do
    v=$(value_of "$p" "$n"); u=$(unit_of "$p" "$n")
    [ -z "$unit" ] && unit=$u
    # an accuracy printed as a fraction beside FlexNet's %
    if [ -n "$v" ] && [ "$u" = fraction ] && [ "$unit" = "%" ]; then v=$(awk -v v="$v" 'BEGIN { printf "%.2f", 100 * v }'); fi
    row="$row $(printf '%12s' "${v:-n/a}")"
    if [ -n "$v" ]; then
      if is_lower "${unit:-$u}"; then lower=1; fi
      if [ -z "$best" ] || awk -v a="$v" -v b="$best" -v l="$lower" 'BEGIN { exit !(l ? a < b : a > b) }'; then best=$v; bestp=$p; fi
    fi
  done
  is_lower "$unit" && lower=1
  r=n/a
  if [ -n "$fx" ] && [ -n "$best" ]; then r=$(ratio "$fx" "$best" $lower); fi
  printf '%-24s %-12s %12s%s %12s %8s\n' "$n" "${unit:-?}" "${fx:-n/a}" "$row" "${bestp:-n/a}" "$r"
done
