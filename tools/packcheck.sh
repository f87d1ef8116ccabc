#!/usr/bin/env bash
# Packaging check, run by tools/test.sh after the test build (so the two packable projects are built in Release):
#  1. of the solution's projects exactly src/FlexNet and src/FlexNet.Cli are packable (what `dotnet pack` makes);
#  2. their packages carry the metadata (id, version, licence, readme, description, tags; the tool's package type);
#  3. `dotnet tool install --tool-path` from the folder installs a `flexnet` that prints its version and trains a
#     spec, drawing the history plots (the native drawing library for this platform is in the package).
# Ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1"; failed=$((failed + 1)); }

version=$(dotnet msbuild src/FlexNet/FlexNet.csproj -getProperty:Version 2>/dev/null)
packable=()
for proj in $(grep -oE '"[^"]+\.csproj"' FlexNet.sln | tr -d '"' | tr '\\' '/'); do
  [ "$(dotnet msbuild "$proj" -getProperty:IsPackable 2>/dev/null)" = "true" ] && packable+=("$proj")
done
if [ "${packable[*]}" = "src/FlexNet/FlexNet.csproj src/FlexNet.Cli/FlexNet.Cli.csproj" ]; then ok "packable projects: ${packable[*]}"
else bad "packable projects are '${packable[*]}', expected src/FlexNet and src/FlexNet.Cli"; fi

for proj in src/FlexNet/FlexNet.csproj src/FlexNet.Cli/FlexNet.Cli.csproj; do
  dotnet pack "$proj" -c Release --no-build -o "$tmp/pkgs" -nologo -v q >"$tmp/pack.log" 2>&1 || { cat "$tmp/pack.log"; bad "dotnet pack $proj"; }
done
names=$(cd "$tmp/pkgs" 2>/dev/null && ls | sort | tr '\n' ' ')
if [ "$names" = "FlexNet.$version.nupkg FlexNet.Cli.$version.nupkg " ]; then ok "packages: $names"; else bad "packages are '$names'"; fi

for id in FlexNet FlexNet.Cli; do
  nupkg="$tmp/pkgs/$id.$version.nupkg"
  nuspec=$(python3 -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]).decode("utf-8-sig"))' "$nupkg" "$id.nuspec" 2>/dev/null)
  missing=""
  for want in "<id>$id</id>" "<version>$version</version>" '<license type="expression">MIT</license>' '<readme>README.md</readme>' '<description>' '<tags>'; do
    grep -qF "$want" <<<"$nuspec" || missing="$missing $want"
  done
  [ "$id" = FlexNet.Cli ] && { grep -qF '<packageType name="DotnetTool"' <<<"$nuspec" || missing="$missing DotnetTool"; }
  files=$(python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$nupkg" 2>/dev/null)
  grep -qx README.md <<<"$files" || missing="$missing README.md-file"
  grep -qx LICENSE <<<"$files" || missing="$missing LICENSE-file"
  if [ -z "$missing" ]; then ok "$id metadata"; else bad "$id metadata lacks:$missing"; fi
done

if dotnet tool install --tool-path "$tmp/tools" --add-source "$tmp/pkgs" --ignore-failed-sources --version "$version" FlexNet.Cli >"$tmp/install.log" 2>&1; then
  out=$("$tmp/tools/flexnet" version 2>&1)
  if [ "$out" = "flexnet $version" ]; then ok "installed tool: $out"; else bad "flexnet version printed '$out'"; fi
  if "$tmp/tools/flexnet" train examples/specs/mlp.yaml --epochs 1 --limit 256 --out "$tmp/run/m.flexnet" >"$tmp/train.log" 2>&1 \
     && [ -s "$tmp/run/m.flexnet" ] && head -c 8 "$tmp/run/m.loss.png" | od -An -tx1 | grep -q '89 50 4e 47 0d 0a 1a 0a' && grep -q '<svg' "$tmp/run/m.acc.svg"; then
    ok "installed tool trains and draws the plots"
  else cat "$tmp/train.log"; bad "installed tool: train --out"; fi
else
  cat "$tmp/install.log"; bad "dotnet tool install"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
