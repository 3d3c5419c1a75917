#!/usr/bin/env bash
# Puts the built command on PATH: a link DIR/tensordiff -> build/tensordiff (DIR defaults to
# /usr/local/bin; sudo when DIR is not writable and we are not root). A link follows rebuilds,
# and the command finds its HDF5 helper beside the file it links to. Something else already at
# DIR/tensordiff (a pip-installed command, a copy) is left alone, with a message.
# Usage: scripts/install-command.sh [DIR]   (TENSORDIFF_BIN: another build's command)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/usr/local/bin}
bin=$(realpath -m "${TENSORDIFF_BIN:-build/tensordiff}")
link=$dir/tensordiff
if [[ ! -x $bin ]]; then
  echo "install-command: $bin is not built (scripts/build.sh builds it)" >&2
  exit 2
fi
if [[ -e $link && ! -L $link ]]; then
  echo "install-command: $link is not a link to a build; left alone (this build's command: $bin)"
  exit 0
fi
sudo=""
if [[ $(id -u) -ne 0 && ! -w $dir ]]; then
  if ! command -v sudo >/dev/null; then
    echo "install-command: cannot write $dir; put the command on PATH yourself: ln -s $bin ~/.local/bin/tensordiff"
    exit 0
  fi
  sudo=sudo
fi
$sudo mkdir -p "$dir"
$sudo ln -sfn "$bin" "$link"
echo "install-command: $link -> $bin"
case ":$PATH:" in
  *":$dir:"*) ;;
  *) echo "install-command: $dir is not on PATH here: export PATH=\"$dir:\$PATH\"" ;;
esac
