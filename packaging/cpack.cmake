# Packages: `cpack -G DEB` (Debian 12) and `cpack -G TGZ` (a relocatable tree: bin/, lib/llamadesk/,
# share/). Included once at the end of the top-level CMakeLists.txt.
#
#   cmake --build build && (cd build && cpack -G "DEB;TGZ")
#
# The DEB generator makes one package per component: llamadesk (the app, the CLI and desktop
# integration; depends only on Debian packages) and, when the CUDA plugin was built,
# llamadesk-cuda. The tarball holds everything.
include(${CMAKE_CURRENT_LIST_DIR}/install.cmake)

set(LLAMADESK_MAINTAINER "LlamaDesk maintainers <maintainers@users.noreply.r-seed-966c38a8.example>")
set(LLAMADESK_DEB_RELEASE 1)

# The changelog's newest entry must name the version being packaged (lintian checks it).
file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/debian/changelog _top LIMIT_COUNT 1)
if(NOT _top MATCHES "^llamadesk \\(${PROJECT_VERSION}-${LLAMADESK_DEB_RELEASE}\\)")
  message(WARNING "packaging/debian/changelog does not start with version "
                  "${PROJECT_VERSION}-${LLAMADESK_DEB_RELEASE}: add an entry before packaging")
endif()

set(CPACK_PACKAGE_NAME llamadesk)
set(CPACK_PACKAGE_VENDOR "LlamaDesk")
set(CPACK_PACKAGE_CONTACT "${LLAMADESK_MAINTAINER}")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# No CPACK_PACKAGE_DESCRIPTION_SUMMARY: CPackDeb would prepend it to every component's
# description; each *_DESCRIPTION below starts with its own synopsis line instead.
set(CPACK_PACKAGE_FILE_NAME "llamadesk-${PROJECT_VERSION}-linux-${CMAKE_SYSTEM_PROCESSOR}")
set(CPACK_STRIP_FILES ON)
set(CPACK_GENERATOR "DEB;TGZ")
# Packages land in <build>/packages unless `cpack -B` says otherwise.
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)

set(CPACK_COMPONENTS_ALL llamadesk)
if(LLAMADESK_PACKAGE_CUDA)
  list(APPEND CPACK_COMPONENTS_ALL cuda)
endif()
set(CPACK_ARCHIVE_COMPONENT_INSTALL OFF)  # one tarball with every component
set(CPACK_DEB_COMPONENT_INSTALL ON)

# --- Debian -------------------------------------------------------------------------------------
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>-<release>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE ${LLAMADESK_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${LLAMADESK_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)  # dpkg-shlibdeps (dpkg-dev) computes the library packages

set(CPACK_DEBIAN_LLAMADESK_PACKAGE_NAME llamadesk)
set(CPACK_DEBIAN_LLAMADESK_DESCRIPTION "chat with Llama models on your own machine
LlamaDesk runs quantized Llama 3.1 and 3.2 models (GGUF) locally, on its own
inference engine with CPU (AVX2, AVX-512) and Vulkan backends, and keeps every
conversation in a local SQLite history. It summarizes dropped documents (text,
Markdown, HTML, PDF, DOCX, ODT) and downloads models from a built-in catalog.
.
This package contains the llamadesk desktop app and the llamadesk-cli tool.")
# What dpkg-shlibdeps cannot see: QML modules and Qt plugins are loaded by name at run time.
# Keep in step with the imports in ui/qml/*.qml, the SQLite driver the history uses and the svg
# image plugin that draws the buttons' icons (resources/icons/ui).
set(_qml_deps
  qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript
  qml6-module-qtquick qml6-module-qtquick-window qml6-module-qtquick-templates
  qml6-module-qtquick-controls qml6-module-qtquick-layouts qml6-module-qtquick-dialogs
  qml6-module-qt-labs-folderlistmodel libqt6sql6-sqlite libqt6svg6
  # QtKeychain reaches the desktop keyring (Secret Service) through libsecret, which it dlopens.
  libsecret-1-0)
if(NOT TARGET llamadesk)
  set(_qml_deps "")  # engine-only build: the CLI needs no QML
endif()
list(JOIN _qml_deps ", " CPACK_DEBIAN_LLAMADESK_PACKAGE_DEPENDS)
set(CPACK_DEBIAN_LLAMADESK_PACKAGE_RECOMMENDS "mesa-vulkan-drivers, ca-certificates")
set(CPACK_DEBIAN_LLAMADESK_PACKAGE_SUGGESTS "qt6-wayland")

# The CUDA plugin links the CUDA runtime statically and needs the NVIDIA driver's libcuda.so.1
# and cuBLAS from NVIDIA's CUDA packages; none is a Debian main package, so dpkg-shlibdeps
# would fail on it. README.md says what to install.
set(CPACK_DEBIAN_CUDA_PACKAGE_NAME llamadesk-cuda)
set(CPACK_DEBIAN_CUDA_PACKAGE_SHLIBDEPS OFF)
set(CPACK_DEBIAN_CUDA_PACKAGE_DEPENDS
    "llamadesk (= ${PROJECT_VERSION}-${LLAMADESK_DEB_RELEASE}), libc6, libstdc++6")
set(CPACK_DEBIAN_CUDA_DESCRIPTION "CUDA backend plugin for LlamaDesk
The llamadesk app and llamadesk-cli load this plugin when an NVIDIA GPU, its
driver (libcuda.so.1) and cuBLAS of the CUDA version it was built with (from
NVIDIA's CUDA packages) are present, and fall back to Vulkan or the CPU
otherwise.")

include(CPack)
