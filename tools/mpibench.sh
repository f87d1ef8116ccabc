#!/usr/bin/env bash
# Throughput of data-parallel training with 1, 2 and 3 local processes (docs/distributed.md). Builds the MPI test
# host, then for each network runs it alone (no MPI) and under Open MPI's mpirun with 2 and 3 ranks, and prints the
# host's "bench ..." lines (global samples/s over the timed epochs, after one warm-up epoch).
# Usage: tools/mpibench.sh [MODEL SAMPLES EPOCHS BATCH]...   (default: the four networks of the README)
set -uo pipefail
cd "$(dirname "$0")/.."
export TERM=dumb DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build tests/FlexNet.Distributed.Host -c Release -nologo -v q >/dev/null || { echo "build failed"; exit 1; }
host=tests/FlexNet.Distributed.Host/bin/Release/net10.0/FlexNet.Distributed.Host.dll
mpirun=$(command -v mpirun.openmpi || command -v mpirun) || { echo "mpirun not found (apt-get install -y openmpi-bin libopenmpi-dev)"; exit 1; }
opts=(--allow-run-as-root --oversubscribe --bind-to none --mca btl self,vader --mca btl_vader_single_copy_mechanism none --mca mpi_yield_when_idle 1)
if [ $# -eq 0 ]; then set -- mlp 8192 2 128 feedback 4096 2 128 cnn 1024 1 64 lstm 1024 1 64; fi
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
while [ $# -ge 4 ]; do
  m=$1 n=$2 e=$3 b=$4; shift 4
  timeout 900 dotnet "$host" bench "$m" "$n" "$e" "$b" | grep '^bench'
  for r in 2 3; do
    timeout 900 "$mpirun" "${opts[@]}" -np "$r" dotnet "$host" bench "$m" "$n" "$e" "$b" | grep '^bench'
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
