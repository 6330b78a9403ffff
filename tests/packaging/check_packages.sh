#!/usr/bin/env bash
# Checks on the packages cpack makes (see CMakeLists.txt here). Exit 0 pass, 1 fail, 77 skip.
#   check_packages.sh cpack CPACK BUILD OUT     make DEB + TGZ from BUILD into OUT (fresh)
#   check_packages.sh contents|tarball|lintian|metadata|cleanroot OUT SOURCE BUILD SHARED [CLI]
#     (CLI: the build tree's llamadesk-cli, whose output the unpacked tarball's must match)
# Environment (from CMake): PKG_GUI, PKG_CUDA, PKG_VULKAN = 1 when that part was built.
set -uo pipefail

fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
skip() { echo "SKIP: $*"; exit 77; }
finish() { if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi; echo "all checks passed"; exit 0; }

mode=$1
shift
if [ "$mode" = cpack ]; then
  cpack=$1 build=$2 out=$3
  rm -rf "$out" && mkdir -p "$out" || exit 1
  cd "$build" && "$cpack" --config "$build/CPackConfig.cmake" -G "DEB;TGZ" -B "$out" || exit 1
  ls -l "$out"/*.deb "$out"/*.tar.gz
  exit 0
fi

out=$1 src=$2 build=$3
shared=${LLAMADESK_SHARED_DIR:-$4}
build_cli=${5:-$build/app/cli/llamadesk-cli}
app_id=io.github.llamadesk.LlamaDesk
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
main_deb=$(ls "$out"/llamadesk_*_"$arch".deb 2>/dev/null | head -1)
cuda_deb=$(ls "$out"/llamadesk-cuda_*_"$arch".deb 2>/dev/null | head -1)
tarball=$(ls "$out"/llamadesk-*-linux-*.tar.gz 2>/dev/null | head -1)
[ -f "$main_deb" ] || { echo "FAIL: no llamadesk_*_$arch.deb in $out"; exit 1; }

# What the main package must hold, relative to the install prefix.
expected=(bin/llamadesk-cli share/man/man1/llamadesk-cli.1.gz
  share/doc/llamadesk/copyright share/doc/llamadesk/changelog.Debian.gz)
if [ "${PKG_GUI:-1}" = 1 ]; then
  expected+=(bin/llamadesk share/man/man1/llamadesk.1.gz
    share/applications/$app_id.desktop share/metainfo/$app_id.metainfo.xml
    share/icons/hicolor/scalable/apps/$app_id.svg)
  for s in 16 24 32 48 64 128 256 512; do expected+=(share/icons/hicolor/${s}x$s/apps/$app_id.png); done
fi
# Shaders are SPIR-V inside the engine, QML and the model catalog are Qt resources: none of them
# may appear as files, and nothing may point into the build or source tree.
forbidden='(\.spv|\.comp|\.glsl|\.qml|catalog\.json|\.a|\.h|/include/)$'

# deb_list DEB: the package's regular files, one per line, without the leading "./usr/".
deb_list() { dpkg-deb --fsys-tarfile "$1" | tar -t | grep -v '/$' | sed 's|^\./||; s|^usr/||'; }

# expect_files LISTFILE WHAT PATHS...: each path must be in the list.
expect_files() {
  local list=$1 what=$2
  shift 2
  for f in "$@"; do grep -qxF "$f" "$list" || fail "$what lacks $f"; done
}

case $mode in
contents)
  list=$(mktemp)
  trap 'rm -f "$list"' EXIT
  deb_list "$main_deb" >"$list"
  echo "== $(basename "$main_deb"): $(wc -l <"$list") files"
  cat "$list"
  expect_files "$list" "$(basename "$main_deb")" "${expected[@]}"
  grep -E "$forbidden" "$list" | while read -r f; do echo "FAIL: unexpected file $f"; done
  grep -qE "$forbidden" "$list" && fail "files that should be embedded or absent"
  grep -q 'libllamadesk_cuda' "$list" && fail "the CUDA plugin is in the main package"

  # Dependencies: Debian runtime packages only (dpkg-shlibdeps + the QML modules), no tools.
  depends=$(dpkg-deb -f "$main_deb" Depends)
  recommends=$(dpkg-deb -f "$main_deb" Recommends)
  echo "Depends: $depends"
  echo "Recommends: $recommends"
  dep_names=$(echo "$depends" | tr ',|' '\n\n' | sed 's/(.*//; s/ //g' | grep -v '^$')
  need=(libc6 libstdc++6 libsentencepiece0)
  if [ "${PKG_GUI:-1}" = 1 ]; then
    need+=(libqt6core6 libqt6gui6 libqt6qml6 libqt6quickcontrols2-6 libqt6sql6 libqt6sql6-sqlite
      qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
      qml6-module-qtquick-dialogs qml6-module-qtquick-templates qml6-module-qtquick-window
      qml6-module-qtqml-workerscript qml6-module-qt-labs-folderlistmodel
      libqt6svg6  # the buttons' SVG icons: Qt's svg image plugin, which dpkg-shlibdeps cannot see
      libqt6keychain1 libsecret-1-0)  # API keys in the keyring: QtKeychain dlopens libsecret
  fi
  [ "${PKG_VULKAN:-0}" = 1 ] && need+=(libvulkan1)
  # Here-strings, not `echo | grep -q`: under pipefail, grep -q leaving at its first match can
  # kill the writer with SIGPIPE and fail a check whose answer is yes (seen in the suite).
  for p in "${need[@]}"; do grep -qx -- "$p" <<<"$dep_names" || fail "Depends lacks $p"; done
  bad=$(echo "$dep_names" | grep -E -- '-dev$|^(cmake|ninja-build|gcc.*|g\+\+.*|glslang.*|nvidia.*|.*cuda.*|libcudart.*|build-essential)$')
  [ -z "$bad" ] || fail "Depends has build tools or non-Debian packages: $(echo $bad)"
  [ "${PKG_VULKAN:-0}" = 1 ] && { grep -q mesa-vulkan-drivers <<<"$recommends" || fail "Recommends lacks mesa-vulkan-drivers"; }

  if [ "${PKG_CUDA:-0}" = 1 ]; then
    if [ -f "$cuda_deb" ]; then
      deb_list "$cuda_deb" >"$list"
      echo "== $(basename "$cuda_deb")"
      cat "$list"
      expect_files "$list" "$(basename "$cuda_deb")" lib/llamadesk/libllamadesk_cuda.so
      [ "$(grep -vc '^share/doc/' "$list")" -le 2 ] || fail "llamadesk-cuda holds more than the plugin"
      grep -q '^llamadesk (= ' <<<"$(dpkg-deb -f "$cuda_deb" Depends)" || fail "llamadesk-cuda does not depend on llamadesk"
      # Its libraries: the C/C++ runtime, the NVIDIA driver's libcuda.so.1 and cuBLAS (NVIDIA's
      # CUDA packages; documented in README.md). A shared libcudart would be one more library
      # from outside Debian: it must be linked statically.
      x=$(mktemp -d)
      dpkg-deb -x "$cuda_deb" "$x"
      needed=$(readelf -d "$x"/usr/lib/llamadesk/libllamadesk_cuda.so | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
      # No test code: the one-op test interface lives only in the test build of the plugin
      # (libllamadesk_cuda_test.so, tests/cuda/CMakeLists.txt).
      test_syms=$(nm -D --defined-only "$x"/usr/lib/llamadesk/libllamadesk_cuda.so | grep -E 'ops_for_test|ForTest|TestOps' || true)
      [ -z "$test_syms" ] || fail "libllamadesk_cuda.so exports test entry points: $(echo $test_syms)"
      rm -rf "$x"
      echo "plugin needs: $(echo $needed)"
      for lib in $needed; do
        [[ $lib =~ ^(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|libcublas|libcublasLt)\.so\.[0-9]+$ ||
           $lib =~ ^ld-linux-[a-z0-9_-]+\.so\.[0-9]+$ ]] ||
          fail "libllamadesk_cuda.so needs $lib (not the C/C++ runtime, the driver or cuBLAS)"
      done
    else
      fail "the CUDA plugin was built but there is no llamadesk-cuda_*.deb"
    fi
  elif [ -n "$cuda_deb" ]; then
    fail "llamadesk-cuda package without a CUDA build"
  fi
  finish
  ;;

tarball)
  # Relocatable: unpacked anywhere, the binaries run and give the build tree's answer.
  [ -f "$tarball" ] || { echo "FAIL: no llamadesk-*-linux-*.tar.gz in $out"; exit 1; }
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  tar -xzf "$tarball" -C "$dir" || exit 1
  top=$(ls -d "$dir"/*/ | head -1)
  (cd "$top" && find . -type f | sed 's|^\./||' | sort) >"$dir/list"
  echo "== $(basename "$tarball"): $(wc -l <"$dir/list") files"
  expect_files "$dir/list" "$(basename "$tarball")" "${expected[@]}"
  [ "${PKG_CUDA:-0}" = 1 ] && expect_files "$dir/list" "$(basename "$tarball")" lib/llamadesk/libllamadesk_cuda.so
  grep -E "$forbidden" "$dir/list" && fail "files that should be embedded or absent"
  for b in "$top"bin/*; do
    # A compiled-in build-tree path (a resource or plugin fallback) would be looked up on the
    # user's machine too.
    if grep -qaF "$build" "$b"; then
      fail "$(basename "$b") names the build tree: $(strings -a "$b" | grep -F "$build" | head -3 | tr '\n' ' ')"
    fi
    if grep -qE 'RPATH|RUNPATH' <<<"$(readelf -d "$b")"; then fail "$(basename "$b") has an RPATH"; fi
  done
  if [ "${PKG_GUI:-1}" = 1 ]; then
    v=$(cd / && "$top"bin/llamadesk --version) || fail "llamadesk --version failed"
    echo "$v"
    [[ $v == "llamadesk "* ]] || fail "llamadesk --version printed '$v'"
  fi
  model=$shared/models/stories260K.gguf
  if [ -f "$model" ]; then
    args=(generate -m "$model" -p "Once upon a time" -n 24 --temp 0 --backend cpu)
    got=$(cd / && "$top"bin/llamadesk-cli "${args[@]}" 2>/dev/null) || fail "unpacked llamadesk-cli generate failed"
    want=$("$build_cli" "${args[@]}" 2>/dev/null)
    echo "unpacked: $got"
    [ -n "$got" ] && [ "$got" = "$want" ] || fail "unpacked CLI wrote '$got', the build tree's '$want'"
  else
    echo "note: no $model, generate not run"
  fi
  finish
  ;;

lintian)
  command -v lintian >/dev/null || skip "lintian not installed (packaging/setup-debian.sh --test)"
  debs=("$main_deb")
  [ -f "$cuda_deb" ] && debs+=("$cuda_deb")
  # Warnings (missing homepage, hardening flags, ...) are printed; errors fail.
  lintian --allow-root --no-tag-display-limit --fail-on error "${debs[@]}"
  rc=$?
  [ $rc -eq 0 ] || fail "lintian reported errors (exit $rc)"
  finish
  ;;

metadata)
  have=0
  if command -v desktop-file-validate >/dev/null; then
    have=1
    desktop-file-validate "$src/resources/$app_id.desktop" || fail "desktop-file-validate"
  fi
  if command -v appstreamcli >/dev/null; then
    have=1
    appstreamcli validate --no-net "$src/resources/$app_id.metainfo.xml" || fail "appstreamcli validate"
  fi
  [ $have = 1 ] || skip "neither desktop-file-validate nor appstreamcli installed"
  finish
  ;;

cleanroot)
  [ "${LLAMADESK_CLEANROOT:-0}" = 1 ] || skip "set LLAMADESK_CLEANROOT=1 to debootstrap Debian 12 and install the .deb (minutes, network, root)"
  LLAMADESK_SHARED_DIR=$shared "$src/packaging/cleanroot-check.sh" "$main_deb"
  ;;

*)
  echo "unknown check $mode"
  exit 1
  ;;
esac
