#!/usr/bin/env bash
# Clean-root check: does the .deb install and run on a bare Debian 12 with nothing but apt?
#
#   sudo packaging/cleanroot-check.sh build/packages            # folder with llamadesk_*.deb
#   sudo packaging/cleanroot-check.sh llamadesk_0.1.0-1_amd64.deb
#
# It debootstraps a minimal bookworm into a fresh folder, installs the package there with apt
# (Depends only, no Recommends, so a missing dependency shows), and inside it runs
#   llamadesk --version, llamadesk-cli generate on stories260K (bind-mounted in, read-only), and
#   llamadesk itself for 15 s under offscreen Qt (the QML must load: every QML module it imports
#   has to come from the package's dependencies).
# The build and source trees are not visible inside, so anything looked up there fails.
# Needs root, debootstrap and the network to deb.debian.org; takes minutes (most of it apt).
# Environment: LLAMADESK_SHARED_DIR (test data, default ../shared next to the checkout),
# DEBIAN_MIRROR (default http://deb.debian.org/debian), KEEP_ROOT=1 keeps the folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
shared=${LLAMADESK_SHARED_DIR:-$here/../../shared}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
model=$shared/models/stories260K.gguf

die() { echo "cleanroot: $*" >&2; exit 1; }
[ $# -ge 1 ] || die "usage: $0 PACKAGE_DIR | FILE.deb..."
[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || die "needs debootstrap (apt-get install debootstrap)"
[ -f "$model" ] || die "no $model (set LLAMADESK_SHARED_DIR)"

debs=()
for a in "$@"; do
  if [ -d "$a" ]; then
    # The main package only: llamadesk-cuda needs an NVIDIA driver this root does not have.
    for f in "$a"/llamadesk_*.deb; do [ -f "$f" ] && debs+=("$(cd "$(dirname "$f")" && pwd)/$(basename "$f")"); done
  else
    debs+=("$(cd "$(dirname "$a")" && pwd)/$(basename "$a")")
  fi
done
[ ${#debs[@]} -ge 1 ] || die "no llamadesk_*.deb in $*"

root=$(mktemp -d /var/tmp/llamadesk-cleanroot.XXXXXX)
mounted=()
cleanup() {
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || true; done
  # Never rm -rf while the models (or anything else) are still mounted inside.
  if grep -qF " $root/" /proc/self/mounts; then
    echo "cleanroot: $root still has mounts, not deleted:" >&2; grep -F " $root/" /proc/self/mounts >&2
  elif [ "${KEEP_ROOT:-0}" = 1 ]; then echo "cleanroot: kept $root"
  else rm -rf --one-file-system "$root"; fi
}
trap cleanup EXIT
step() { printf '\n== %s (%ds)\n' "$*" "$SECONDS"; }

step "debootstrap bookworm (minbase) into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
  { tail -20 "$root.debootstrap.log"; die "debootstrap failed"; }
rm -f "$root.debootstrap.log"
cat >"$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb http://security.debian.org/debian-security bookworm-security main
EOF

mkdir -p "$root/mnt/models" "$root/tmp/debs" "$root/tmp/home" "$root/tmp/runtime"
chmod 700 "$root/tmp/runtime"
mount -t proc proc "$root/proc" && mounted+=("$root/proc")
mount -t sysfs sysfs "$root/sys" && mounted+=("$root/sys")
mount --bind "$shared/models" "$root/mnt/models" && mounted+=("$root/mnt/models")
mount -o remount,bind,ro "$root/mnt/models"
cp "${debs[@]}" "$root/tmp/debs/"
before=$(chroot "$root" dpkg-query -W -f='.\n' | wc -l)

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp/home LANG=C.UTF-8 "$@"; }
# No /dev/pts and no _apt user sandbox in a bare chroot: tell apt so instead of warning.
apt_in_root() { in_root env DEBIAN_FRONTEND=noninteractive apt-get -q -o Dpkg::Use-Pty=0 -o APT::Sandbox::User=root "$@"; }

step "apt-get install ${debs[*]##*/}"
apt_in_root update >/dev/null
apt_in_root install -y --no-install-recommends \
  $(printf '/tmp/debs/%s ' "${debs[@]##*/}") | tail -3
after=$(chroot "$root" dpkg-query -W -f='.\n' | wc -l)
echo "packages: $before in the minimal root, $after after installing ($((after - before)) pulled in)"
in_root dpkg-query -W -f='${Installed-Size} KiB  ${Package} ${Version}\n' 'llamadesk*'

step "llamadesk --version (offscreen Qt)"
version=$(in_root env QT_QPA_PLATFORM=offscreen llamadesk --version)
echo "$version"
[[ $version == "llamadesk "* ]] || die "unexpected --version output"

step "llamadesk-cli generate on stories260K"
out=$(in_root llamadesk-cli generate -m /mnt/models/stories260K.gguf -p "Once upon a time" -n 32 \
  --temp 0 --backend cpu 2>"$root/tmp/gen.err") || { cat "$root/tmp/gen.err"; die "generate failed"; }
cat "$root/tmp/gen.err"
echo "output: $out"
[ -n "$out" ] || die "generate wrote nothing"

step "llamadesk with the model for 15 s (offscreen, software Qt Quick)"
rc=0
in_root env QT_QPA_PLATFORM=offscreen QT_QUICK_BACKEND=software XDG_RUNTIME_DIR=/tmp/runtime \
  timeout 15 llamadesk --model /mnt/models/stories260K.gguf >"$root/tmp/gui.log" 2>&1 || rc=$?
cat "$root/tmp/gui.log"
if grep -qE 'is not installed|could not be loaded|module ".*" plugin|Cannot load library' "$root/tmp/gui.log"; then
  die "the app could not load its interface"
fi
[ "$rc" -eq 124 ] || die "llamadesk exited with $rc before the 15 s were up"
[ -s "$root/tmp/home/.local/share/llamadesk/history.db" ] || die "no history database was created"

step "apt-get purge llamadesk"
apt_in_root purge -y llamadesk | tail -1
left=$(in_root sh -c 'ls /usr/bin/llamadesk* /usr/share/doc/llamadesk /usr/share/applications/io.github.llamadesk.* 2>/dev/null' || true)
[ -z "$left" ] || die "left after purge: $left"
echo "user data kept: $(in_root sh -c 'cd /tmp/home && find .local .config -type f 2>/dev/null | sort | tr "\n" " "')"
echo "  and $(in_root sh -c 'find /tmp/home/.cache -type f 2>/dev/null | wc -l') cache files under $(in_root sh -c 'ls -d /tmp/home/.cache/* 2>/dev/null | tr "\n" " "')"

step "clean-root check passed"
