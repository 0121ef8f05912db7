#!/usr/bin/env bash
# Installs the Debian packages listed in scripts/debian-packages.txt that are not installed
# yet. Idempotent: with everything present it changes nothing and touches no network.
set -euo pipefail
list="$(dirname "$0")/debian-packages.txt"
want=$(awk '!/^[[:space:]]*#/ && NF {print $1}' "$list")
missing=()
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all Debian packages present"
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "deps: missing ${missing[*]}; install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
