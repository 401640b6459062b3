#!/usr/bin/env bash
# Sets up memaudit on Debian 12 and runs it:
#   bash scripts/setup.sh demo   install what is missing, build into build/, run the demo on 2 ranks
#   bash scripts/setup.sh test   install what is missing, build into build/, run every test through ctest
# As root it installs the missing Debian packages with apt-get; otherwise it prints the one apt-get
# line to run and stops.
set -euo pipefail
mode=${1:-demo}
case "$mode" in demo|test|build) ;; *) echo "usage: bash scripts/setup.sh demo|test|build" >&2; exit 2 ;; esac
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

# The build, the Python that checks results (numpy, h5py, faiss), a single-node Slurm cluster for the
# tests that submit real jobs (slurmctld, slurmd, munge; libpmix-dev for srun --mpi=pmix), a three-host
# one (tests/cluster: iproute2 for ip netns, the bridge, veths and tc netem; util-linux for nsenter and
# unshare), and headless
# Chromium for the test that opens the HTML report; oneDNN for the int8 screening's integer GEMM
# (memaudit builds and passes its tests without it too: `test` checks both builds).
packages=(build-essential cmake pkg-config openmpi-bin libopenmpi-dev libhdf5-openmpi-dev libopenblas-dev
          libturbojpeg0-dev libcmocka-dev libjansson-dev libdnnl-dev python3 python3-numpy python3-h5py python3-faiss
          slurmctld slurmd slurm-client munge libpmix-dev iproute2 util-linux chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "memaudit needs these Debian packages; as root, run:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "== installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

echo "== building into build/"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMEMAUDIT_WERROR=ON -DMEMAUDIT_ONEDNN=ON >/dev/null
cmake --build build -j"$(nproc)"

case "$mode" in
  demo) exec bash scripts/demo.sh ;;
  test)
    # every test on the build with oneDNN; then a build without it (memaudit's own integer GEMM on the
    # vector paths): the unit tests and the MPI tests that exercise the screening and the options
    status=0
    (cd build && ctest --output-on-failure --timeout 900) || status=1
    echo "== building without oneDNN into build-noonednn/"
    cmake -S . -B build-noonednn -DCMAKE_BUILD_TYPE=Release -DMEMAUDIT_WERROR=ON -DMEMAUDIT_ONEDNN=OFF >/dev/null
    cmake --build build-noonednn -j"$(nproc)"
    (cd build-noonednn && ctest --output-on-failure --timeout 900 -L unit) || status=1
    (cd build-noonednn && ctest --output-on-failure --timeout 900 -R "^mpi\.(screen|cli)$") || status=1
    exit $status ;;
  build) ;;
esac
