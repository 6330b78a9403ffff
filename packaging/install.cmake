# What `cmake --install` (and so every package) puts next to the two executables: desktop
# integration, manual pages, Debian documentation and the optional CUDA plugin. Included from
# packaging/cpack.cmake after every target exists, so `if(TARGET ...)` sees them all.
#
# Components: `llamadesk` is the main package; `cuda` holds only the CUDA plugin, so the main
# package never depends on anything outside Debian.
set(LLAMADESK_APP_ID io.github.llamadesk.LlamaDesk)
set(LLAMADESK_DOC_DIR share/doc/llamadesk)
set(_res ${CMAKE_SOURCE_DIR}/resources)
set(_pkg ${CMAKE_SOURCE_DIR}/packaging)
set(_gz ${CMAKE_BINARY_DIR}/packaging/gz)

# Debian wants manual pages and the changelog gzip-compressed with no timestamp (gzip -n), so
# builds of the same sources give the same package.
function(ld_gzip src out)
  get_filename_component(dir ${out} DIRECTORY)
  file(MAKE_DIRECTORY ${dir})
  execute_process(COMMAND gzip -9nc ${src} OUTPUT_FILE ${out} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "gzip ${src} failed (${rc})")
  endif()
  set_property(DIRECTORY ${CMAKE_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${src})
endfunction()

if(TARGET llamadesk)
  install(FILES ${_res}/${LLAMADESK_APP_ID}.desktop DESTINATION share/applications COMPONENT llamadesk)
  install(FILES ${_res}/${LLAMADESK_APP_ID}.metainfo.xml DESTINATION share/metainfo COMPONENT llamadesk)
  install(FILES ${_res}/icons/llamadesk.svg DESTINATION share/icons/hicolor/scalable/apps
          RENAME ${LLAMADESK_APP_ID}.svg COMPONENT llamadesk)
  # The PNGs are rendered from llamadesk.svg (rsvg-convert -w N -h N) and committed, so building
  # needs no SVG renderer.
  foreach(size 16 24 32 48 64 128 256 512)
    install(FILES ${_res}/icons/png/llamadesk-${size}.png DESTINATION share/icons/hicolor/${size}x${size}/apps
            RENAME ${LLAMADESK_APP_ID}.png COMPONENT llamadesk)
  endforeach()
  ld_gzip(${_pkg}/man/llamadesk.1 ${_gz}/llamadesk.1.gz)
  install(FILES ${_gz}/llamadesk.1.gz DESTINATION share/man/man1 COMPONENT llamadesk)
endif()

ld_gzip(${_pkg}/man/llamadesk-cli.1 ${_gz}/llamadesk-cli.1.gz)
install(FILES ${_gz}/llamadesk-cli.1.gz DESTINATION share/man/man1 COMPONENT llamadesk)
ld_gzip(${_pkg}/debian/changelog ${_gz}/changelog.Debian.gz)
install(FILES ${_pkg}/debian/copyright ${_gz}/changelog.Debian.gz DESTINATION ${LLAMADESK_DOC_DIR}
        COMPONENT llamadesk)

# The CUDA backend is a plugin the engine loads from <exe dir>/../lib/llamadesk only when it is
# there and CUDA works, so it ships on its own (package llamadesk-cuda).
if(TARGET llamadesk_cuda)
  install(TARGETS llamadesk_cuda LIBRARY DESTINATION lib/llamadesk COMPONENT cuda)
  # Debian wants a copyright file and changelog in every package's own doc folder.
  install(FILES ${_pkg}/debian/copyright ${_gz}/changelog.Debian.gz DESTINATION share/doc/llamadesk-cuda
          COMPONENT cuda)
  set(LLAMADESK_PACKAGE_CUDA ON)
else()
  set(LLAMADESK_PACKAGE_CUDA OFF)
endif()
