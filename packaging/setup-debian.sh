#!/usr/bin/env bash
# Installs what LlamaDesk needs to build, run and test on Debian 12 (run as root or with sudo).
#   packaging/setup-debian.sh            build + run dependencies
#   packaging/setup-debian.sh --test     also the test tools (GoogleTest, llama.cpp oracle via npm,
#                                        lintian and friends for the packaging tests)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libsentencepiece-dev libpoppler-qt6-dev libzip-dev
  libcpp-httplib-dev nlohmann-json3-dev
  qtkeychain-qt6-dev libsecret-1-0
  libvulkan-dev glslang-tools mesa-vulkan-drivers
  qt6-base-dev qt6-declarative-dev libqt6sql6-sqlite libqt6svg6
  qml6-module-qtquick qml6-module-qtquick-controls qml6-module-qtquick-layouts
  qml6-module-qtquick-window qml6-module-qtqml-workerscript qml6-module-qtquick-templates
  qml6-module-qtquick-dialogs qml6-module-qt-labs-folderlistmodel qml6-module-qtqml
  qml6-module-qtqml-models
)
if [ "${1:-}" = "--test" ]; then
  PACKAGES+=(libgtest-dev googletest vulkan-validationlayers)
  # Packaging tests (label packaging): lintian and the metadata validators; debootstrap only for
  # the opt-in clean-root check (LLAMADESK_CLEANROOT=1). dpkg-dev (cpack's dpkg-shlibdeps) comes
  # with build-essential.
  PACKAGES+=(dpkg-dev lintian desktop-file-utils appstream debootstrap)
  # The keyring test runs a real Secret Service: gnome-keyring-daemon under dbus-run-session.
  PACKAGES+=(dbus gnome-keyring)
  # node/npm only run the llama.cpp oracle; keep whatever node the machine already has.
  command -v npm >/dev/null || PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
