#!/usr/bin/env bash
# Installs the Debian packages astrotrain needs to build and run, only when some are missing;
# `deps.sh test` adds what the tests use as independent peers (scikit-learn, numpy, h5py,
# h5dump, SciPy, astropy, PyTorch + torchvision, chromium for the page, wrk for load).
# apt-get update first; as root directly, through sudo otherwise.
set -euo pipefail
pkgs=(gcc make pkg-config libopenblas-dev liblapacke-dev libhdf5-dev libpng-dev
      libjpeg62-turbo-dev zlib1g-dev libinih-dev gnuplot-nox
      libmicrohttpd-dev libjansson-dev libcfitsio-dev libopenmpi-dev openmpi-bin)
pkgs+=(libyajl-dev) # issue 12: the callback JSON reader of served rows (Makefile PKGS yajl)
if [ "${1:-}" = test ]; then
    pkgs+=(python3 python3-numpy python3-h5py python3-sklearn hdf5-tools
           python3-scipy python3-astropy python3-torch python3-torchvision chromium wrk)
fi
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "deps: not root and no sudo; install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
