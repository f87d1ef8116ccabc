#!/usr/bin/env bash
# The README's test command. Runs the whole xunit suite (twice on an AVX-512 CPU: again with DOTNET_EnableAVX512=0), then the kernel tests again with the SIMD paths
# switched off one level at a time (Vector512 off, AVX2 off, all hardware intrinsics off), then the ONNX export
# tests (tests/FlexNet.Onnx.Tests, run in ONNX Runtime), then the
# PyTorch reference cases through tools/refcheck.sh, then the packaging check (tools/packcheck.sh). Ends with one
# line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
passed=0; failed=0
log=$(mktemp); trap 'rm -f "$log"' EXIT

count() { # $1 = label; reads the xunit v3 summary line "Total: N, Errors: E, Failed: F, Skipped: S, Not Run: R"
  local line t e f s p
  line=$(grep -E 'Total: [0-9]+, Errors: [0-9]+, Failed: [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then echo "[$1] no test summary (crash or build failure)"; tail -20 "$log"; failed=$((failed + 1)); return; fi
  t=$(echo "$line" | sed -E 's/.*Total: ([0-9]+).*/\1/'); e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
  f=$(echo "$line" | sed -E 's/.*Failed: ([0-9]+).*/\1/'); s=$(echo "$line" | sed -E 's/.*Skipped: ([0-9]+).*/\1/')
  p=$((t - e - f - s))
  echo "[$1] $p passed, $((f + e)) failed, $s skipped"
  passed=$((passed + p)); failed=$((failed + f + e))
}

dotnet build tests/FlexNet.Tests -c Release -nologo -v q >/dev/null || { echo "test build failed"; echo "0 passed, 1 failed"; exit 1; }
exe=tests/FlexNet.Tests/bin/Release/net10.0/FlexNet.Tests

"$exe" -noColor -noLogo >"$log" 2>&1; grep -A12 -E '\[FAIL\]' "$log" | head -300; count "all tests"

# On an AVX-512 CPU, the whole suite again without it: CI runs on AVX2-only CPUs too, and a test that holds only for
# the 512-bit kernels' rounding (a bit-exact comparison across two kernels) must fail here first (~2 min).
if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then
  DOTNET_EnableAVX512=0 "$exe" -noColor -noLogo >"$log" 2>&1; grep -A12 -E '\[FAIL\]' "$log" | head -300; count "all tests, DOTNET_EnableAVX512=0"
fi

for env in DOTNET_EnableAVX512=0 DOTNET_EnableAVX2=0 DOTNET_EnableHWIntrinsic=0; do
  env "$env" "$exe" -noColor -noLogo -trait "Category=Kernels" >"$log" 2>&1
  grep -A12 -E '\[FAIL\]' "$log" | head -100; count "kernels, $env"
done

# The ONNX export tests (their own executable: only they depend on ONNX Runtime's native library).
if dotnet build tests/FlexNet.Onnx.Tests -c Release -nologo -v q >/dev/null; then
  tests/FlexNet.Onnx.Tests/bin/Release/net10.0/FlexNet.Onnx.Tests -noColor -noLogo >"$log" 2>&1
  grep -A12 -E '\[FAIL\]' "$log" | head -100; count "onnx export"
else
  echo "[onnx export] build failed"; failed=$((failed + 1))
fi

if bash tools/refcheck.sh testdata/reference >"$log" 2>&1; then :; fi
cat "$log" | tail -40
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -n "$line" ]; then
  rp=$(echo "$line" | awk '{print $1}'); rf=$(echo "$line" | awk '{print $3}')
  passed=$((passed + rp)); failed=$((failed + rf))
else
  echo "[refcheck] no summary"; failed=$((failed + 1))
fi

# Packaging: exactly the library and the tool package, with their metadata; the tool installs and runs (~30 s).
if bash tools/packcheck.sh >"$log" 2>&1; then :; fi
grep -E '^FAIL' -A20 "$log" | head -40
line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
if [ -n "$line" ]; then
  echo "[packaging] $line"
  passed=$((passed + $(echo "$line" | awk '{print $1}'))); failed=$((failed + $(echo "$line" | awk '{print $3}')))
else
  tail -20 "$log"; echo "[packaging] no summary"; failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
